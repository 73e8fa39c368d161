"""`send-test-event`: one real event to TikTok's Test Events tool, to check a campaign's pixel and token.

The event goes through the same builder and client as live beacons, with the test event code the
operator gives (never the campaign's stored one, so checking a campaign leaves no test code on its
live traffic). Nothing is written to the ledger or to the campaign's last delivery: a test answer
says nothing about live deliveries.
"""

import time
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from ..beacon import BeaconEvent
from ..campaign import parse_settings
from ..events import EVENT_TABLE
from ..hashing import hash_external_id
from ..payload import beacon_tiktok_event
from ..services.settings import get_settings_view
from ..tiktok import Outcome, TikTokClient
from .common import cell, state_of
from .errors import EXIT_FAILED, CommandFailed

TEST_PAGE_URL = "https://zellify.test/cli"
TEST_VISITOR = "cli-test"
TEST_CURRENCY = "USD"
# An operator waits at a terminal, not a visitor's browser: more than the functions' 1 s / 3 s budget.
CONNECT_TIMEOUT_S = 5.0
TOTAL_TIMEOUT_S = 15.0

# The choices come from DESIGN §3's table, the one place funnel events are defined.
FunnelEvent = StrEnum("FunnelEvent", {name: name for name in EVENT_TABLE})


def tiktok_client(api_base: str) -> TikTokClient:
    """The client send-test-event talks through: the seam tests replace to plug in a fake TikTok."""
    return TikTokClient(api_base, connect_timeout=CONNECT_TIMEOUT_S, total_timeout=TOTAL_TIMEOUT_S)


def send_test_event(
    ctx: typer.Context,
    campaign: Annotated[str, typer.Option(help="The campaign whose pixel and token to check.")],
    test_event_code: Annotated[str, typer.Option(
        help="The code shown in TikTok Events Manager → Test Events (the campaign's stored one is not used).")],
    event: Annotated[FunnelEvent, typer.Option(help="The funnel event to send.")] = FunnelEvent("page_view"),
) -> None:
    """Send one test event with the campaign's pixel and token, and print TikTok's answer.

    Exits 0 when TikTok answers code 0 (or 20001, partial success), 1 otherwise.
    """
    state = state_of(ctx)
    rt = state.runtime
    get_settings_view(campaign, rt)  # checks the id as the settings API does; an unknown campaign exits 3
    stored = rt.campaigns.get(campaign)  # the record just read, from the repository's cache
    # Checked by the settings model itself, so this takes exactly the codes `campaign set` takes.
    parse_settings({"pixel_id": stored.pixel_id, "test_event_code": test_event_code})
    token = rt.secrets.get_token(campaign)
    if not token:
        raise CommandFailed(EXIT_FAILED, "no_access_token",
                            f"campaign {campaign} has no Events API access token (pixel only): "
                            f"set one with `zellify-tiktok campaign set {campaign} ... --prompt-token`")

    spec = EVENT_TABLE[event]
    value = (Decimal(1) if spec.fixed_value is None else spec.fixed_value) if spec.has_value else None
    test_event = BeaconEvent(
        event=event.value,
        event_id=f"zt-test-{uuid.uuid4()}",
        time_s=int(time.time()),
        page={"url": TEST_PAGE_URL},
        step={"index": 0, "id": TEST_VISITOR},
        value=value,
        currency=TEST_CURRENCY if value is not None else None,
    )
    payload = beacon_tiktok_event(test_event, stored, {"external_id": hash_external_id(TEST_VISITOR)})
    result = tiktok_client(rt.settings.tiktok_api_base).track(
        pixel_id=stored.pixel_id, access_token=token, events=[payload], test_event_code=test_event_code
    )
    # An event the client refuses before sending has no TikTok answer, only the client's reason.
    answer = result.last_answer or result.permanent[0][1]
    report = {
        "campaign_id": campaign,
        "pixel_id": stored.pixel_id,
        "event": payload["event"],
        "event_id": payload["event_id"],
        "test_event_code": test_event_code,
        **answer.to_dict(),
    }
    sent = answer.outcome is Outcome.SENT

    def render(console: Console) -> None:
        console.print(f"Sent {cell(report['event'])} [dim]{cell(report['event_id'])}[/] to pixel "
                      f"{cell(report['pixel_id'])} with test event code {cell(test_event_code)}")
        colour = "green" if sent else "red"
        status = f"HTTP {answer.http_status}, " if answer.http_status not in (None, 200) else ""
        console.print(f"TikTok answered: [bold {colour}]code {cell(answer.code)}[/] {status}{cell(answer.message)}")
        if sent:
            console.print("Look for it in TikTok Events Manager → your pixel → Test Events.")

    state.emit(report, render)
    if not sent:
        raise typer.Exit(EXIT_FAILED)
