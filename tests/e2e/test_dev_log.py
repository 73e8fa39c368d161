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
    event_id = beacon["events"][0]["event_id"]
    deadline = time.monotonic() + 20
    while True:
        log = stack.log_path.read_text(errors="replace")
        # Two lines name the event: the collector queued it, then the DeliveryFunction delivered it.
        if len([line for line in log.splitlines() if event_id in line]) >= 2:
            break
        assert time.monotonic() < deadline, stack.log_tail()
        time.sleep(0.2)
    assert re.search(r"^\d\d:\d\d:\d\d  POST /v1/events 202 \d+ ms$", log, re.M), stack.log_tail()
    queued, delivered = [line for line in log.splitlines() if event_id in line]
    assert "Collect: beacon queued · campaign_id=demo" in queued, queued
    assert "Delivery: events delivered · campaign_id=demo" in delivered and "sent=1" in delivered, delivered
    assert '"_aws"' not in log and "CloudWatchMetrics" not in log  # metric lines only with LOG_LEVEL=DEBUG
    assert not [line for line in log.splitlines() if line.startswith("{")], "a JSON line in make dev's log"
