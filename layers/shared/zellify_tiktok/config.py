"""One settings model, read from the environment once per cold start.

A plain pydantic model fed from os.environ (upper-case variable per field): pydantic-settings would
do the same and cost about 60 ms more of every cold start (dotenv, secrets dirs, sources we never use).
"""

import os
from functools import cache

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    campaigns_table: str = "CampaignsTable"
    sessions_table: str = "SessionsTable"
    sent_events_table: str = "SentEventsTable"
    retry_queue_url: str = ""
    dead_letter_queue_url: str = ""
    # One Secrets Manager secret per campaign: f"{secret_prefix}{campaign_id}".
    secret_prefix: str = "zellify-tiktok/campaigns/"
    stripe_secret_name: str = "zellify-tiktok/stripe-webhook"

    tiktok_api_base: str = "https://business-api.tiktok.com/open_api/v1.3"
    tiktok_pixel_sdk_url: str = "https://analytics.tiktok.com/i18n/pixel/events.js"
    # A request-serving function makes one attempt under this budget (DESIGN §7).
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
    # The RetryFunction's first backoff; it doubles per receive up to 15 minutes. The local stack
    # shortens it so retries are seen within seconds.
    retry_backoff_base_s: int = 30
    # last_delivery is rewritten when TikTok's answer changes, or at most this often.
    last_delivery_refresh_s: int = 60


    @classmethod
    def from_environ(cls) -> "Settings":
        """Each field from its upper-case environment variable, types coerced ("3" -> 3.0), else its default."""
        return cls.model_validate(
            {name: os.environ[name.upper()] for name in cls.model_fields if name.upper() in os.environ}
        )


@cache
def get_settings() -> Settings:
    return Settings.from_environ()
