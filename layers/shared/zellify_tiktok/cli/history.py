"""`campaign history CAMPAIGN_ID`: who changed a campaign, what and when (docs/design.md §6.4 "Audit").

The audit route's own answer (services/audit.py `audit_view`), read from the Audit table with the
operator's AWS credentials; `--json` prints exactly that route's answer. A deleted campaign's history
is still shown: the entries outlive it.
"""

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..access import terminal_operator
from ..services.audit import audit_view
from .common import cell, state_of

ACTIONS = {"created": "created", "updated": "changed", "deleted": "deleted", "test_event": "sent a test event"}


def history(
    ctx: typer.Context,
    campaign_id: Annotated[str, typer.Argument(help="The funnel's campaign id.")],
    limit: Annotated[str | None, typer.Option(metavar="N", help="The newest N entries (1-200; default 50).")] = None,
) -> None:
    """Who changed the campaign's settings or sent it a test event, what changed and when, newest first.

    Never a token: a token change shows as replaced (with its new last four characters) or removed.
    Exits 2 for a --limit outside 1-200.
    """
    state = state_of(ctx)
    view = audit_view(campaign_id, limit, state.runtime, caller=terminal_operator())
    state.emit(view, lambda console: render(console, campaign_id, view["entries"]))


def render(console: Console, campaign_id: str, entries: list[dict[str, Any]]) -> None:
    if not entries:
        console.print(f"No recorded change of {cell(campaign_id)}.")
        return
    table = Table("when (UTC)", "who", "from", "what", title=f"History of {cell(campaign_id)}, newest first")
    for entry in entries:
        table.add_row(cell(entry["at"].replace("T", " ")[:19]), cell(who(entry["actor"])), cell(entry["source_ip"]),
                      cell(what(entry)))
    console.print(table)


def who(actor: dict[str, Any]) -> str:
    name = actor.get("email") or actor.get("client_id") or actor.get("sub") or "?"
    groups = actor.get("groups") or []
    return f"{name} ({', '.join(groups)})" if groups else str(name)


def what(entry: dict[str, Any]) -> str:
    """The entry in plain words: the action, then each change as `field: old → new`."""
    action = ACTIONS.get(entry["action"], entry["action"])
    if entry.get("test_event"):
        answer = entry["test_event"]
        return f"{action}: TikTok answered {answer.get('code')} {answer.get('message') or ''}".rstrip()
    lines = [action]
    for change in entry.get("changes") or []:
        if change["field"] == "access_token":
            last4 = f" (…{change['new_last4']})" if change.get("new_last4") else ""
            lines.append(f"access_token {change['new']}{last4}")
        else:
            lines.append(f"{change['field']}: {_value(change['old'])} → {_value(change['new'])}")
    return "\n".join(lines)


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "(none)"
    return str(value)
