"""The objects a function needs, built once per cold start from the configuration and reused warm."""

from dataclasses import dataclass
from functools import cache

from .config import Config, get_config
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
    config: Config
    campaigns: CampaignsRepository
    secrets: SecretsRepository
    sessions: SessionsRepository
    ledger: SentEventsLedger
    health: HealthRepository
    delivery_queue: MessageQueue
    dead_letter_queue: MessageQueue
    tiktok: TikTokClient
    # The settings function's alone (AUDIT_TABLE); None where the environment names no Audit table.
    audit: AuditRepository | None = None

    @classmethod
    def from_config(cls, config: Config) -> "Runtime":
        return cls(
            config=config,
            campaigns=CampaignsRepository(config.campaigns_table, config.cache_max_age_s),
            secrets=SecretsRepository(config.secret_prefix, config.stripe_secret_name, config.cache_max_age_s),
            sessions=SessionsRepository(config.sessions_table, config.session_ttl_days),
            ledger=SentEventsLedger(config.sent_events_table, config.ledger_ttl_hours),
            health=HealthRepository(config.health_table),
            delivery_queue=MessageQueue(config.delivery_queue_url),
            dead_letter_queue=MessageQueue(config.dead_letter_queue_url),
            tiktok=TikTokClient(
                config.tiktok_api_base,
                connect_timeout=config.tiktok_connect_timeout_s,
                total_timeout=config.tiktok_total_timeout_s,
            ),
            audit=(AuditRepository(config.audit_table, config.audit_retention_days)
                   if config.audit_table else None),
        )


@cache
def get_runtime() -> Runtime:
    return Runtime.from_config(get_config())
