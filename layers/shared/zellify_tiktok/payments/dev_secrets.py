"""The local stack's payment webhook secrets (docs/design.md §8): known to the stack, the demo and the CLI.

Local only: these sign the stand-in webhooks of `make dev`, never a deployed stack's.
"""

DEFAULT_STRIPE = "whsec_dev"
DEFAULT_PADDLE_LIVE = "pdl_dev_live"
DEFAULT_PADDLE_TEST = "pdl_dev_test"
DEFAULT_SOLIDGATE_KEYS: tuple[tuple[str, str], tuple[str, str]] = (
    ("wh_pk_dev_live", "wh_sk_dev_live"), ("wh_pk_dev_test", "wh_sk_dev_test"))


def solidgate_pairs(raw: str | None) -> list[tuple[str, str]]:
    """`pk:sk,pk:sk` (live first, then test) → [(pk, sk), …]; [] when unset or unusable."""
    pairs = []
    for entry in (raw or "").split(","):
        public, sep, secret = entry.strip().partition(":")
        if sep and public and secret:
            pairs.append((public, secret))
    return pairs
