"""The audit trail's values (docs/design.md §6.4 "Audit"): who changed which campaign field, when, from where.

An entry's JSON (`as_dict`) is what GET /v1/campaigns/{campaign_id}/tiktok/audit answers and what the
console and the CLI read; it is stored as that JSON, so the shape is one thing in one place. A token is
never in it: a change of the token is `replaced` / `removed` and the new token's last four characters.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .access import Caller
from .campaign import CampaignSettings

Action = Literal["created", "updated", "deleted", "test_event"]
TokenChange = Literal["replaced", "removed"]
TOKEN_FIELD = "access_token"
# What a change lists of a campaign: the settings view's fields, less what a PUT does not set itself.
_NOT_CHANGES = frozenset({"campaign_id"})


@dataclass(frozen=True, slots=True)
class Actor:
    sub: str
    email: str | None
    client_id: str | None
    groups: tuple[str, ...]

    @classmethod
    def of(cls, caller: Caller) -> "Actor":
        return cls(caller.sub, caller.email, caller.client_id, caller.groups)

    def as_dict(self) -> dict[str, Any]:
        return {"sub": self.sub, "email": self.email, "client_id": self.client_id, "groups": list(self.groups)}


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    old: Any
    new: Any
    # Only for the token: its new last four characters (None when removed).
    new_last4: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body = {"field": self.field, "old": self.old, "new": self.new}
        if self.field == TOKEN_FIELD:
            body["new_last4"] = self.new_last4
        return body


@dataclass(frozen=True, slots=True)
class TestEventResult:
    """TikTok's answer to a test event: its code and message."""

    __test__ = False  # not a pytest class

    code: int | None
    message: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    action: Action
    actor: Actor
    source_ip: str | None
    changes: tuple[Change, ...] = ()
    test_event: TestEventResult | None = None
    # Distinguishes entries of the same instant; part of the storage key, not of the JSON.
    entry_id: str = field(default="", compare=False)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"at": iso_utc(self.at), "action": self.action, "actor": self.actor.as_dict(),
                                "source_ip": self.source_ip, "changes": [c.as_dict() for c in self.changes]}
        if self.test_event is not None:
            body["test_event"] = {"code": self.test_event.code, "message": self.test_event.message}
        return body

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, text: str, entry_id: str = "") -> "AuditEntry":
        data = json.loads(text)
        actor = data.get("actor") or {}
        test_event = data.get("test_event")
        return cls(
            at=datetime.fromisoformat(data["at"]),
            action=data["action"],
            actor=Actor(str(actor.get("sub", "")), actor.get("email"), actor.get("client_id"),
                        tuple(actor.get("groups") or ())),
            source_ip=data.get("source_ip"),
            changes=tuple(Change(c["field"], c.get("old"), c.get("new"), c.get("new_last4"))
                          for c in data.get("changes") or ()),
            test_event=TestEventResult(test_event.get("code"), str(test_event.get("message", "")))
            if isinstance(test_event, dict) else None,
            entry_id=entry_id,
        )


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC to the millisecond, `Z`-suffixed: sorts as text in time order."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fields(campaign: CampaignSettings | None) -> dict[str, Any]:
    if campaign is None:
        return {}
    return {name: value for name, value in campaign.settings_view().items() if name not in _NOT_CHANGES}


def settings_changes(old: CampaignSettings | None, new: CampaignSettings | None,
                     token: TokenChange | None) -> tuple[Change, ...]:
    """Each field whose value differs between two versions of a campaign (None: none yet / deleted), and the
    token's change, which a caller knows (a PUT that names a token replaces it even with the same value)."""
    before, after = _fields(old), _fields(new)
    changes = [Change(name, before.get(name), after.get(name))
               for name in dict.fromkeys([*before, *after]) if before.get(name) != after.get(name)]
    if token == "replaced":
        changes.append(Change(TOKEN_FIELD, None, "replaced", new.access_token_last4 if new else None))
    elif token == "removed":
        changes.append(Change(TOKEN_FIELD, None, "removed", None))
    return tuple(changes)
