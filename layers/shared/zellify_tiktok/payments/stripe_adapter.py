"""Stripe's adapter: the `Stripe-Signature` check (with the `stripe` library) and stripe_mapping's rules."""

import time
from collections.abc import Mapping
from typing import Any

from ..errors import BadRequest
from ..observability import count
from ..repositories.secrets import ProviderSecrets
from ..stripe_mapping import map_event
from .adapter import SIGNATURE_TOLERANCE_S
from .core import Conversion, Ignored, as_dict


def verify_signature(body: bytes, header: str | None, secrets: tuple[str, ...] | list[str],
                     now: float | None = None) -> None:
    """Accept the body when any secret (several during a rotation) matches any `v1` of the header,
    signed within SIGNATURE_TOLERANCE_S of `now` either way.

    The library refuses only stale timestamps; one far in the future would let a captured delivery be
    replayed after the 48 h ledger has forgotten its event (docs/design.md §6.3: 300 s both ways).
    """
    if not header:
        raise BadRequest("the Stripe-Signature header is missing", code="missing_signature")
    invalid = (f"Stripe-Signature does not match the body for any configured signing secret "
               f"within {SIGNATURE_TOLERANCE_S} s")
    # The library compares with hmac.compare_digest (TypeError on non-ASCII text) and decodes the
    # body as UTF-8 (UnicodeDecodeError): neither can be a Stripe signature, so refuse them first.
    if not header.isascii():
        raise BadRequest(invalid, code="invalid_signature", details=[{"message": "header is not ASCII"}])
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(invalid, code="invalid_signature", details=[{"message": "body is not UTF-8"}]) from None
    # Imported here, not at module level: the package is large and slow to import, and only the payment
    # function ships it; the collector imports the layer without it (docs/design.md §2).
    import stripe

    problems: list[str] = []
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(body, header, secret, tolerance=SIGNATURE_TOLERANCE_S)
        except stripe.SignatureVerificationError as exc:
            problems.append(str(exc))  # the library's messages name no secret
            continue
        if _signed_at(header) <= (time.time() if now is None else now) + SIGNATURE_TOLERANCE_S:
            return
        problems.append(f"Timestamp more than {SIGNATURE_TOLERANCE_S} s in the future")
    # Stripe disables an endpoint that keeps refusing its deliveries: template.yaml alarms on this.
    count("StripeSignatureFailures", 1)
    raise BadRequest(invalid, code="invalid_signature",
                     details=[{"message": message} for message in dict.fromkeys(problems)])


def _signed_at(header: str) -> int:
    """The header's `t=` timestamp, read as the library reads it (it has accepted the header)."""
    return int(next(value for key, _, value in (item.partition("=") for item in header.split(",")) if key == "t"))


class StripeAdapter:
    name = "stripe"
    secret_name_field = "stripe_secret_name"

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: ProviderSecrets, now: float) -> bool:
        # Stripe signs both modes alike; test mode is the payload's `livemode` (read by map()).
        verify_signature(body, headers.get("stripe-signature"), secrets.live + secrets.test, now)
        return False

    def map(self, event: Any, headers: Mapping[str, str], test_mode: bool) -> Conversion | Ignored:
        return map_event(event)

    def describe(self, event: Any, headers: Mapping[str, str]) -> dict[str, str]:
        event = as_dict(event)
        return {"provider_event_id": str(event.get("id"))[:64], "provider_event_type": str(event.get("type"))[:64]}
