"""The operator CLI `zellify-tiktok` (console script in pyproject.toml).

It reuses the layer's services and repositories but needs typer and rich, which the Lambda layer
does not ship: no Lambda code may import this package.
"""

from .main import app, main

__all__ = ["app", "main"]
