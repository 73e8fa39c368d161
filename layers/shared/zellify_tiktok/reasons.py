"""Why events wait in a queue (docs/design.md §11): the `kind` of a queue message's reason."""

from enum import StrEnum


class ReasonKind(StrEnum):
    TRANSIENT = "transient"  # TikTok's answer (40100, 5xxxx, HTTP 429/5xx) or no answer (timeout, reset)
    BUDGET_SPENT = "budget_spent"  # the invocation had no time left for these events
    INFRASTRUCTURE = "infrastructure"  # DynamoDB or Secrets Manager failed before the send
    REFUSED = "refused"  # TikTok refused the events for good: dead-lettered
    NO_TOKEN = "no_token"  # the campaign was deleted or lost its token while the events waited
    RETRIES_EXHAUSTED = "retries_exhausted"  # retried for a day and more without success
    UNREADABLE = "unreadable"  # a message that does not parse: dead-lettered as it came

    @property
    def permanent(self) -> bool:
        return self in (ReasonKind.REFUSED, ReasonKind.NO_TOKEN, ReasonKind.RETRIES_EXHAUSTED,
                        ReasonKind.UNREADABLE)
