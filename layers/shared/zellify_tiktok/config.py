"""One settings model, read from the environment once per cold start.

A plain pydantic model fed from os.environ (upper-case variable per field): pydantic-settings would
do the same and cost about 60 ms more of every cold start (dotenv, secrets dirs, sources we never use).
The names of the tables, queues and secrets have no default: a function whose template forgot one
refuses to start (its import fails, naming the variable) instead of answering 503 later.
"""

import os
from collections.abc import Mapping
from functools import cache

from pydantic import BaseModel, ConfigDict, ValidationError


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or malformed."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    campaigns_table: str
    sessions_table: str
    sent_events_table: str
    health_table: str
    retry_queue_url: str
    dead_letter_queue_url: str
    # One Secrets Manager secret per campaign: f"{secret_prefix}{campaign_id}".
    secret_prefix: str
    stripe_secret_name: str

    tiktok_api_base: str = "https://business-api.tiktok.com/open_api/v1.3"
    tiktok_pixel_sdk_url: str = "https://analytics.tiktok.com/i18n/pixel/events.js"
    # A request-serving invocation spends at most this long on TikTok in all, splitting included (§7).
    tiktok_connect_timeout_s: float = 1.0
    tiktok_total_timeout_s: float = 3.0

    # Where browsers reach the API; derived from the request when unset.
    public_base_url: str | None = None
    # Behind CloudFront the visitor's address comes in this header ("ip:port"), not in sourceIp. It is
    # trusted only on requests that carry origin_verify_secret in X-Origin-Verify (CloudFront adds it).
    client_ip_header: str = ""
    origin_verify_secret: str = ""

    session_ttl_days: int = 60
    ledger_ttl_hours: int = 48
    first_payment_ttl_days: int = 400
    # Campaign config and tokens are cached across warm invocations for this long.
    cache_max_age_s: int = 60
    # The RetryFunction's first backoff; it doubles per failed delivery up to retry_backoff_cap_s. The
    # local stack shortens it so retries are seen within seconds.
    retry_backoff_base_s: int = 30
    retry_backoff_cap_s: int = 3600
    # The RetryQueue's maxReceiveCount: on its last receive the RetryFunction dead-letters a message
    # itself (with its reason, counted in health) instead of letting SQS move it silently.
    retry_max_receives: int = 32
    # last_delivery is rewritten when TikTok's answer changes, or at most this often.
    last_delivery_refresh_s: int = 60

    @classmethod
    def from_environ(cls, defaults: Mapping[str, str] | None = None) -> "Settings":
        """Each field from its upper-case environment variable, types coerced ("3" -> 3.0), else its default.

        `defaults` (by variable name) stand in for variables the environment does not set.
        """
        environ = {**(defaults or {}), **os.environ}
        values = {name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            missing = [str(e["loc"][0]).upper() for e in exc.errors() if e["type"] == "missing"]
            invalid = [str(e["loc"][0]).upper() for e in exc.errors() if e["type"] != "missing"]
            parts = ([f"missing environment variable(s): {', '.join(missing)}"] if missing else []) + (
                [f"invalid value(s) for: {', '.join(invalid)}"] if invalid else [])
            raise ConfigurationError("; ".join(parts)) from None


@cache
def get_settings() -> Settings:
    return Settings.from_environ()
