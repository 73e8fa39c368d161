"""The environment configuration (`Config`), read once per cold start (docs/design.md §2).

A frozen dataclass filled from os.environ (the upper-case variable of each field, converted to the
field's type): no pydantic on the collector's cold path, where importing it alone costs ~40 ms. The names
of the tables, queues and secrets have no default: a function whose template forgot one refuses to start
(its import fails, naming the variable) instead of answering 503 later.
"""

import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from functools import cache
from typing import Any, get_type_hints


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or malformed."""


@dataclass(frozen=True, slots=True)
class Config:
    campaigns_table: str
    sessions_table: str
    sent_events_table: str
    health_table: str
    delivery_queue_url: str
    dead_letter_queue_url: str
    # One Secrets Manager secret per campaign: f"{secret_prefix}{campaign_id}".
    secret_prefix: str
    stripe_secret_name: str
    # The other payment providers' signing secrets (docs/design.md §6.3); empty: that provider is not set up.
    paddle_secret_name: str = ""
    solidgate_secret_name: str = ""

    tiktok_api_base: str = "https://business-api.tiktok.com/open_api/v1.3"
    tiktok_pixel_sdk_url: str = "https://analytics.tiktok.com/i18n/pixel/events.js"
    # One TikTok call's limits; the DeliveryFunction's own budget is its remaining time less a margin (§7).
    tiktok_connect_timeout_s: float = 1.0
    tiktok_total_timeout_s: float = 3.0

    # Where browsers reach the API; derived from the request when unset.
    public_base_url: str | None = None
    # Behind CloudFront the visitor's address comes in this header ("ip:port"), not in sourceIp, and is
    # trusted only on requests that carry origin_verify_secret in X-Origin-Verify (CloudFront adds it).
    client_ip_header: str = ""
    origin_verify_secret: str = ""

    session_ttl_days: int = 60
    ledger_ttl_hours: int = 48
    first_payment_ttl_days: int = 400
    # Campaign settings and tokens are cached across warm invocations for this long.
    cache_max_age_s: int = 60
    # The DeliveryFunction's first backoff; it doubles per failed delivery up to retry_backoff_cap_s
    # (docs/design.md §7). The local stack shortens it so retries are seen within seconds.
    retry_backoff_base_s: int = 30
    retry_backoff_cap_s: int = 3600
    # Failed deliveries after which the DeliveryFunction dead-letters a message itself (with TikTok's last
    # answer, counted in health): 30 s doubling to 1 h, 32 deliveries take more than 24 h. The DeliveryQueue's
    # redrive policy (maxReceiveCount) sits above it, a last resort only.
    retry_max_receives: int = 32
    # last_delivery is rewritten when TikTok's answer changes, or at most this often.
    last_delivery_refresh_s: int = 60

    # Who may touch a campaign (docs/design.md §6.4): the admin group, and the token claim listing a
    # person's groups. Only the settings function needs them and the Audit table (it refuses to start
    # without AUDIT_TABLE); the others leave them at their defaults.
    admin_group: str = "zellify-admins"
    groups_claim: str = "cognito:groups"
    audit_table: str = ""
    audit_retention_days: int = 400

    @classmethod
    def from_environ(cls, defaults: Mapping[str, str] | None = None) -> "Config":
        """Each field from its upper-case environment variable, else `defaults` (by variable name), else
        the field's default."""
        environ = {**(defaults or {}), **os.environ}
        types = get_type_hints(cls)
        values: dict[str, Any] = {}
        missing, invalid = [], []
        for field in fields(cls):
            name = field.name.upper()
            if name not in environ:
                if field.default is MISSING:
                    missing.append(name)
                continue
            try:
                values[field.name] = _convert(environ[name], types[field.name])
            except ValueError:
                invalid.append(name)
        if missing or invalid:
            parts = ([f"missing environment variable(s): {', '.join(missing)}"] if missing else []) + (
                [f"invalid value(s) for: {', '.join(invalid)}"] if invalid else [])
            raise ConfigurationError("; ".join(parts))
        return cls(**values)


def _convert(text: str, kind: Any) -> Any:
    if kind in (str, str | None):
        return text
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    raise ValueError(f"no conversion to {kind}")


@cache
def get_config() -> Config:
    return Config.from_environ()
