"""The audit trail's entries (docs/design.md §6.4 "Audit"): each changed field, never a token."""

import json
from datetime import UTC, datetime

from zellify_tiktok.access import Caller
from zellify_tiktok.audit import Actor, AuditEntry, TestEventResult, settings_changes
from zellify_tiktok.campaign import CampaignSettings

TOKEN = "tt-secret-token-0123456789abcdef"
CALLER = Caller("sub-1", "jane@agency.example", "console", ("agency-acme",), is_admin=False, source_ip="203.0.113.9")
AT = datetime(2026, 12, 6, 19, 52, 7, 123456, tzinfo=UTC)


def campaign(**fields) -> CampaignSettings:
    return CampaignSettings(**{"campaign_id": "cmp", "pixel_id": "C4ABCDEF0123456789AB", **fields})


def test_a_changed_field_is_listed_with_its_old_and_new_values():
    old = campaign(allowed_origins=("https://a.example",))
    new = campaign(allowed_origins=("https://b.example",))
    assert [c.as_dict() for c in settings_changes(old, new, None)] == [
        {"field": "allowed_origins", "old": ["https://a.example"], "new": ["https://b.example"]}]


def test_unchanged_fields_are_not_listed():
    assert settings_changes(campaign(enabled=False), campaign(enabled=False), None) == ()


def test_a_created_campaign_lists_what_it_was_given():
    fields = {c.field: (c.old, c.new) for c in settings_changes(None, campaign(access=("agency-acme",)), None)}
    assert fields["pixel_id"] == (None, "C4ABCDEF0123456789AB")
    assert fields["access"] == (None, ["agency-acme"])
    assert "campaign_id" not in fields


def test_a_deleted_campaign_lists_its_old_values():
    fields = {c.field: (c.old, c.new) for c in settings_changes(campaign(), None, "removed")}
    assert fields["pixel_id"] == ("C4ABCDEF0123456789AB", None)
    assert fields["access_token"] == (None, "removed")


def test_a_replaced_token_shows_replaced_and_the_new_last_four_never_the_token():
    new = campaign(has_token=True, access_token_last4=TOKEN[-4:])
    (change,) = [c for c in settings_changes(campaign(), new, "replaced") if c.field == "access_token"]
    assert change.as_dict() == {"field": "access_token", "old": None, "new": "replaced", "new_last4": "cdef"}


def test_a_removed_token_has_no_last_four():
    (change,) = settings_changes(campaign(has_token=True), campaign(), "removed")
    assert change.as_dict() == {"field": "access_token", "old": None, "new": "removed", "new_last4": None}


def test_an_entry_has_the_documented_json_shape():
    entry = AuditEntry(at=AT, action="updated", actor=Actor.of(CALLER), source_ip=CALLER.source_ip,
                       changes=settings_changes(campaign(enabled=True), campaign(enabled=False), None))
    assert entry.as_dict() == {
        "at": "2026-12-06T19:52:07.123Z", "action": "updated",
        "actor": {"sub": "sub-1", "email": "jane@agency.example", "client_id": "console", "groups": ["agency-acme"]},
        "source_ip": "203.0.113.9",
        "changes": [{"field": "enabled", "old": True, "new": False}],
    }


def test_a_test_event_entry_carries_tiktoks_answer_and_no_changes():
    entry = AuditEntry(at=AT, action="test_event", actor=Actor.of(CALLER), source_ip=None,
                       test_event=TestEventResult(40105, "Access token is invalid"))
    body = entry.as_dict()
    assert body["changes"] == [] and body["test_event"] == {"code": 40105, "message": "Access token is invalid"}


def test_an_entry_reads_back_from_its_json_as_it_was():
    entry = AuditEntry(at=AT, action="created", actor=Actor.of(CALLER), source_ip="198.51.100.1",
                       changes=settings_changes(None, campaign(has_token=True, access_token_last4="cdef"), "replaced"),
                       test_event=None)
    again = AuditEntry.from_json(entry.to_json())
    assert again.as_dict() == entry.as_dict()
    assert TOKEN not in entry.to_json() and json.loads(entry.to_json()) == entry.as_dict()
