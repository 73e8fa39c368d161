"""The functions handlers call: one per route."""
