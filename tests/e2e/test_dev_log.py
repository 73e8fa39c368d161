"""`make dev`'s log (docs/design.md §8): a request and a delivery read as one line each; no metric JSON."""

import json
import re
import time
import uuid

import pytest

pytestmark = pytest.mark.e2e


def test_a_beacon_reads_as_its_request_and_its_delivery_and_no_metric_line(stack, tiktok):
    session = f"log-{uuid.uuid4().hex[:12]}"
    beacon = {"campaign_id": "demo", "session_id": session,
              "events": [{"event": "page_view", "event_id": f"pv-{uuid.uuid4()}"}]}
    assert stack.request("POST", "/v1/events", data=json.dumps(beacon),
                         headers={"Content-Type": "text/plain"}).status_code == 202
    deadline = time.monotonic() + 10
    while True:
        log = stack.log_path.read_text(errors="replace")
        if beacon["events"][0]["event_id"] in log:
            break
        assert time.monotonic() < deadline, stack.log_tail()
        time.sleep(0.2)
    assert re.search(r"^\d\d:\d\d:\d\d  POST /v1/events 202 \d+ ms$", log, re.M), stack.log_tail()
    delivered = [line for line in log.splitlines() if beacon["events"][0]["event_id"] in line]
    assert len(delivered) == 1 and "Collect: beacon delivered · campaign_id=demo" in delivered[0], delivered
    assert "sent=1" in delivered[0]
    assert '"_aws"' not in log and "CloudWatchMetrics" not in log  # metric lines only with LOG_LEVEL=DEBUG
    assert not [line for line in log.splitlines() if line.startswith("{")], "a JSON line in make dev's log"
