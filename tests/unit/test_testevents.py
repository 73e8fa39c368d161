"""local/testevents.py: pairing, dedup state, match keys and TikTok's answers on crafted state."""

import json
from html.parser import HTMLParser

from zellify_tiktok.answers import Answer, Outcome
from zellify_tiktok.messages import DeliveryMessage, QueueReason
from zellify_tiktok.reasons import ReasonKind
from zellify_tiktok.server_event import ServerEvent, UserData

from local.http_util import mask_contact
from local.testevents import render, render_health

PIXEL = "CDEMO00000000000PIXEL"
TOKEN = "tt-secret-access-token-9f3a"
HASH = "a" * 64


def track(name, event_id, props=None, at="2025-11-25T10:00:00.000Z", pixel=PIXEL):
    args = [name, props or {}, {"event_id": event_id}]
    return {"received_at": at, "pixel_id": pixel, "method": "track", "args": args}


def server_event(name, event_id, user=None, properties=None):
    return {"event": name, "event_time": 1764064800, "event_id": event_id, "user": user or {"external_id": HASH},
            "properties": properties or {}, "page": {"url": "https://funnel.example/"}}


def request(*events, response=None, at="2025-11-25T10:00:01.000Z", pixel=PIXEL, test_event_code=None):
    body = {"event_source": "web", "event_source_id": pixel, "data": list(events)}
    if test_event_code:
        body["test_event_code"] = test_event_code
    if response is None:
        response = {"code": 0, "message": "OK", "request_id": "r1"}
    headers = {"Access-Token": TOKEN, "Content-Type": "application/json"}
    return {"received_at": at, "headers": headers, "body": body, "response": response}


def state(tiktok=(), pixel=(), queued=(), dead=()):
    return {"tiktok_requests": list(tiktok), "pixel_requests": list(pixel), "queued": list(queued),
            "dead_lettered": list(dead)}


class Page(HTMLParser):
    """The event rows of the page: their data-* attributes, match-key chips and text."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: list[dict] = []
        self.testids: list[str] = []
        self._in_row = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-testid" in attrs:
            self.testids.append(attrs["data-testid"])
        if tag == "tr" and attrs.get("data-testid") == "event-row":
            self._in_row = True
            self.rows.append({"event": attrs["data-event"], "event_id": attrs["data-event-id"],
                              "pixel": attrs["data-pixel"], "state": attrs["data-state"], "keys": {}, "text": ""})
        elif self._in_row and "data-key" in attrs:
            self.rows[-1]["keys"][attrs["data-key"]] = attrs["data-present"] == "true"

    def handle_endtag(self, tag):
        if tag == "tr":
            self._in_row = False

    def handle_data(self, data):
        if self._in_row:
            self.rows[-1]["text"] += data

    def row(self, event, event_id, pixel=PIXEL):
        matches = [r for r in self.rows if (r["event"], r["event_id"], r["pixel"]) == (event, event_id, pixel)]
        assert len(matches) == 1, (event, event_id, self.rows)
        return matches[0]


def test_events_pair_on_pixel_name_and_event_id():
    page = Page(render(state(
        pixel=[
            track("PageView", "e-1"),
            track("Lead", "sess-1:lead"),
            track("InitiateCheckout", "shared-id"),
            track("CompleteRegistration", "e-9", pixel="COTHERPIXEL"),
        ],
        tiktok=[request(
            server_event("PageView", "e-1"),
            server_event("CompletePayment", "pi_3Qabc"),
            server_event("AddPaymentInfo", "shared-id"),
            server_event("CompleteRegistration", "e-9"),
        )],
    )))
    assert page.row("PageView", "e-1")["state"] == "paired"
    assert page.row("Lead", "sess-1:lead")["state"] == "pixel only"
    assert page.row("CompletePayment", "pi_3Qabc")["state"] == "server only"
    # Same event_id under another name, or on another pixel, is another event to TikTok.
    assert page.row("InitiateCheckout", "shared-id")["state"] == "pixel only"
    assert page.row("AddPaymentInfo", "shared-id")["state"] == "server only"
    assert page.row("CompleteRegistration", "e-9", pixel="COTHERPIXEL")["state"] == "pixel only"
    assert page.row("CompleteRegistration", "e-9")["state"] == "server only"
    assert len(page.rows) == 7
    assert {"count-paired", "count-pixel-only", "count-server-only"} <= set(page.testids)


def test_event_names_are_case_sensitive_like_tiktok():
    page = Page(render(state(pixel=[track("Pageview", "e-1")], tiktok=[request(server_event("PageView", "e-1"))])))
    assert page.row("Pageview", "e-1")["state"] == "pixel only"
    assert page.row("PageView", "e-1")["state"] == "server only"


def test_match_keys_show_what_the_server_event_carried():
    user = {"email": HASH, "external_id": HASH, "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH", "ttclid": "",
            "ip": "203.0.113.9"}
    page = Page(render(state(
        pixel=[track("CompleteRegistration", "e-2"), track("Lead", "s:lead")],
        tiktok=[request(server_event("CompleteRegistration", "e-2", user=user))],
    )))
    assert page.row("CompleteRegistration", "e-2")["keys"] == {
        "email": True, "phone": False, "external_id": True, "ttp": True, "ttclid": False, "ip": True,
        "user_agent": False}
    lead = page.row("Lead", "s:lead")
    assert lead["keys"] == {} and "no server copy" in lead["text"]


def test_tiktok_answer_of_each_attempt_and_a_retry_is_one_event():
    event = server_event("InitiateCheckout", "e-3", properties={"value": 9.99, "currency": "USD"})
    page = Page(render(state(
        pixel=[track("InitiateCheckout", "e-3", {"value": 9.99, "currency": "USD"})],
        tiktok=[
            request(event, response={"code": 40100, "message": "Too many requests"}),
            request(event, response={"code": 0, "message": "OK"}, at="2025-11-25T10:00:09.000Z"),
            request(server_event("PageView", "e-4"), response={"http_status": 503, "message": "Service Unavailable"}),
            request(server_event("PageView", "e-5"), response={"code": 40002, "message": "Invalid parameter: x"}),
        ],
    )))
    row = page.row("InitiateCheckout", "e-3")
    assert row["state"] == "paired"
    assert "40100" in row["text"] and "Too many requests" in row["text"] and "OK" in row["text"]
    assert "×2" in row["text"] and "9.99 USD" in row["text"]
    assert "HTTP 503" in page.row("PageView", "e-4")["text"]
    assert "Invalid parameter: x" in page.row("PageView", "e-5")["text"]


def test_repeats_and_missing_event_ids_are_called_out():
    page = Page(render(state(
        pixel=[track("PageView", "e-6"), track("PageView", "e-6"),
               {"received_at": "t", "pixel_id": PIXEL, "method": "track", "args": ["ViewContent", {}]}],
        tiktok=[request(server_event("PageView", "e-6")), request(server_event("PageView", "e-6"))],
    )))
    text = page.row("PageView", "e-6")["text"]
    assert "Pixel sent it 2 times" in text and "Events API took it 2 times" in text
    assert "cannot deduplicate" in page.row("ViewContent", "")["text"]


def queue_message(name: str, event_id: str, *, source: str, kind: ReasonKind, answer: Answer) -> dict:
    """A message as the layer queues it (the page reads what the queues really hold)."""
    event = ServerEvent(funnel_event="page_view", name=name, event_id=event_id, event_time=1764064800,
                        user=UserData(external_id=HASH))
    message = DeliveryMessage(campaign_id="demo", pixel_id=PIXEL, source=source, reason=QueueReason.of(kind, answer),
                           events=(event,))
    return json.loads(message.to_json())


def test_queued_and_dead_lettered_messages():
    queued = queue_message("PageView", "e-7", source="beacon", kind=ReasonKind.TRANSIENT,
                           answer=Answer(Outcome.TRANSIENT, 40100, "Too many requests"))
    dead = queue_message("CompletePayment", "pi_3Qdead", source="stripe", kind=ReasonKind.REFUSED,
                         answer=Answer(Outcome.PERMANENT, 40002, "Invalid parameter: currency"))
    text = render(state(
        pixel=[track("PageView", "e-7"), track("CompletePayment", "pi_3Qdead")],
        queued=[queued, "not json at all"], dead=[dead],
    ))
    page = Page(text)
    assert page.testids.count("queued") == 2 and page.testids.count("dead-lettered") == 1
    assert "Queued (2)" in text and "Dead-lettered (1)" in text
    assert "not json at all" in text and "Invalid parameter: currency" in text and "pi_3Qdead" in text
    assert "server copy queued" in page.row("PageView", "e-7")["text"]
    assert "server copy dead-lettered" in page.row("CompletePayment", "pi_3Qdead")["text"]


def test_other_pixel_calls_are_listed_apart_from_events_without_raw_emails():
    text = render(state(pixel=[
        {"received_at": "t1", "pixel_id": PIXEL, "method": "load", "args": [PIXEL, {"limited_data_use": False}]},
        {"received_at": "t2", "pixel_id": PIXEL, "method": "identify",
         "args": [{"email": "ann.smith@example.com", "external_id": "s-1"}]},
        track("PageView", "e-8"),
    ]))
    page = Page(text)
    assert len(page.rows) == 1
    assert page.testids.count("pixel-call") == 2
    assert "ann.smith@example.com" not in text and "a…@example.com (masked)" in text and "s-1" in text


def test_phone_numbers_are_masked_like_emails_and_hashes_shown_as_they_are():
    hashed = "a" * 64
    text = render(state(pixel=[
        {"received_at": "t2", "pixel_id": PIXEL, "method": "identify",
         "args": [{"email": "ann.smith@example.com", "phone_number": "+15551234567", "external_id": "s-1"}]},
        {"received_at": "t3", "pixel_id": PIXEL, "method": "identify",
         "args": [{"phone_number": [hashed, "+4915112345678"], "email": hashed}]},
    ]))
    assert "5551234567" not in text and "+1…67 (masked)" in text
    assert "4915112345678" not in text and "+4…78 (masked)" in text
    assert "a…@example.com (masked)" in text and hashed in text


def test_rows_are_newest_first():
    page = Page(render(state(pixel=[
        track("PageView", "old", at="2025-11-25T09:00:00.000Z"),
        track("PageView", "new", at="2025-11-25T11:00:00.000Z"),
    ], tiktok=[request(server_event("PageView", "mid"), at="2025-11-25T10:00:00.000Z")])))
    assert [r["event_id"] for r in page.rows] == ["new", "mid", "old"]


def test_everything_is_escaped_and_the_access_token_never_shown():
    evil = '<script>alert("x")</script>'
    text = render(state(
        pixel=[track(evil, 'id"><img src=x>', {"content_name": evil}),
               {"received_at": evil, "pixel_id": evil, "method": evil, "args": [evil]}],
        tiktok=[request(server_event(evil, "e-9"), response={"code": 40002, "message": evil}, pixel=evil,
                        test_event_code=evil)],
        queued=[evil, {"events": [{"event": evil, "event_id": evil}], "reason": evil}],
        dead=[{"reason": {"code": evil, "message": evil}}],
    ))
    assert "<script>alert" not in text and "<img src=x>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert TOKEN not in text
    assert Page(text).row(evil, 'id"><img src=x>')["state"] == "pixel only"


def test_malformed_state_still_renders():
    for broken in (
        {},
        None,
        {"tiktok_requests": "nope", "pixel_requests": 5, "queued": None, "dead_lettered": {"a": 1}},
        {
            "tiktok_requests": [None, "x", {"body": "not json"}, {"body": {"data": "nope"}},
                                {"body": {"data": [None, {"event": 5, "event_id": ["x"], "user": "u"}]},
                                 "response": "weird"}],
            "pixel_requests": [5, {"method": "track", "args": "nope"}, {"method": "track", "args": [None, None, 7]},
                               {"method": None, "args": [{"cyclic": "no, but odd"}]}],
            "queued": [None, 3, {"events": "x", "reason": [1]}],
            "dead_lettered": [{"events": [None, {"event_id": 1}]}],
        },
    ):
        text = render(broken)
        assert text.startswith("<!doctype html>") and "Test Events (local)" in text


def test_empty_state_points_to_the_demo():
    text = render(state())
    assert "No events yet" in text and 'href="/demo/"' in text
    assert 'id="refresh"' in text and 'id="auto-refresh"' in text


def test_phone_is_a_match_key_shown_by_its_hash_prefix_and_a_raw_one_is_called_out():
    phone_hash = "b" * 64
    page_text = render(state(
        pixel=[track("CompleteRegistration", "e-p1"), track("PageView", "e-p2")],
        tiktok=[request(server_event("CompleteRegistration", "e-p1", user={"external_id": HASH, "phone": phone_hash})),
                request(server_event("PageView", "e-p2", user={"external_id": HASH, "phone": "+15551234567"}))],
    ))
    page = Page(page_text)
    assert page.row("CompleteRegistration", "e-p1")["keys"]["phone"] is True
    assert f'data-key="phone" data-present="true" title="sha256 {phone_hash[:12]}…"' in page_text
    assert phone_hash not in page_text  # a prefix only
    # A raw phone at the Events API is a bug: named on its row, its value never shown.
    assert "phone reached the Events API not hashed" in page.row("PageView", "e-p2")["text"]
    assert "5551234567" not in page_text


def test_a_raw_email_or_phone_in_a_queued_message_is_masked():
    queued = {"kind": "tiktok_events", "pixel_id": PIXEL, "reason": {"code": 40100, "message": "Too many requests"},
              "events": [server_event("PageView", "e-q", user={"email": "ann.smith@example.com",
                                                               "phone": "+15551234567", "external_id": HASH})]}
    text = render(state(queued=[queued]))
    assert "ann.smith" not in text and "5551234567" not in text and HASH in text
    assert "a…@example.com (masked)" in text and "+1…67 (masked)" in text


def test_a_lone_surrogate_anywhere_still_renders_as_its_escape():
    bad = "x\udfffy"
    text = render(state(
        pixel=[track(bad, bad, {"content_name": bad, "value": bad}, at=bad, pixel=bad),
               {"received_at": bad, "pixel_id": bad, "method": bad, "args": [{"email": f"{bad}@ex.com", bad: bad}]}],
        tiktok=[{**request(server_event(bad, bad, user={"external_id": bad, "phone": bad}, properties={
            "content_name": bad, "value": bad, "currency": bad}), response={"code": 40002, "message": bad},
            pixel=bad, test_event_code=bad, at=bad), "headers": {bad: bad}}],
        queued=[bad, {"events": [{"event": bad, "event_id": bad}], "reason": bad, bad: bad}],
        dead=[{"reason": {"code": bad, "message": bad}}],
    ) | {"campaigns": [{"campaign_id": bad, "pixel_id": bad, "server_side": True}]})
    text.encode("utf-8")  # what the server sends: raises on a lone surrogate
    assert "x\\udfffy" in text and "\udfff" not in text
    assert Page(text).row("x\\udfffy", "x\\udfffy", pixel="x\\udfffy")["state"] == "paired"


def test_each_campaign_links_to_its_health_page():
    text = render(state(pixel=[track("PageView", "e-h1"), track("PageView", "e-h2", pixel="CSHARED")]) | {
        "campaigns": [{"campaign_id": "demo", "pixel_id": PIXEL, "server_side": True},
                      {"campaign_id": "a b/c", "pixel_id": "CSHARED", "server_side": False},
                      {"campaign_id": "other", "pixel_id": "CSHARED", "server_side": True}]})
    assert 'data-testid="campaign" data-campaign="demo"' in text
    assert '<a href="/_dev/health/demo" data-testid="health-link" data-campaign="demo"' in text
    assert 'href="/_dev/health/a%20b%2Fc"' in text and 'href="/_dev/health/other"' in text
    assert f'title="health of campaign demo">{PIXEL}</a>' in text  # the row's pixel links to its campaign


def test_a_campaign_list_that_could_not_be_read_is_said_so():
    assert "campaign list could not be read" in render(state() | {"campaigns": None})
    assert "No campaign configured" in render(state() | {"campaigns": []})


HEALTH = {
    "campaign_id": "demo", "from": "2026-12-01T08:00:00Z", "to": "2026-12-02T08:00:00Z",
    "events": [{"event": "CompletePayment", "sent": 20, "duplicates": 3, "queued": 1, "dead_lettered": 2}],
    "match_keys": {"events": 140, "coverage": {"external_id": 1.0, "email": 0.42, "phone": 0.05}},
    "revenue": [{"currency": "USD", "value": 199.8, "payments": 20}],
    "server_side": True,
    "last_delivery": {"at": "2026-12-02T07:59:01.123456+00:00", "outcome": "sent", "code": 0, "message": "OK",
                      "http_status": 200},
    "warnings": ["2 event(s) dead-lettered in this window: <fix> the cause"],
}


def test_health_page_shows_the_figures_of_the_health_route():
    text = render_health("demo", 24, 200, HEALTH)
    assert 'data-testid="health-page" data-status="200"' in text
    assert '<td data-outcome="sent">20</td><td data-outcome="duplicates">3</td>' in text
    assert 'data-key="phone" data-share="0.05"' in text and "5 %" in text and "42 %" in text
    assert "199.8 USD" in text and "(20 payments)" in text
    assert "&lt;fix&gt; the cause" in text and "<fix>" not in text
    assert '<span class="good" data-testid="last-delivery">sent</span> code 0 OK' in text
    assert ">07:59:01.123</time>" in text
    assert '<a href="/_dev/health/demo?hours=1">1 h</a>' in text and "<strong>24 h</strong>" in text
    assert 'href="/_dev/"' in text


def test_health_page_window_reads_with_its_dates_and_counts_agree():
    text = render_health("demo", 24, 200, HEALTH | {"revenue": [{"currency": "EUR", "value": 9.99, "payments": 1}]})
    assert 'From <time datetime="2026-12-01T08:00:00Z" title="2026-12-01T08:00:00Z">1 Dec 2026, 08:00 UTC</time>' \
        in text
    assert 'to <time datetime="2026-12-02T08:00:00Z" title="2026-12-02T08:00:00Z">2 Dec 2026, 08:00 UTC</time>' in text
    assert "(1 payment)" in text and "payments)" not in text


def test_health_page_shows_what_the_route_refused():
    text = render_health("<nope>", 0, 404, {"error": {"code": "unknown_campaign", "message": "no <such> campaign",
                                                      "details": []}})
    assert 'data-status="404"' in text and "answered 404: no &lt;such&gt; campaign" in text
    assert "<nope>" not in text and "<such>" not in text
    assert "answered 401: Unauthorized" in render_health("demo", 24, 401, {"message": "Unauthorized"})
    render_health("x\udfff", 24, 200, {"events": "junk", "match_keys": [], "warnings": [None]}).encode("utf-8")


def test_masking_twice_keeps_the_first_mask():
    """A value masked once (an older record, a queued message) is not masked again by the page."""
    stored = mask_contact({"email": "ann.smith@example.com", "phone_number": "+15551234567"})
    assert stored == {"email": "a…@example.com (masked)", "phone_number": "+1…67 (masked)"}
    assert mask_contact(stored) == stored
    text = render(state(pixel=[{"received_at": "t", "pixel_id": PIXEL, "method": "identify", "args": [stored]}]))
    assert "(masked) (masked)" not in text and "a…@example.com (masked)" in text
