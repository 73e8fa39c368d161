"""--local (or ZELLIFY_LOCAL=1): the CLI against a running `make dev`, with nothing exported.

The local stack answers at http://127.0.0.1:$PORT (3000 unless PORT says otherwise) and names its AWS
endpoint (a moto server on a free port) at `GET /_dev/aws`; everything else is known: moto takes any
credentials, the region is the local stack's, the tables, queues and secrets carry the names the CLI
defaults to (common.LOCAL_STACK_NAMES), and TikTok is the stand-in under /_dev/tiktok/.
"""

import json
import os
import urllib.error
import urllib.request

from .errors import EXIT_AWS, CommandFailed

DEFAULT_PORT = "3000"
LOCAL_REGION = "us-east-1"  # local/template.py REGION: the region moto's backends are made in
ASK_TIMEOUT_S = 5.0
# A user's AWS identity would be refused by moto (or, worse, reach AWS): the local stack's replaces it.
_AWS_IDENTITY = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION")


def local_base_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('PORT') or DEFAULT_PORT}"


def aws_endpoint(base_url: str) -> str:
    """The local stack's moto endpoint, as `GET /_dev/aws` names it."""
    try:
        with urllib.request.urlopen(f"{base_url}/_dev/aws", timeout=ASK_TIMEOUT_S) as answer:  # noqa: S310
            endpoint = json.load(answer)["endpoint_url"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise CommandFailed(EXIT_AWS, "local_stack_unreachable",
                            f"no local stack answers at {base_url} ({reason}): start it with `make dev` "
                            "in another terminal (set PORT when it runs on another port)") from None
    if not isinstance(endpoint, str) or not endpoint.startswith("http"):
        raise CommandFailed(EXIT_AWS, "local_stack_unreachable", f"{base_url}/_dev/aws named no AWS endpoint")
    return endpoint


def use_local_stack() -> str:
    """Points this process at the running local stack; answers its base URL."""
    base_url = local_base_url()
    endpoint = aws_endpoint(base_url)
    for name in _AWS_IDENTITY:
        os.environ.pop(name, None)
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",  # moto's server takes any credentials
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": LOCAL_REGION,
    })
    # Where the local stack's own events go, unless the operator named another TikTok (a real one, with a
    # real token and test code: docs/design.md §8).
    os.environ.setdefault("TIKTOK_API_BASE", f"{base_url}/_dev/tiktok/open_api/v1.3")
    return base_url
