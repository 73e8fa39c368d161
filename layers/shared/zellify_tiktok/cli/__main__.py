"""`python -m zellify_tiktok.cli`, for environments without the console script on PATH."""

from . import main

main()
