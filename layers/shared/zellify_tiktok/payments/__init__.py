"""Payment webhooks (docs/design.md §6.3): one core (`core`, `service`) and one adapter per provider.

An adapter only verifies its provider's signature and maps its events to the core's `Conversion`;
the core holds every rule the providers share. Adding a provider is one adapter module and its tests.
"""
