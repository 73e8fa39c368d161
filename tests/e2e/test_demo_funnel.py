"""The demo funnel (`make dev`'s /demo/) clicked through in a real headless Chromium.

Issue 4's "done when": after landing → quiz 1 → quiz 2 → email → checkout → success, every event
reached TikTok on both channels with one name and one event_id: each Events API event at the
TikTok stand-in has its `ttq.track` twin at the Pixel stand-in and the other way round, the
payment went to the Events API from Stripe's webhook only, and the Test Events page shows every
row paired. Network effects are awaited by polling the stand-ins; nothing asserts on timing.
"""

import hashlib
import json
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import pytest
from zellify_tiktok.events import EVENT_TABLE

from local.http_util import mask_contact
from tests.e2e.browser import ARTIFACTS, launch_chromium

pytestmark = pytest.mark.e2e

DEMO_PIXEL = "CDEMO00000000000PIXEL"
TTCLID = "E.C.P.e2e-click-123"
# Typed as a visitor would; both channels get its E.164 form (docs/design.md §5).
PHONE, PHONE_E164 = "+1 (415) 555-0134", "+14155550134"
SETTLE_TIMEOUT_S = 10.0
PAGE_TIMEOUT_MS = 30_000
BEACONED = {e.tiktok for e in EVENT_TABLE.values() if e.beacon}
PAYMENT_OUTCOMES = {e.name for e in EVENT_TABLE.values() if not e.beacon}
# What one walk through the funnel fires, per TikTok event name (the demo campaign has no overrides).
EXPECTED = Counter({
    "PageView": 6,  # landing, quiz-1, quiz-2, email, checkout, success
    "PageCompleted": 3,  # quiz-1, quiz-2, email
    "Lead": 1,  # once per session, on the first completed step
    "CompleteRegistration": 1,
    "InitiateCheckout": 1,
    "AddPaymentInfo": 1,
    "CompletePayment": 1,
})
ORDER_CONTENTS = [{"content_id": "plan_pro", "content_name": "Pro plan", "quantity": 1, "price": 9.99}]
# The pages whose events happen after the email was captured (the email page's own page_view does not).
AFTER_EMAIL_PAGES = {"/demo/checkout", "/demo/success"}


def sha256(text: str) -> str:
    return hashlib.sha256(text.strip().lower().encode()).hexdigest()


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as browser:
        yield browser


def server_events(stack) -> list[dict]:
    """Every event the TikTok stand-in took (code 0), with the pixel it was sent for."""
    return [{**event, "pixel_id": request["body"].get("event_source_id")}
            for request in stack.tiktok_requests()
            if (request.get("response") or {}).get("code") == 0
            for event in request["body"].get("data") or []]


def pixel_tracks(stack) -> list[dict]:
    """Every `ttq.track(name, props, {event_id})` the Pixel stand-in recorded, flattened."""
    return [{"pixel_id": call["pixel_id"], "event": call["args"][0], "properties": call["args"][1],
             "event_id": call["args"][2].get("event_id")}
            for call in stack.pixel_requests() if call["method"] == "track"]


def settle(stack, page) -> tuple[list[dict], list[dict]]:
    """Polls both stand-ins until each has seen at least the whole funnel (or the time is up).

    Waits with the page's clock, not time.sleep: Playwright passes beacons on (the route below)
    only while it has control.
    """
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        server, pixel = server_events(stack), pixel_tracks(stack)
        if (not EXPECTED - Counter(e["event"] for e in server)
                and not EXPECTED - Counter(t["event"] for t in pixel)) or time.monotonic() > deadline:
            return server, pixel
        page.wait_for_timeout(200)


class Funnel:
    """One visitor: a fresh browser context, the pages it walks, the beacons it sends."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(PAGE_TIMEOUT_MS)
        self.errors: list[str] = []
        self.beacons: list[dict] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        # Playwright reports sendBeacon requests without their (Blob) body, and DevTools forgets it
        # once the page that sent it is gone; a route sees it, and lets the beacon through untouched.
        self.context.route("**/v1/events", self._record_beacon)

    def _record_beacon(self, route) -> None:
        request = route.request
        if request.method == "POST":
            self.beacons.append(json.loads(request.post_data_buffer or b"{}"))
        route.continue_()

    def beacon_events(self) -> list[dict]:
        return [event for body in self.beacons for event in body.get("events") or []]

    def arrive(self, name: str) -> None:
        """On page `name`, once tracker.js has run and the Pixel (stand-in) has taken its queue over.

        A visitor who leaves before the Pixel's script arrives takes the queued ttq calls with them,
        with the real Pixel as with the stand-in; a person reads the page first, and so does this test.
        """
        self.page.wait_for_selector(f'body[data-page="{name}"]')
        self.page.wait_for_function(
            "document.getElementById('tracker-session').textContent !== '(loading)'"
            " && window.ttq !== undefined && window.ttq._ztLoaded !== undefined")

    def session_ids(self) -> tuple[str, str]:
        return (self.page.text_content("#session-id"), self.page.text_content("#tracker-session"))

    def close(self) -> None:
        self.context.close()


def test_demo_funnel_pairs_every_event_on_both_channels(stack, tiktok, browser):
    stack.clear_pixel()
    email = f"  E2E.Funnel+{uuid.uuid4().hex[:8]}@Example.com "
    funnel = Funnel(browser)
    page = funnel.page
    try:
        page.goto(f"{stack.base_url}/demo/?ttclid={TTCLID}")
        funnel.arrive("landing")
        session_id, tracker_session = funnel.session_ids()
        assert tracker_session == session_id  # the funnel handed its id to the tracker (zt('init'))
        page.click("#start")
        funnel.arrive("quiz-1")
        page.click("#answer-0")
        funnel.arrive("quiz-2")
        page.click("#answer-2")
        funnel.arrive("email")
        page.fill("#email", email)
        page.fill("#phone", PHONE)
        page.click("#submit-email")
        funnel.arrive("checkout")
        page.click("#add-payment")
        page.click("#pay")
        funnel.arrive("success")
        assert funnel.session_ids() == (session_id, session_id)
        payment_intent = page.text_content("#payment-intent")
        webhook_status = page.text_content("#webhook-status")
        webhook_body = json.loads(page.text_content("#webhook-body"))
        ttp = next((c["value"] for c in funnel.context.cookies(stack.base_url) if c["name"] == "_ttp"), None)
        server, pixel = settle(stack, page)
        beacon_events = funnel.beacon_events()
        errors = list(funnel.errors)
    finally:
        funnel.close()

    assert errors == []
    assert payment_intent.startswith("pi_")
    # Stripe's webhook (posted by the demo's /pay) sent CompletePayment to the Events API.
    assert webhook_status == "200", webhook_body
    assert webhook_body == {"status": "queued", "reason": "payment_succeeded", "event_ids": [payment_intent]}

    # The whole funnel, once, on each channel.
    assert Counter(e["event"] for e in server) == EXPECTED, server
    assert Counter(t["event"] for t in pixel) == EXPECTED, pixel
    assert {e["pixel_id"] for e in server} == {t["pixel_id"] for t in pixel} == {DEMO_PIXEL}
    server_keys = [(e["event"], e["event_id"]) for e in server]
    pixel_keys = [(t["event"], t["event_id"]) for t in pixel]
    assert len(set(server_keys)) == len(server_keys) and len(set(pixel_keys)) == len(pixel_keys)
    # Every server event has its Pixel twin, every beaconed Pixel event its server twin.
    assert set(server_keys) <= set(pixel_keys), set(server_keys) - set(pixel_keys)
    assert {k for k in pixel_keys if k[0] in BEACONED} <= set(server_keys)
    assert set(server_keys) == set(pixel_keys)  # CompletePayment's server twin came from Stripe

    # Payment outcomes are Pixel-only from the browser; the server copy is the webhook's, keyed by the pi_.
    assert {e["event"] for e in beacon_events} == {e.name for e in EVENT_TABLE.values() if e.beacon}
    assert not PAYMENT_OUTCOMES & {e["event"] for e in beacon_events}
    assert len(beacon_events) == sum(EXPECTED.values()) - 1
    by_key = {(e["event"], e["event_id"]): e for e in server}
    purchase = by_key[("CompletePayment", payment_intent)]
    expected_properties = {"value": 9.99, "currency": "USD", "contents": ORDER_CONTENTS,
                           "content_type": "product", "num_items": 1}
    assert purchase["properties"] == expected_properties
    pixel_purchase = next(t for t in pixel if t["event"] == "CompletePayment")
    assert pixel_purchase["event_id"] == payment_intent
    assert pixel_purchase["properties"] == expected_properties

    # Match keys: the session id hashed, the landing URL's click id and the Pixel's _ttp on every
    # server event (the Stripe one takes them from the session record), the email and phone hashes once known.
    assert ttp
    email_hash = sha256(email)
    phone_hash = hashlib.sha256(PHONE_E164.encode()).hexdigest()
    for event in server:
        user = event["user"]
        assert user["external_id"] == sha256(session_id), event
        assert user.get("ttclid") == TTCLID, event
        page_path = urlsplit((event.get("page") or {}).get("url", "")).path
        if page_path != "/demo/":  # the landing page_view may beat the Pixel's first _ttp cookie
            assert user.get("ttp") == ttp, event
        after_email = (event["event"] in {"CompleteRegistration", "CompletePayment"}
                       or page_path in AFTER_EMAIL_PAGES
                       or event.get("properties", {}).get("content_name") == "email")
        if after_email:
            assert user.get("email") == email_hash, event
            assert user.get("phone") == phone_hash, event
        assert user.get("email") in (None, email_hash)
        assert user.get("phone") in (None, phone_hash)
    after = [e for e in server if e["user"].get("email")]
    assert len(after) >= 6  # CompleteRegistration, PageCompleted(email), 2×PageView, InitiateCheckout, …
    # The raw address and phone went to ttq.identify only (the Pixel hashes them), never to the Events API.
    raw = json.dumps(stack.tiktok_requests()).lower()
    assert email.strip().lower() not in raw
    assert email.strip().split("@")[0].lower() not in raw
    assert "4155550134" not in raw
    # (The stand-in stores them masked: no page the developer opens reads them back.)
    identifies = [c["args"][0] for c in stack.pixel_requests() if c["method"] == "identify"]
    assert mask_contact({"email": email.strip().lower(), "phone_number": PHONE_E164,
                          "external_id": session_id}) in identifies

    # lead: once per session, on both channels, with the session-derived id.
    assert [k for k in server_keys if k[0] == "Lead"] == [("Lead", f"{session_id}:lead")]
    assert [k for k in pixel_keys if k[0] == "Lead"] == [("Lead", f"{session_id}:lead")]

    # The Test Events page shows each pair as one paired row.
    check_test_events_page(stack, browser, pairs=set(server_keys), payment_intent=payment_intent)


def check_test_events_page(stack, browser, *, pairs: set, payment_intent: str) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{stack.base_url}/_dev/")
        rows = page.locator('tr[data-testid="event-row"]')
        shown = {(rows.nth(i).get_attribute("data-event"), rows.nth(i).get_attribute("data-event-id"),
                  rows.nth(i).get_attribute("data-state")) for i in range(rows.count())}
        assert shown == {(name, event_id, "paired") for name, event_id in pairs}
        assert page.locator("td .state.paired").count() == len(pairs)
        assert page.locator(".state.pixel-only, .state.server-only").count() == 0
        assert page.text_content('[data-testid="count-paired"]').startswith(f"{len(pairs)} ")
        purchase = page.locator(f'tr[data-event="CompletePayment"][data-event-id="{payment_intent}"]')
        present = {purchase.locator(".key").nth(i).get_attribute("data-key"): purchase.locator(".key").nth(i)
                   .get_attribute("data-present") == "true" for i in range(purchase.locator(".key").count())}
        assert present == dict.fromkeys(("email", "phone", "external_id", "ttp", "ttclid", "ip", "user_agent"), True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "test-events.png"), full_page=True)

        # Each campaign links to its health page, which shows the figures of the health route (§9).
        health = page.locator('tr[data-testid="campaign"][data-campaign="demo"] a[data-testid="health-link"]')
        assert health.get_attribute("href") == "/_dev/health/demo"
        health.click()
        page.wait_for_selector('body[data-testid="health-page"][data-status="200"]')
        sent = page.locator('tr[data-testid="health-event"][data-event="CompletePayment"] td[data-outcome="sent"]')
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while not sent.count() and time.monotonic() < deadline:  # the figures trail the ledger's stream
            page.wait_for_timeout(500)
            page.reload()
        assert int(sent.text_content()) >= 1
        assert page.locator('tr[data-testid="coverage"][data-key="phone"]').get_attribute("data-share") != "0.0"
        page.screenshot(path=str(ARTIFACTS / "test-events-health.png"), full_page=True)
    finally:
        context.close()
