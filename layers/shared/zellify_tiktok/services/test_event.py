"""POST /v1/campaigns/{campaign_id}/tiktok/test-event (docs/design.md §6.4): verify a pixel and its token.

One event (PageView unless told otherwise) with a `zt-test-{uuid}` event_id goes to TikTok with a test
event code — the one given, else the campaign's active one, never none: a test must not reach the live
pixel. TikTok's answer is the result, whatever it says (a 40105 is an answer, not our error). Nothing
is written to the ledger, the health figures or the campaign's last delivery: a test says nothing
about live traffic. The CLI's `send-test-event` sends through the same function.
"""

import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..access import Caller
from ..audit import TestEventResult
from ..beacon import decode_json_object
from ..budget import Budget
from ..errors import Unprocessable
from ..events import EVENT_TABLE
from ..hashing import hash_external_id
from ..runtime import Runtime
from ..server_event import UserData, server_event
from ..settings_input import parse_settings
from .settings import audit_log, campaign_for, record

MAX_BODY_BYTES = 4 * 1024
TEST_VISITOR = "zt-test-visitor"
# A value event needs a value to be a valid test of it.
TEST_VALUE, TEST_CURRENCY = Decimal(1), "USD"


@dataclass(frozen=True)
class TestEventAnswer:
    event: str
    event_id: str
    pixel_id: str
    test_event_code: str
    outcome: str
    code: int | None
    message: str
    request_id: str | None
    http_status: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def requested_test_code(body: bytes) -> str | None:
    """The route's optional body `{"test_event_code": "TEST…"}`, checked as the settings check it."""
    if not body.strip():
        return None
    data = decode_json_object(body, MAX_BODY_BYTES)
    unknown = sorted(key for key in data if key != "test_event_code")
    if unknown:
        raise Unprocessable("unknown fields", details=[{"field": key, "message": "not a field of this route"}
                                                       for key in unknown[:5] if key.isascii()])
    return checked_test_code(data.get("test_event_code"))


def checked_test_code(code: Any) -> str | None:
    if code is None:
        return None
    # The settings model's rule for test_event_code, so a code the settings PUT takes is taken here.
    checked, _ = parse_settings({"pixel_id": "CHECKING", "test_event_code": code})
    return checked.test_event_code


def send_test_event(campaign_id: str, test_event_code: str | None, budget: Budget,
                    runtime: Runtime, *, caller: Caller, funnel_event: str = "page_view",
                    visitor: str = TEST_VISITOR, page_url: str | None = None,
                    clock: Any = time.time) -> TestEventAnswer:
    """TikTok's answer to one test event, recorded in the campaign's audit trail before it is returned."""
    campaign = campaign_for(caller, campaign_id, runtime)
    audit_log(runtime)
    now = clock()
    code = test_event_code or campaign.active_test_event_code(datetime.fromtimestamp(now, UTC))
    if code is None:
        raise Unprocessable("a test event needs a test_event_code (given, or the campaign's active one): "
                            "a test must never reach the live pixel", code="test_event_code_required")
    token = runtime.secrets.get_token(campaign.campaign_id) if campaign.has_token else None
    if not token:
        raise Unprocessable("the campaign has no Events API access token (pixel only)", code="no_access_token")
    valued = EVENT_TABLE[funnel_event].has_value
    event = server_event(funnel_event, campaign.naming, event_id=f"zt-test-{uuid.uuid4()}", event_time=int(now),
                         user=UserData(external_id=hash_external_id(visitor)), page_url=page_url,
                         value=TEST_VALUE if valued else None, currency=TEST_CURRENCY if valued else None)
    result = runtime.tiktok.send(pixel_id=campaign.pixel_id, access_token=token, events=[event],
                            test_event_code=code, budget=budget)
    answer = result.last_answer or (result.unanswered or result.refused)[0][1]
    record(runtime, campaign.campaign_id, caller, "test_event", datetime.now(UTC),
           test_event=TestEventResult(answer.code, answer.message))
    return TestEventAnswer(event=event.name, event_id=event.event_id, pixel_id=campaign.pixel_id,
                           test_event_code=code, outcome=str(answer.outcome), code=answer.code,
                           message=answer.message, request_id=answer.request_id, http_status=answer.http_status)
