"""The local stack is for this machine only (docs/design.md §8): it answers only local Host names (no DNS
rebinding), takes state-changing /_dev/ requests only as JSON (no cross-site form or text/plain write),
escapes control characters in its log, and its Test Events page shows page URLs without personal data."""

import json
import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e import polling

pytestmark = pytest.mark.e2e


def raw_request(stack, request: bytes) -> bytes:
    """Bytes on the wire, as no HTTP library would send them."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_and_json(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


# Host


@pytest.mark.parametrize("host", ["rebound.attacker.example:{port}", "rebound.attacker.example",
                                  "127.0.0.1:1", "localhost:{port}.attacker.example", "0.0.0.0:{port}",
                                  "127.0.0.1.nip.io:{port}", ""])
@pytest.mark.parametrize("path", ["/healthz", "/_dev/state", "/v1/campaigns", "/demo/",
                                  "/v1/campaigns/demo/tracker.js"])
def test_a_host_not_of_this_machine_is_refused_before_anything_runs(stack, host, path):
    header = f"Host: {host.format(port=stack.port)}\r\n".encode() if host else b""
    raw = raw_request(stack, f"GET {path} HTTP/1.1\r\n".encode() + header + b"Connection: close\r\n\r\n")
    status, body = status_and_json(raw)
    assert status == 400
    assert body["error"]["code"] == "host_not_allowed" and set(body["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}",
                                  "localhost"])
def test_local_names_with_this_port_are_answered(stack, host):
    answer = requests.get(f"{stack.base_url}/healthz", headers={"Host": host.format(port=stack.port)}, timeout=10)
    assert answer.status_code == 200, answer.text


def test_a_state_changing_request_from_another_name_changes_nothing(tiktok):
    answer = requests.post(f"{tiktok.base_url}/_dev/tiktok/faults", json={"http_status": 503, "times": 1},
                           headers={"Host": f"rebound.attacker.example:{tiktok.port}"}, timeout=10)
    assert answer.status_code == 400
    assert tiktok.faults() == []


# JSON-only /_dev/ writes


@pytest.mark.parametrize("content_type, body", [
    ("text/plain", '{"http_status": 503, "times": 1}'),  # what a cross-site fetch or sendBeacon can send
    ("application/x-www-form-urlencoded", "http_status=503&times=1"),  # a cross-site form
    ("multipart/form-data; boundary=x", "--x\r\n\r\n--x--"),
    (None, '{"http_status": 503, "times": 1}'),
])
@pytest.mark.parametrize("path", ["/_dev/tiktok/faults", "/_dev/tiktok/tokens"])
def test_dev_writes_other_than_json_are_refused_with_415(tiktok, content_type, body, path):
    headers = {"Content-Type": content_type} if content_type else {}
    answer = requests.post(f"{tiktok.base_url}{path}", data=body.encode(), headers=headers, timeout=10)
    assert answer.status_code == 415
    error = answer.json()["error"]
    assert error["code"] == "unsupported_media_type" and "application/json" in error["message"]
    assert tiktok.faults() == []
    assert tiktok.get("/_dev/tiktok/tokens").json()["tokens"] == []


def test_a_delete_with_a_text_body_is_refused_and_one_without_a_body_is_taken(tiktok):
    tiktok.add_fault({"http_status": 503, "times": 1})
    refused = requests.delete(f"{tiktok.base_url}/_dev/tiktok/faults", data=b"x",
                              headers={"Content-Type": "text/plain"}, timeout=10)
    assert refused.status_code == 415 and len(tiktok.faults()) == 1
    # A DELETE from another site is preflighted by every browser, and none is allowed: no body, no type needed.
    assert requests.delete(f"{tiktok.base_url}/_dev/tiktok/faults", timeout=10).status_code == 200
    assert tiktok.faults() == []


def test_json_writes_and_the_pixel_sdks_text_plain_beacon_are_taken(tiktok):
    assert tiktok.request("POST", "/_dev/tiktok/faults",
                          json={"http_status": 503, "times": 1}).status_code == 200
    assert tiktok.request("POST", "/_dev/tiktok/faults", data=b'{"code": 40100, "times": 1}',
                          headers={"Content-Type": "application/json; charset=utf-8"}).status_code == 200
    assert len(tiktok.faults()) == 2
    recorded = tiktok.request("POST", "/_dev/pixel/requests", headers={"Content-Type": "text/plain"},
                              data=json.dumps({"pixel_id": "CPIX", "method": "track", "args": ["Lead"]}))
    assert recorded.status_code == 200
    tiktok.clear_pixel()


# The log


def test_control_characters_in_a_request_are_escaped_in_the_log(stack):
    marker = uuid.uuid4().hex[:8]
    raw_request(stack, f"GET /_dev/nope-{marker}\x1b[2J\x1b[31mred\x07\x7f HTTP/1.1\r\n"
                       f"Host: 127.0.0.1:{stack.port}\r\nConnection: close\r\n\r\n".encode("latin-1"))
    # A request line http.server refuses itself (its error is logged through the same handler).
    raw_request(stack, f"G\x1bT-{marker} /x\x00y HTTP/1.1\r\n\r\n".encode("latin-1"))

    def logged():
        text = stack.log_path.read_text(errors="replace")
        lines = [line for line in text.splitlines() if marker in line]
        return lines if len(lines) >= 2 else None

    lines = polling.wait_for(logged, "both requests in the log", 15)
    assert any(f"/_dev/nope-{marker}\\x1b[2J\\x1b[31mred\\x07\\x7f" in line for line in lines), lines
    for line in lines:
        assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in line), repr(line)


# The Test Events page


def test_the_test_events_page_shows_page_urls_without_emails_or_phones(tiktok):
    marker = f"m{uuid.uuid4().hex[:10]}"
    url = (f"https://funnel.example.com/checkout?utm_campaign={marker}&email=jane.doe%40example.com"
           "&contact=%2B14155550142#step=pay&mail=x")
    body = {"campaign_id": "demo", "session_id": f"e2e-{marker}", "events": [
        {"event": "page_view", "event_id": f"pv-{marker}", "time": int(time.time() * 1000),
         "page": {"url": url, "referrer": url}}]}
    answer = tiktok.request("POST", "/v1/events", data=json.dumps(body), headers={"Content-Type": "text/plain"})
    assert answer.status_code == 202, answer.text

    scrubbed = f"https://funnel.example.com/checkout?utm_campaign={marker}#step=pay"

    def shown() -> str | None:
        # The row's server copy, once TikTok took it (a queued copy may show the marker earlier).
        text = tiktok.get("/_dev/").text
        return text if f'data-testid="page-url">{scrubbed}<' in text else None

    page = polling.wait_for(shown, f"{scrubbed} on the Test Events page", 30)
    [sent] = [e for r in tiktok.tiktok_requests() for e in r["body"]["data"] if e["event_id"] == f"pv-{marker}"]
    assert sent["page"] == {"url": scrubbed, "referrer": scrubbed}
    for shown in (page, tiktok.get("/_dev/state").text, json.dumps(tiktok.tiktok_requests())):
        assert "jane.doe" not in shown and "4155550142" not in shown
    assert urlsplit(scrubbed).query == f"utm_campaign={marker}"
