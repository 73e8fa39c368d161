"""`send-test-event`: one real event to TikTok's Test Events tool, to check a campaign's pixel and token.

It sends through the test-event route's own function (services/test_event.py), with the test event
code the operator gives, else the campaign's active one (as the route does: a test never goes without a
code, so it never reaches the live pixel), and prints TikTok's answer.
"""

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from ..access import terminal_operator
from ..answers import Outcome
from ..budget import Budget
from ..errors import Unprocessable
from ..events import EVENT_TABLE
from ..services.test_event import checked_test_code
from ..services.test_event import send_test_event as send
from ..tiktok import TikTokClient
from .common import cell, state_of
from .errors import EXIT_FAILED, EXIT_USAGE, CommandFailed

TEST_PAGE_URL = "https://zellify.test/cli"
TEST_VISITOR = "cli-test"
# An operator waits at a terminal, not a visitor's browser: more than the functions' 1 s / 3 s budget.
CONNECT_TIMEOUT_S = 5.0
TOTAL_TIMEOUT_S = 15.0

# The choices come from the event table, the one place funnel events are defined.
FunnelEvent = StrEnum("FunnelEvent", {name: name for name in EVENT_TABLE})  # type: ignore[misc]


def tiktok_client(api_base: str) -> TikTokClient:
    """The client send-test-event talks through: the seam tests replace to plug in a fake TikTok."""
    return TikTokClient(api_base, connect_timeout=CONNECT_TIMEOUT_S, total_timeout=TOTAL_TIMEOUT_S)


def send_test_event(
    ctx: typer.Context,
    campaign: Annotated[str, typer.Option(help="The campaign whose pixel and token to check.")],
    test_event_code: Annotated[str | None, typer.Option(
        help="The code shown in TikTok Events Manager → Test Events (default: the campaign's active one).")] = None,
    event: Annotated[FunnelEvent, typer.Option(help="The funnel event to send.")] = FunnelEvent("page_view"),
) -> None:
    """Send one test event with the campaign's pixel and token, and print TikTok's answer.

    Exits 0 when TikTok answers code 0, 1 otherwise.
    """
    state = state_of(ctx)
    rt = state.runtime
    rt.tiktok = tiktok_client(rt.config.tiktok_api_base)
    try:
        answer = send(campaign, checked_test_code(test_event_code), Budget(TOTAL_TIMEOUT_S), rt,
                      caller=terminal_operator(), funnel_event=event.value, visitor=TEST_VISITOR,
                      page_url=TEST_PAGE_URL)
    except Unprocessable as refused:
        if refused.code == "test_event_code_required":
            raise CommandFailed(EXIT_USAGE, "test_event_code_required",
                                f"campaign {campaign} has no active test event code: give one with "
                                "--test-event-code (TikTok Events Manager → your pixel → Test Events)") from None
        if refused.code != "no_access_token":
            raise
        raise CommandFailed(EXIT_FAILED, "no_access_token",
                            f"campaign {campaign} has no Events API access token (pixel only): "
                            f"set one with `zellify-tiktok campaign set {campaign} ... --prompt-token`") from None
    report = {"campaign_id": campaign, **answer.to_dict()}
    sent = answer.outcome == Outcome.SENT

    def render(console: Console) -> None:
        console.print(f"Sent {cell(answer.event)} [dim]{cell(answer.event_id)}[/] to pixel "
                      f"{cell(answer.pixel_id)} with test event code {cell(answer.test_event_code)}")
        colour = "green" if sent else "red"
        status = f"HTTP {answer.http_status}, " if answer.http_status not in (None, 200) else ""
        console.print(f"TikTok answered: [bold {colour}]code {cell(answer.code)}[/] {status}{cell(answer.message)}")
        if sent:
            console.print("Look for it in TikTok Events Manager → your pixel → Test Events.")

    state.emit(report, render)
    if not sent:
        raise typer.Exit(EXIT_FAILED)
