"""`replay`: deliver dead-lettered events again, once their cause is fixed (a new token, TikTok back)."""

import re
from collections import Counter
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..repositories.queues import MessageQueue
from ..services.replay import ReplayFilter, replay_dead_letters
from .common import cell, queue_url, state_of
from .errors import EXIT_FAILED, EXIT_USAGE, CommandFailed

_DURATION = re.compile(r"^(\d+)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    match = _DURATION.match(text.strip())
    if not match:
        raise CommandFailed(EXIT_USAGE, "invalid_duration", f"{option}: a duration like 30m, 6h or 2d")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def replay(
    ctx: typer.Context,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's events.")] = None,
    code: Annotated[int | None, typer.Option(help="Only events parked with this TikTok code or HTTP status.")] = None,
    older_than: Annotated[str | None, typer.Option(
        metavar="AGE", help="Only events queued before AGE ago (30m, 6h, 2d).")] = None,
    newer_than: Annotated[str | None, typer.Option(metavar="AGE", help="Only events queued within AGE.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Look at no more than this many messages.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be replayed; change nothing.")] = False,
) -> None:
    """Deliver dead-lettered events now. Delivered messages leave the DeadLetterQueue; those that fail
    again stay there (transient) or are parked anew with TikTok's new answer. Exits 1 if any failed again."""
    selection = ReplayFilter(campaign_id=campaign, code=code, older_than_s=_seconds(older_than, "--older-than"),
                             newer_than_s=_seconds(newer_than, "--newer-than"))
    state = state_of(ctx)
    rt = state.runtime
    rt.dead_letter_queue = MessageQueue(queue_url(rt.config.dead_letter_queue_url, "DeadLetterQueue"))
    depth = rt.dead_letter_queue.depth()["visible"]
    with state.progress("replaying", total=limit or depth) as advance:
        items = replay_dead_letters(selection, dry_run=dry_run, limit=limit, runtime=rt,
                                    on_progress=lambda n: advance())
    outcomes = Counter(item.outcome for item in items)
    summary: dict[str, Any] = {"dry_run": dry_run, "outcomes": dict(outcomes),
               "events": {o: sum(i.events for i in items if i.outcome == o) for o in outcomes},
               "messages": [asdict(item) for item in items]}

    def render(console: Console) -> None:
        table = Table("outcome", "messages", "events", title="Replay" + (" (dry run)" if dry_run else ""),
                      title_justify="left")
        for outcome, count in sorted(outcomes.items()):
            table.add_row(outcome, str(count), str(summary["events"][outcome]))
        console.print(table if items else "The DeadLetterQueue holds nothing to replay.")
        for item in items:
            if item.outcome in ("failed_again", "refused_again"):
                console.print(f"[red]✗[/] {cell(item.campaign_id)} {cell(item.message_id)}: {cell(item.reason)}")

    state.emit(summary, render)
    if outcomes["failed_again"] or outcomes["refused_again"]:
        raise typer.Exit(EXIT_FAILED)
