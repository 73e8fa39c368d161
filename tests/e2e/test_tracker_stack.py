"""tracker.js in headless Chromium against the whole local stack: both channels name the visitor alike.

The funnel page is the test's own (a Playwright route serves it on the stack's origin); tracker.js,
the beacons, the Pixel stand-in, the collector, the TikTok stand-in and the Stripe webhook are the
stack's. The Pixel stand-in stores identify arguments masked, so the test reads what the Pixel got
on the wire (a route sees every record the stand-in's SDK posts, and lets it through), as it reads
each beacon and the collector's answer to it. Network effects are awaited by polling.
"""

import hashlib
import json
import re
import time
import uuid

import pytest
from zellify_tiktok.hashing import hash_email, hash_external_id, hash_phone

from tests.e2e.browser import ARTIFACTS, launch_chromium
from tests.stripe_webhooks import signature_header, stripe_event

pytestmark = pytest.mark.e2e

SETTLE_TIMEOUT_S = 10.0
PAGE_TIMEOUT_MS = 30_000
SHA256_HEX = re.compile(r"[0-9a-f]{64}")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<script>window.zt=window.zt||function(){{(zt.q=zt.q||[]).push(arguments)}};</script>
<script async src="/v1/campaigns/{campaign}/tracker.js"></script>
<script>{commands}</script>
</head><body><h1>{title}</h1><pre>{commands}</pre></body></html>
"""


def tiktok_hash(value: str) -> str:
    """What TikTok makes of a match key it is given: SHA-256, unless it already is one (docs/tiktok.md)."""
    return value if SHA256_HEX.fullmatch(value) else hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def campaign(stack, request):
    """A campaign of this test alone, with its own pixel; `require_consent` from the test's parameter."""
    suffix = uuid.uuid4().hex[:10].upper()
    settings = {"pixel_id": f"CTRK{suffix}PIXEL", "access_token": f"tt-trk-{suffix}-0123456789",
                "enabled": True, "allowed_origins": None, "require_consent": getattr(request, "param", False)}
    campaign_id = f"trk-{suffix.lower()}"
    answer = stack.admin("PUT", f"/v1/campaigns/{campaign_id}/tiktok", json=settings)
    assert answer.status_code == 200, answer.text
    yield {"id": campaign_id, **settings}
    stack.admin("DELETE", f"/v1/campaigns/{campaign_id}/tiktok")


class Visitor:
    """One browser context on the stack's origin: the pages it opens, what its Pixel and beacons sent."""

    def __init__(self, browser, stack, campaign: dict):
        self.stack, self.campaign = stack, campaign
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.page.set_default_timeout(PAGE_TIMEOUT_MS)
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.pixel: list[dict] = []  # {"pixel_id", "method", "args"} as the Pixel stand-in's SDK posted them
        self.beacons: list[dict] = []  # {"body", "status", "answer"}
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: self.warnings.append(msg.text) if msg.type == "warning" else None)
        # Playwright reports sendBeacon requests without their body; a route sees it.
        self.context.route("**/_dev/pixel/requests", self._record_pixel)
        self.context.route("**/v1/events", self._record_beacon)
        self.context.route(f"{stack.base_url}/_funnel/**", self._serve_page)
        self.pages: dict[str, str] = {}

    def _record_pixel(self, route) -> None:
        if route.request.method == "POST":
            self.pixel.append(json.loads(route.request.post_data_buffer))
        route.continue_()

    def _record_beacon(self, route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        response = route.fetch()
        self.beacons.append({"body": json.loads(route.request.post_data_buffer), "status": response.status,
                             "answer": response.json()})
        route.fulfill(response=response)

    def _serve_page(self, route) -> None:
        path = route.request.url.removeprefix(self.stack.base_url).split("?")[0]
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=self.pages[path])

    def open(self, name: str, commands: str) -> None:
        """A funnel page running `commands`, once tracker.js ran them and the Pixel stand-in took the queue."""
        path = f"/_funnel/{name}"
        self.pages[path] = PAGE.format(title=name, campaign=self.campaign["id"], commands=commands)
        self.page.goto(self.stack.base_url + path)
        self.page.wait_for_function("window.zt.loaded === true && window.ttq !== undefined"
                                    " && window.ttq._ztLoaded !== undefined")

    def wait(self, predicate, what: str):
        """Polls with the page's clock: Playwright passes routed requests on only while it has control."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; pixel={self.pixel} beacons={self.beacons}")
            self.page.wait_for_timeout(100)
        return result

    def pixel_calls(self, method: str) -> list[list]:
        return [call["args"] for call in self.pixel
                if call["method"] == method and call["pixel_id"] == self.campaign["pixel_id"]]

    def server_events(self, name: str | None = None) -> list[dict]:
        """Events the TikTok stand-in took (code 0) for this campaign's pixel."""
        return [event for request in self.stack.tiktok_requests()
                if request["body"].get("event_source_id") == self.campaign["pixel_id"]
                and (request.get("response") or {}).get("code") == 0
                for event in request["body"].get("data") or [] if name is None or event["event"] == name]

    def close(self) -> None:
        # A beacon still in a route handler when the context closes must not fail the test's teardown.
        self.context.unroute_all(behavior="ignoreErrors")
        self.context.close()


@pytest.fixture
def visitor(browser, stack, tiktok, campaign):
    stack.clear_pixel()
    one = Visitor(browser, stack, campaign)
    yield one
    one.close()
    stack.clear_pixel()


def test_the_pixel_and_the_events_api_name_the_visitor_alike(visitor, stack):
    suffix = uuid.uuid4().hex[:8].upper()
    session_id, email, phone = f"  Trk-Parity-{suffix}\t", "  Ann.Parity+Quiz@Example.COM ", "+44 (20) 7183-8750"
    visitor.open("email", f"""
      zt('init', {{session_id: {json.dumps(session_id)}}});
      zt('track', 'page_view');
      zt('track', 'email_captured', {{email: {json.dumps(email)}, phone: {json.dumps(phone)}}});
    """)
    [registration] = visitor.wait(lambda: visitor.server_events("CompleteRegistration"), "CompleteRegistration")
    [page_view] = visitor.wait(lambda: visitor.server_events("PageView"), "PageView")
    identifies = visitor.wait(lambda: len(visitor.pixel_calls("identify")) == 2 and visitor.pixel_calls("identify"),
                              "both identify calls")
    first, captured = sorted((args[0] for args in identifies), key=len)
    assert set(first) == {"external_id"} and set(captured) == {"email", "phone_number", "external_id"}

    # SHA-256 of what the Pixel got is what the Events API got, key by key...
    user = registration["user"]
    assert tiktok_hash(captured["external_id"]) == user["external_id"] == page_view["user"]["external_id"]
    assert tiktok_hash(first["external_id"]) == page_view["user"]["external_id"]
    assert tiktok_hash(captured["email"]) == user["email"]
    assert tiktok_hash(captured["phone_number"]) == user["phone"]
    # ...and what the server makes of the page's own spelling (docs/design.md §5).
    assert user["external_id"] == hash_external_id(session_id.strip())
    assert user["email"] == hash_email(email)
    assert user["phone"] == hash_phone(phone) == hashlib.sha256(b"+442071838750").hexdigest()
    # The session keeps the page's spelling, trimmed: the id Stripe metadata carries.
    visitor.wait(lambda: visitor.beacons, "the beacon and the collector's answer")
    assert {b["body"]["session_id"] for b in visitor.beacons} == {session_id.strip()}
    assert visitor.errors == []


def test_a_phone_on_email_capture_reaches_both_channels_and_no_page_shows_it(visitor, stack):
    phone, e164 = "+1 (415) 555-0172", "+14155550172"
    visitor.open("email", f"""
      zt('track', 'email_captured', {{email: 'phone.test@example.com', phone: {json.dumps(phone)}}});
    """)
    [registration] = visitor.wait(lambda: visitor.server_events("CompleteRegistration"), "CompleteRegistration")
    phone_hash = hashlib.sha256(e164.encode()).hexdigest()
    assert registration["user"]["phone"] == phone_hash
    captured = visitor.wait(lambda: [a[0] for a in visitor.pixel_calls("identify") if "phone_number" in a[0]],
                            "identify with the phone")
    assert captured[0]["phone_number"] == e164
    [capture_beacon] = visitor.wait(lambda: visitor.beacons, "the beacon and the collector's answer")
    assert capture_beacon["body"]["events"][0]["phone"] == e164  # the server hashes it
    assert capture_beacon["status"] == 202

    # The Events API stand-in shows the hash; the Pixel stand-in and the Test Events page show it masked.
    requests_text = stack.get("/_dev/tiktok/requests").text
    assert phone_hash in requests_text and "4155550172" not in requests_text
    stored = [c["args"][0] for c in stack.pixel_requests()
              if c["method"] == "identify" and "phone_number" in c["args"][0]]
    assert stored == [{"email": "p…@example.com (masked)", "phone_number": "+1…72 (masked)",
                       "external_id": captured[0]["external_id"]}]
    page = visitor.context.new_page()
    page.goto(f"{stack.base_url}/_dev/")
    row = page.locator(f'tr[data-event="CompleteRegistration"][data-event-id="{registration["event_id"]}"]')
    assert row.locator('.key[data-key="phone"]').get_attribute("data-present") == "true"
    assert row.get_attribute("data-state") == "paired"
    assert "4155550172" not in page.content()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "test-events-phone.png"), full_page=True)


def test_a_payment_outcome_without_its_stripe_id_fires_nothing_and_warns(visitor):
    visitor.open("success", """
      zt('track', 'payment_succeeded', {value: 9.99, currency: 'USD'});
      zt('track', 'page_view');
    """)
    visitor.wait(lambda: visitor.server_events("PageView"), "the PageView sent after it")
    visitor.wait(lambda: [a for a in visitor.pixel_calls("track") if a[0] == "PageView"], "the Pixel's PageView")
    visitor.wait(lambda: visitor.beacons, "the beacon and the collector's answer")
    assert [a[0] for a in visitor.pixel_calls("track")] == ["PageView"]
    assert [e["event"] for b in visitor.beacons for e in b["body"]["events"]] == ["page_view"]
    assert [w for w in visitor.warnings if "payment_succeeded needs the Stripe id as event_id" in w]


def payment_succeeded(stack, campaign_id: str, session_id: str) -> tuple[str, str]:
    """A signed `payment_intent.succeeded` for the session, as Stripe would post it: (its pi_ id, the body)."""
    event = stripe_event("stripe_payment_intent_succeeded.json")
    pi = f"pi_3Trk{uuid.uuid4().hex[:20]}"
    event.update(id=f"evt_3Trk{uuid.uuid4().hex[:20]}", created=int(time.time()))
    event["data"]["object"].update(id=pi, receipt_email=None, metadata={
        "zellify_campaign_id": campaign_id, "zellify_session_id": session_id})
    return pi, json.dumps(event, indent=2)


def post_webhook(stack, body: str):
    answer = stack.request("POST", "/v1/webhooks/stripe", data=body.encode(), headers={
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature_header(body, stack.stripe_signing_secret)})
    return answer.status_code, answer.json()


@pytest.mark.parametrize("campaign", [False, True], indirect=True, ids=["consent-optional", "require-consent"])
def test_consent_withdrawn_stops_the_sessions_later_stripe_events(visitor, stack, campaign):
    session_id = f"trk-consent-{uuid.uuid4().hex[:12]}"
    visitor.open("quiz", f"""
      zt('init', {{session_id: '{session_id}'}});
      zt('consent', true);
      zt('track', 'page_view');
      zt('track', 'email_captured', {{email: 'consent.test@example.com'}});
    """)
    visitor.wait(lambda: visitor.server_events("CompleteRegistration"), "the session's events at TikTok")
    # Before the withdrawal a payment of the session is sent...
    pi, body = payment_succeeded(stack, campaign["id"], session_id)
    assert post_webhook(stack, body) == (200, {"status": "queued", "reason": "payment_succeeded", "event_ids": [pi]})

    visitor.page.evaluate("zt('consent', false)")
    [withdrawal] = visitor.wait(lambda: [b for b in visitor.beacons if b["body"]["events"] == []],
                                "the consent-only beacon")
    assert withdrawal["body"] == {"campaign_id": campaign["id"], "session_id": session_id, "consent": False,
                                  "events": []}
    assert (withdrawal["status"], withdrawal["answer"]) == (202, {"accepted": [], "rejected": []})

    # ...after it, none: whether or not the campaign requires consent.
    later, body = payment_succeeded(stack, campaign["id"], session_id)
    assert post_webhook(stack, body) == (200, {"status": "ignored", "reason": "no_consent", "event_ids": [later]})
    assert not [e for e in visitor.server_events("CompletePayment") if e["event_id"] == later]
    assert visitor.wait(lambda: visitor.pixel_calls("revokeConsent"), "revokeConsent")
