"""`status`: what is waiting in the queues, and TikTok's last answer per campaign."""

from datetime import UTC, datetime
from typing import Any

import typer
from botocore.exceptions import ClientError
from rich.console import Console
from rich.table import Table

from ..repositories.queues import DEPTH_ATTRIBUTES, MessageQueue
from ..services.settings import settings_view
from .common import cell, delivery_text, print_warnings, queue_url, state_of
from .errors import EXIT_NOT_FOUND, classify

# (queue name in the local stack, Config field holding a deployed stack's URL)
QUEUES = (("DeliveryQueue", "delivery_queue_url"), ("DeadLetterQueue", "dead_letter_queue_url"))


def status(ctx: typer.Context) -> None:
    """Queue depths (approximate, as SQS counts them) and the last delivery of every campaign.

    Exits 3 when a queue cannot be found (its URL variable is unset or wrong), after showing the rest.
    """
    state = state_of(ctx)
    rt = state.runtime
    queues = {name: _depth(getattr(rt.config, setting), name) for name, setting in QUEUES}
    now = datetime.now(UTC)
    campaigns = []
    for campaign in sorted(rt.campaigns.list(), key=lambda c: c.campaign_id):
        view = settings_view(campaign, now)
        campaigns.append({key: view[key] for key in ("campaign_id", "enabled", "last_delivery", "warnings")})

    def render(console: Console) -> None:
        table = Table("queue", "visible", "in flight", "delayed", title="Queues", title_justify="left")
        for name, depth in queues.items():
            if "error" in depth:
                table.add_row(name, f"[red]{cell(depth['error'])}[/]", "", "")
            else:
                table.add_row(name, *(cell(depth[key]) for key in DEPTH_ATTRIBUTES))
        console.print(table)
        dead = queues["DeadLetterQueue"].get("visible") or 0
        if dead:
            messages = "1 message" if dead == 1 else f"{dead} messages"
            console.print(f"[yellow]![/] {messages} in the DeadLetterQueue: events TikTok refused "
                          "or that failed every retry")
        if not campaigns:
            console.print("No campaigns configured.")
            return
        table = Table(title="Campaigns", title_justify="left")
        # A long campaign id folds onto the next line instead of being cut.
        for header in ("campaign", "enabled", "last delivery"):
            table.add_column(header, overflow="fold")
        for row in campaigns:
            table.add_row(cell(row["campaign_id"]), cell(row["enabled"]), cell(delivery_text(row["last_delivery"])))
        console.print(table)
        for row in campaigns:
            print_warnings(console, row["warnings"], prefix=f"{row['campaign_id']}: ")

    state.emit({"queues": queues, "campaigns": campaigns}, render)
    if any("error" in depth for depth in queues.values()):
        raise typer.Exit(EXIT_NOT_FOUND)


def _depth(configured_url: str, name: str) -> dict[str, Any]:
    """Depth counts, or the error of a queue that is not there (AWS being unreachable still fails the command)."""
    try:
        return MessageQueue(queue_url(configured_url, name)).depth()
    except ClientError as exc:
        exit_code, body = classify(exc)
        if exit_code != EXIT_NOT_FOUND:
            raise
        return {"error": body["error"]["message"]}
