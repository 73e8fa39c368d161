"""`health CAMPAIGN`: what TikTok got from one campaign (docs/design.md §9), drawn in the terminal.

The figures are the health route's own (services/health.py `health_view`): the same window, counts,
coverage, revenue and warnings as GET /v1/campaigns/{campaign_id}/tiktok/health, read from the Health
table with the operator's AWS credentials. `--json` prints exactly that route's answer.
"""

from datetime import datetime
from typing import Annotated, Any

import typer
from rich import box
from rich.bar import Bar
from rich.console import Console
from rich.table import Table

from ..access import terminal_operator
from ..campaign import readable
from ..services.health import health_view
from .common import cell, delivery_text, print_warnings, state_of

EVENT_BAR_WIDTH = 12
COVERAGE_BAR_WIDTH = 24
OUTCOME_COLUMNS = (("sent", "sent"), ("duplicates", "duplicates"), ("queued", "queued"),
                   ("dead_lettered", "dead-lettered"))


def health(
    ctx: typer.Context,
    campaign_id: Annotated[str, typer.Argument(metavar="CAMPAIGN", help="The funnel's campaign id.")],
    hours: Annotated[str | None, typer.Option(
        metavar="N", help="The last N hours, the current one included (1-168; default 24).")] = None,
) -> None:
    """Per TikTok event: sent, duplicates, queued, dead-lettered; match-key coverage; revenue; warnings.

    Exits 3 for an unknown campaign, 2 for an --hours outside 1-168.
    """
    state = state_of(ctx)
    # The route's own validation of `hours` (a string, as the query string brings it): same answer, same error.
    view = health_view(campaign_id, hours, state.runtime, caller=terminal_operator())
    state.emit(view, lambda console: render(console, view))


def render(console: Console, view: dict[str, Any]) -> None:
    server_side = "yes" if view["server_side"] else "no (pixel only)"
    console.print(f"[bold]Health of {cell(view['campaign_id'])}[/]  {cell(readable(_at(view['from'])))} → "
                  f"{cell(readable(_at(view['to'])))}  server side: {server_side}")
    console.print(events_table(view["events"]))
    console.print(coverage_table(view["match_keys"]))
    console.print(revenue_table(view["revenue"]))
    console.print(f"Last delivery: {cell(delivery_text(view['last_delivery']))}")
    print_warnings(console, view["warnings"])


def _at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def events_table(events: list[dict[str, Any]]) -> Table | str:
    if not events:
        return "No server event in this window."
    table = _table("Events (server side)")
    table.add_column("event", no_wrap=True, min_width=max(len(row["event"]) for row in events))
    for _, header in OUTCOME_COLUMNS:
        table.add_column(header, justify="right")
    table.add_column("", min_width=EVENT_BAR_WIDTH)
    # Bars share one scale, the busiest event's sent count, so their lengths compare across rows.
    largest = max(row["sent"] for row in events) or 1
    for row in events:
        table.add_row(cell(row["event"]), *(cell(row[key]) for key, _ in OUTCOME_COLUMNS),
                      Bar(largest, 0, row["sent"], width=EVENT_BAR_WIDTH, color="green"))
    return table


def coverage_table(match_keys: dict[str, Any]) -> Table:
    count = match_keys["events"]
    table = _table(f"Match keys of the {count} sent event{'' if count == 1 else 's'}")
    table.add_column("key")
    table.add_column("coverage", min_width=COVERAGE_BAR_WIDTH)
    table.add_column("share", justify="right")
    for key, share in match_keys["coverage"].items():
        table.add_row(cell(key), Bar(1, 0, share, width=COVERAGE_BAR_WIDTH, color="cyan"), percent(share))
    return table


def revenue_table(revenue: list[dict[str, Any]]) -> Table | str:
    if not revenue:
        return "No CompletePayment revenue in this window."
    table = _table("Revenue (CompletePayment sent)")
    table.add_column("currency")
    table.add_column("value", justify="right")
    table.add_column("payments", justify="right")
    for row in revenue:
        table.add_row(cell(row["currency"]), cell(row["value"]), cell(row["payments"]))
    return table


def _table(title: str) -> Table:
    # Light rules and single spaces between columns: the events table fits an 80-column terminal.
    # At least as wide as the title, which would wrap otherwise.
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
                 min_width=len(title))


def percent(share: float) -> str:
    return f"{share * 100:.1f} %"
