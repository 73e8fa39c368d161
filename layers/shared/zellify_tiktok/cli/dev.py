"""`zellify-tiktok dev webhook`: a realistic payment webhook of Stripe, Paddle or Solidgate, signed with the
local stack's secret and posted to `make dev` (docs/design.md §8), so a payment reaches the Test Events page
without any provider account.

Self-contained: it needs no AWS setting, only the running local stack (`PORT`, default 3000, or `--url`).
The secrets are the local stack's (the same variables and defaults it reads: STRIPE_WEBHOOK_SECRET,
PADDLE_WEBHOOK_SECRET, PADDLE_TEST_WEBHOOK_SECRET, SOLIDGATE_WEBHOOK_KEYS).
"""

import json
import os
import urllib.error
import urllib.request
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated

import typer

from ..payments.dev_secrets import (
    DEFAULT_PADDLE_LIVE,
    DEFAULT_PADDLE_TEST,
    DEFAULT_SOLIDGATE_KEYS,
    DEFAULT_STRIPE,
    solidgate_pairs,
)
from ..payments.samples import KINDS, PROVIDERS, Secrets, SignedWebhook, build
from .common import state_of
from .errors import EXIT_FAILED, EXIT_USAGE, CommandFailed

app = typer.Typer(no_args_is_help=True, help="Local development helpers (against `make dev`).")

ProviderName = StrEnum("ProviderName", {name: name for name in PROVIDERS})  # type: ignore[misc]
KindName = StrEnum("KindName", {name: name for name in KINDS})  # type: ignore[misc]


def local_secrets(environ: dict[str, str] | None = None) -> Secrets:
    env = dict(os.environ) if environ is None else environ
    pairs = solidgate_pairs(env.get("SOLIDGATE_WEBHOOK_KEYS")) or list(DEFAULT_SOLIDGATE_KEYS)
    return Secrets(stripe=env.get("STRIPE_WEBHOOK_SECRET") or DEFAULT_STRIPE,
                   paddle_live=env.get("PADDLE_WEBHOOK_SECRET") or DEFAULT_PADDLE_LIVE,
                   paddle_test=env.get("PADDLE_TEST_WEBHOOK_SECRET") or DEFAULT_PADDLE_TEST,
                   solidgate_live=pairs[0], solidgate_test=pairs[1] if len(pairs) > 1 else pairs[0])


def local_base_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('PORT') or 3000}"


def post(base_url: str, webhook: SignedWebhook, timeout_s: float = 30.0) -> tuple[int, object]:
    """POST the webhook; (HTTP status, parsed answer)."""
    if not base_url.startswith(("http://", "https://")):
        raise CommandFailed(EXIT_USAGE, "invalid_url", f"--url {base_url!r} is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
        base_url.rstrip("/") + webhook.path, data=webhook.body,
                                     headers=webhook.headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (http(s) only)
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as answer:
        status, raw = answer.code, answer.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", errors="replace")


@app.command("webhook")
def webhook(
    ctx: typer.Context,
    provider: Annotated[ProviderName, typer.Argument(help="stripe, paddle or solidgate.")],
    kind: Annotated[KindName, typer.Argument(help="payment, failed, trial, subscribe or renewal.")],
    campaign: Annotated[str, typer.Option(help="The campaign (zellify_campaign_id), e.g. demo.")],
    session: Annotated[str, typer.Option(help="The funnel session (zellify_session_id), as tracker.js knows it.")],
    value: Annotated[str, typer.Option(help="The amount in major units.")] = "9.99",
    currency: Annotated[str, typer.Option(help="ISO 4217 currency.")] = "USD",
    test_mode: Annotated[bool, typer.Option(
        "--test-mode", help="A test-mode event (Stripe livemode false; Paddle/Solidgate test secret).")] = False,
    url: Annotated[str | None, typer.Option(
        help="The local stack's base URL (default http://127.0.0.1:$PORT).")] = None,
) -> None:
    """Post a signed payment webhook to the local stack and print its answer (the event_id for tracker.js too).

    Exits 0 when the stack answers 200, 1 otherwise.
    """
    state = state_of(ctx)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise CommandFailed(EXIT_USAGE, "invalid_value", f"--value {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or len(currency) != 3 or not currency.isalpha():
        raise CommandFailed(EXIT_USAGE, "invalid_value", "--value must be ≥ 0 and --currency three letters")
    signed = build(provider.value, kind.value, campaign_id=campaign, session_id=session, value=amount,
                   currency=currency.upper(), test_mode=test_mode, secrets=local_secrets())
    base = url or local_base_url()
    try:
        status, answer = post(base, signed)
    except (urllib.error.URLError, OSError) as exc:
        raise CommandFailed(EXIT_FAILED, "stack_unreachable",
                            f"no local stack answers at {base} ({exc}); start it with `make dev`") from None
    result = {"http_status": status, "answer": answer, "provider": signed.provider, "kind": signed.kind,
              "event_id": signed.event_id, "funnel_event": signed.funnel_event, "url": base + signed.path}
    state.emit(result, lambda out: out.print(
        f"POST {base}{signed.path} ({provider.value} {kind.value}) → {status}\n"
        f"{json.dumps(answer)}\n"
        f"event_id for tracker.js: {signed.event_id} ({signed.funnel_event})", soft_wrap=True))
    if status != 200:
        raise typer.Exit(EXIT_FAILED)
