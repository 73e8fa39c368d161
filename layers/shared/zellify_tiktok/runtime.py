"""The objects a function needs, built once per cold start from the settings and reused warm."""

from dataclasses import dataclass
from functools import cache

from .config import Settings, get_settings
from .repositories.audit import AuditRepository
from .repositories.campaigns import CampaignsRepository
from .repositories.health import HealthRepository
from .repositories.ledger import SentEventsLedger
from .repositories.queues import MessageQueue
from .repositories.secrets import SecretsRepository
from .repositories.sessions import SessionsRepository
from .tiktok import TikTokClient


@dataclass
class Runtime:
    settings: Settings
    campaigns: CampaignsRepository
    secrets: SecretsRepository
    sessions: SessionsRepository
    ledger: SentEventsLedger
    health: HealthRepository
    retry_queue: MessageQueue
    dead_letter_queue: MessageQueue
    tiktok: TikTokClient
    # The settings function's alone (AUDIT_TABLE); None where the environment names no Audit table.
    audit: AuditRepository | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "Runtime":
        return cls(
            settings=settings,
            campaigns=CampaignsRepository(settings.campaigns_table, settings.cache_max_age_s),
            secrets=SecretsRepository(settings.secret_prefix, settings.stripe_secret_name, settings.cache_max_age_s),
            sessions=SessionsRepository(settings.sessions_table, settings.session_ttl_days),
            ledger=SentEventsLedger(settings.sent_events_table, settings.ledger_ttl_hours),
            health=HealthRepository(settings.health_table),
            retry_queue=MessageQueue(settings.retry_queue_url),
            dead_letter_queue=MessageQueue(settings.dead_letter_queue_url),
            tiktok=TikTokClient(
                settings.tiktok_api_base,
                connect_timeout=settings.tiktok_connect_timeout_s,
                total_timeout=settings.tiktok_total_timeout_s,
            ),
            audit=(AuditRepository(settings.audit_table, settings.audit_retention_days)
                   if settings.audit_table else None),
        )


@cache
def get_runtime() -> Runtime:
    return Runtime.from_settings(get_settings())
