"""tracker.js in a real headless Chromium, in isolation from the rest of the stack.

A tiny HTTP server plays both sides: the funnel site (test pages, the Pixel stand-in
`local/pixel_sdk.js` and its `/_dev/pixel/requests` recorder) and, on a second port so that
beacons are cross-origin as in production, the API (`tracker.js` as the collector serves it: the
minified build with its CONFIG injected, and `/v1/events`). Network effects are awaited by polling.
"""

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from zellify_tiktok.events import browser_event_table
from zellify_tiktok.services.tracker import CONFIG_PLACEHOLDER, render_tracker

from tests.e2e.browser import ARTIFACTS, ROOT, launch_chromium

pytestmark = pytest.mark.e2e

# What browsers get: the minified build (`make tracker`), not the readable source.
TRACKER = ROOT / "functions" / "collect" / "tracker.min.js"
PIXEL_SDK = ROOT / "local" / "pixel_sdk.js"
CAMPAIGN = "cmp_test"
PIXEL_ID = "C4TESTPIXEL0123456789"
TTP = "2F7h37YkS1j57AYSKTI7IHhJPYH"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PAYMENT_OUTCOMES = {"payment_succeeded", "payment_failed", "trial_started", "subscription_started"}
TIMEOUT_S = 5.0

# Records every call of the page to sendBeacon / fetch, to prove what did *not* happen.
SPY = """
window.__endpointCalls = [];
(() => {
  const beacon = navigator.sendBeacon ? navigator.sendBeacon.bind(navigator) : null;
  if (beacon) navigator.sendBeacon = (url, data) => {
    window.__endpointCalls.push(String(url)); return beacon(url, data);
  };
  const fetch = window.fetch.bind(window);
  window.fetch = (url, init) => { window.__endpointCalls.push(String(url)); return fetch(url, init); };
})();
"""


def inject_config(source: str, config: dict) -> str:
    """What the collector does when serving tracker.js: bake the configuration in at its placeholder."""
    assert source.count(CONFIG_PLACEHOLDER) == 1
    return render_tracker(source, config)


@dataclass
class Recorder:
    config: dict = field(default_factory=dict)
    pages: dict = field(default_factory=dict)
    beacons: list = field(default_factory=list)
    pixel: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> tuple[list, list]:
        with self.lock:
            return list(self.beacons), list(self.pixel)


def make_handler(rec: Recorder):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status: int, body: bytes = b"", content_type: str = "text/plain"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = urlsplit(self.path).path
            if path == f"/v1/campaigns/{CAMPAIGN}/tracker.js":
                source = inject_config(TRACKER.read_text(), rec.config)
                self._send(200, source.encode(), "application/javascript")
            elif path == "/_dev/pixel/sdk.js":
                self._send(200, PIXEL_SDK.read_bytes(), "application/javascript")
            elif path in rec.pages:
                self._send(200, rec.pages[path].encode(), "text/html; charset=utf-8")
            else:
                self._send(404, b"not found")

        def do_POST(self):
            path = urlsplit(self.path).path
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if path == "/v1/events":
                with rec.lock:
                    rec.beacons.append({"headers": dict(self.headers), "body": json.loads(raw)})
                self._send(202, b'{"accepted": []}', "application/json")
            elif path == "/_dev/pixel/requests":
                with rec.lock:
                    rec.pixel.append(json.loads(raw))
                self._send(204)
            else:
                self._send(404, b"not found")

    return Handler


def start_server(rec: Recorder) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(rec))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font: 16px system-ui, sans-serif; margin: 2rem; }} code {{ color: #a0224a; }}</style>
<script>window.__globalsBefore = Object.keys(window);</script>
<script>window.zt=window.zt||function(){{(zt.q=zt.q||[]).push(arguments)}};</script>
<script>{before}</script>
<script async src="{api}/v1/campaigns/{campaign}/tracker.js" onload="window.__trackerLoaded = true"></script>
</head><body><h1>{title}</h1><p>Commands queued before <code>tracker.js</code> loaded:</p>
<pre>{before}</pre></body></html>
"""


@dataclass
class Env:
    rec: Recorder
    site: str
    api: str
    context: object
    page: object
    errors: list
    warnings: list

    def add_page(self, path: str, before: str = "", title: str = "Tracker test") -> None:
        self.rec.pages[path] = PAGE.format(title=title, before=before, api=self.api, campaign=CAMPAIGN)

    def open(self, path: str) -> None:
        self.page.goto(self.site + path, wait_until="domcontentloaded")
        self.page.wait_for_function("window.__trackerLoaded === true")

    def wait(self, predicate, what: str):
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                beacons, pixel = self.rec.snapshot()
                raise AssertionError(f"timed out waiting for {what}; beacons={beacons} pixel={pixel}")
            # Lets Playwright deliver console and pageerror events while we poll.
            self.page.wait_for_timeout(50)

    def beacon_events(self) -> list[dict]:
        beacons, _ = self.rec.snapshot()
        return [event for beacon in beacons for event in beacon["body"]["events"]]

    def wait_for_beacon_events(self, *names: str) -> list[dict]:
        def arrived():
            seen = [e["event"] for e in self.beacon_events()]
            return all(name in seen for name in names)

        self.wait(arrived, f"beacon events {names}")
        return self.beacon_events()

    def pixel_calls(self, method: str | None = None) -> list[dict]:
        _, pixel = self.rec.snapshot()
        return [c for c in pixel if method is None or c["method"] == method]

    def wait_for_pixel_tracks(self, *names: str) -> list[dict]:
        def arrived():
            seen = [c["args"][0] for c in self.pixel_calls("track")]
            return all(name in seen for name in names)

        self.wait(arrived, f"pixel tracks {names}")
        return self.pixel_calls("track")

    def stub_queue(self) -> list[list]:
        """What the tracker handed the Pixel, in order, while no SDK has taken the stub over."""
        return self.page.evaluate("Array.from(window.ttq, (entry) => Array.from(entry))")

    def tracker_warnings(self) -> list[str]:
        return [w for w in self.warnings if w.startswith("[zt] ")]


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def env(browser):
    rec = Recorder()
    site_server, api_server = start_server(rec), start_server(rec)
    site = f"http://127.0.0.1:{site_server.server_port}"
    api = f"http://127.0.0.1:{api_server.server_port}"
    rec.config = {
        "campaign_id": CAMPAIGN,
        "pixel_id": PIXEL_ID,
        "server_side": True,
        "endpoint": f"{api}/v1/events",
        "event_names": {},
        "event_table": browser_event_table(),
        "require_consent": False,
        "limited_data_use": False,
        "pixel_sdk_url": f"{site}/_dev/pixel/sdk.js",
    }
    context = browser.new_context()  # fresh cookies and storage for every test
    page = context.new_page()
    errors, warnings = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: warnings.append(msg.text) if msg.type == "warning" else None)
    yield Env(rec, site, api, context, page, errors, warnings)
    context.close()
    site_server.shutdown()
    api_server.shutdown()


def hold_pixel_sdk(env: Env) -> None:
    """Point the Pixel at a script that never arrives, so `ttq` stays TikTok's stub queue."""
    env.rec.config["pixel_sdk_url"] = f"{env.site}/_dev/pixel/never.js"


def tracks_by_event_id(entries: list[list]) -> dict[str, list]:
    return {entry[3]["event_id"]: entry for entry in entries if entry[0] == "track"}


def test_queue_before_load_keeps_every_command_in_order_on_both_channels(env):
    hold_pixel_sdk(env)
    env.add_page("/funnel", before="""
      zt('init', {session_id: 'sess-queue-1'});
      zt('track', 'page_view');
      zt('track', 'page_completed', {step: {index: 0, id: 'quiz-1'}});
      zt('track', 'email_captured', {email: 'Ann@Example.com'});
      zt('track', 'checkout_presented', {value: 9.99, currency: 'usd', contents: [
        {content_id: 'plan_pro', content_name: 'Pro plan', quantity: 1, price: 9.99}]});
      zt('session', function (id) { window.__sid = id; });
    """)
    env.open("/funnel")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env.page.screenshot(path=str(ARTIFACTS / "tracker_queue.png"))

    assert env.page.evaluate("window.__sid") == "sess-queue-1"
    assert env.page.evaluate("window.TiktokAnalyticsObject") == "ttq"
    assert env.page.evaluate("JSON.stringify(window.ttq._o)") == json.dumps(
        {PIXEL_ID: {"limited_data_use": False}}, separators=(",", ":"))
    sdk_src = env.page.evaluate("document.querySelector('script[src*=\"sdkid=\"]').src")
    assert sdk_src == f"{env.site}/_dev/pixel/never.js?sdkid={PIXEL_ID}&lib=ttq"

    # The Pixel got identify first, then the events in call order; lead right after the step.
    stub = env.stub_queue()
    assert [(e[0], e[1] if e[0] == "track" else None) for e in stub] == [
        ("identify", None),
        ("track", "PageView"),
        ("track", "PageCompleted"),
        ("track", "Lead"),
        ("identify", None),
        ("track", "CompleteRegistration"),
        ("track", "InitiateCheckout"),
    ]
    assert stub[0][1] == {"external_id": "sess-queue-1"}
    # The normalised strings the server hashes (docs/design.md §5), not the page's spelling.
    assert stub[4][1] == {"email": "ann@example.com", "external_id": "sess-queue-1"}
    assert all(e[0] != "page" for e in stub)
    tracks = [e for e in stub if e[0] == "track"]
    assert "ann@example.com" not in json.dumps(tracks).lower()
    assert tracks[1][2] == {"content_name": "quiz-1"}
    assert tracks[4][2] == {"value": 9.99, "currency": "USD", "content_type": "product", "contents": [
        {"content_id": "plan_pro", "content_name": "Pro plan", "quantity": 1, "price": 9.99}]}

    # One beacon for the whole replayed queue, same order, same ids as the Pixel.
    env.wait(lambda: env.rec.snapshot()[0], "the beacon")
    beacons, _ = env.rec.snapshot()
    assert len(beacons) == 1
    beacon = beacons[0]
    assert beacon["headers"]["Content-Type"] == "text/plain"
    body = beacon["body"]
    assert body["campaign_id"] == CAMPAIGN and body["session_id"] == "sess-queue-1"
    assert "consent" not in body and "ttclid" not in body and "ttp" not in body
    events = body["events"]
    assert [e["event"] for e in events] == [
        "page_view", "page_completed", "lead", "email_captured", "checkout_presented"]
    by_id = tracks_by_event_id(stub)
    for event in events:
        assert by_id[event["event_id"]][1] == browser_event_table()[event["event"]]["tiktok"]
        assert event["page"]["url"] == env.site + "/funnel"
        assert isinstance(event["time"], int)
    assert events[2]["event_id"] == "sess-queue-1:lead"
    assert events[1]["step"] == {"index": 0, "id": "quiz-1"}
    assert events[3]["email"] == "ann@example.com"
    assert "email" not in events[0] and "email" not in events[4]
    assert events[4]["value"] == 9.99 and events[4]["currency"] == "USD"
    assert len({e["event_id"] for e in events}) == len(events)

    # The SDK arrives late: the stand-in replays the whole stub queue, loses nothing...
    env.page.add_script_tag(url=f"{env.site}/_dev/pixel/sdk.js?sdkid={PIXEL_ID}&lib=ttq")
    env.wait(lambda: len(env.pixel_calls()) == len(stub) + 1, "the replayed Pixel queue")
    calls = env.pixel_calls()
    assert all(c["pixel_id"] == PIXEL_ID for c in calls)
    assert env.pixel_calls("load") == [
        {"pixel_id": PIXEL_ID, "method": "load", "args": [PIXEL_ID, {"limited_data_use": False}]}]

    def canonical(items):
        return sorted(json.dumps(i, sort_keys=True) for i in items)

    replayed = [[c["method"], *c["args"]] for c in calls if c["method"] != "load"]
    assert canonical(replayed) == canonical(stub)

    # ...and commands after load go straight through.
    env.page.evaluate("zt('track', 'payment_method_added', {value: 9.99, currency: 'USD'})")
    tracks = env.wait_for_pixel_tracks("AddPaymentInfo")
    events = env.wait_for_beacon_events("payment_method_added")
    added = next(t for t in tracks if t["args"][0] == "AddPaymentInfo")
    assert added["args"][2]["event_id"] == events[-1]["event_id"]
    assert env.errors == []


def test_name_overrides_and_payment_outcomes_reach_the_pixel_only(env):
    env.rec.config["event_names"] = {"payment_succeeded": "Purchase", "page_view": "Pageview"}
    env.rec.config["limited_data_use"] = True
    env.add_page("/checkout", before="""
      zt('init', {session_id: 'sess-pay'});
      zt('track', 'page_view');
      zt('track', 'payment_succeeded', {event_id: 'pi_3QabcDEF', value: 19.98, currency: 'USD',
        contents: [{content_id: 'plan_pro', content_name: 'Pro plan', quantity: 2, price: 9.99}]});
      zt('track', 'payment_failed', {event_id: 'pi_3QabcDEF:ch_3QdefGHI', value: 19.98, currency: 'USD'});
      zt('track', 'trial_started', {event_id: 'sub_1Qtrial', currency: 'USD'});
      zt('track', 'subscription_started', {event_id: 'sub_1Qtrial'});
    """)
    env.open("/checkout")
    # A later event: once its beacon is in, every earlier beacon was sent.
    env.page.evaluate("zt('track', 'page_completed', {step: {index: 0, id: 'checkout'}})")

    tracks = env.wait_for_pixel_tracks(
        "Pageview", "Purchase", "PaymentFailed", "StartTrial", "Subscribe", "PageCompleted", "Lead")
    by_name = {t["args"][0]: t["args"] for t in tracks}
    assert by_name["Purchase"][1:] == [
        {"value": 19.98, "currency": "USD",
         "contents": [{"content_id": "plan_pro", "content_name": "Pro plan", "quantity": 2, "price": 9.99}],
         "content_type": "product", "num_items": 2},
        {"event_id": "pi_3QabcDEF"},
    ]
    assert by_name["PaymentFailed"][1:] == [
        {"value": 19.98, "currency": "USD"}, {"event_id": "pi_3QabcDEF:ch_3QdefGHI"}]
    assert by_name["StartTrial"][1:] == [{"value": 0, "currency": "USD"}, {"event_id": "sub_1Qtrial"}]
    assert by_name["Subscribe"][1:] == [{"value": 0}, {"event_id": "sub_1Qtrial"}]
    assert "PageView" not in by_name and "CompletePayment" not in by_name
    assert env.pixel_calls("load")[0]["args"] == [PIXEL_ID, {"limited_data_use": True}]

    events = env.wait_for_beacon_events("page_completed")
    assert [e["event"] for e in events] == ["page_view", "page_completed", "lead"]
    assert not PAYMENT_OUTCOMES & {e["event"] for e in events}
    assert events[0]["event_id"] == by_name["Pageview"][2]["event_id"]
    assert env.pixel_calls("page") == []


def test_pixel_only_campaign_sends_no_beacon(env):
    env.rec.config["server_side"] = False
    env.page.add_init_script(SPY)
    env.add_page("/quiz", before="""
      zt('track', 'page_view');
      zt('track', 'page_completed', {step: {index: 0, id: 'quiz-1'}});
      zt('track', 'email_captured', {email: 'ann@example.com'});
      zt('session', function (id) { window.__sid = id; });
    """)
    env.open("/quiz")
    env.wait_for_pixel_tracks("PageView", "PageCompleted", "Lead", "CompleteRegistration")

    sid = env.page.evaluate("window.__sid")
    assert UUID.match(sid)
    # Pixel records travel as separate requests, so only the tracker-side order is exact.
    identifies = [c["args"][0] for c in env.pixel_calls("identify")]
    assert sorted(identifies, key=len) == [{"external_id": sid}, {"email": "ann@example.com", "external_id": sid}]
    lead = next(c for c in env.pixel_calls("track") if c["args"][0] == "Lead")
    assert lead["args"][2] == {"event_id": f"{sid}:lead"}
    calls = env.page.evaluate("window.__endpointCalls")
    assert [url for url in calls if "/v1/events" in url] == []
    assert env.rec.snapshot()[0] == []


def test_no_pixel_id_means_no_pixel_but_beacons(env):
    env.rec.config["pixel_id"] = ""
    env.add_page("/plain", before="zt('track', 'page_view');")
    env.open("/plain")
    env.wait_for_beacon_events("page_view")
    assert env.page.evaluate("typeof window.ttq") == "undefined"
    assert env.page.evaluate("document.querySelector('script[src*=\"sdkid=\"]')") is None


def test_ttclid_and_ttp_reach_the_beacon_and_persist_across_pages(env):
    env.context.add_cookies([{"name": "_ttp", "value": TTP, "url": env.site}])
    env.add_page("/landing", before="""
      zt('track', 'page_view');
      zt('track', 'page_completed', {step: {index: 0, id: 'quiz-1'}});
      zt('session', function (id) { window.__sid = id; });
    """)
    env.open("/landing?ttclid=E.C.P.test-click_1")
    first = env.wait_for_beacon_events("page_view", "lead")
    sid = env.page.evaluate("window.__sid")
    beacons, _ = env.rec.snapshot()
    assert beacons[0]["body"]["ttclid"] == "E.C.P.test-click_1"
    assert beacons[0]["body"]["ttp"] == TTP
    assert beacons[0]["body"]["session_id"] == sid
    assert [e["event"] for e in first] == ["page_view", "page_completed", "lead"]
    assert first[2]["event_id"] == f"{sid}:lead"

    cookies = {c["name"]: c for c in env.context.cookies(env.site)}
    assert cookies["ttclid"]["value"] == "E.C.P.test-click_1"
    days = (cookies["ttclid"]["expires"] - datetime.now(UTC).timestamp()) / 86400
    assert 6.9 < days <= 7
    assert cookies["_ttp"]["value"] == TTP  # the Pixel stand-in keeps an existing _ttp
    assert env.page.evaluate(f"localStorage.getItem('zt_sid_{CAMPAIGN}')") == sid

    # Next page, no ttclid in its URL, the same step index again: same session and click id,
    # no second identify, no second lead.
    hold_pixel_sdk(env)
    env.add_page("/next", before="""
      zt('track', 'page_view');
      zt('track', 'page_completed', {step: {index: 0, id: 'quiz-1-again'}});
      zt('session', function (id) { window.__sid = id; });
    """)
    env.open("/next")
    env.wait(lambda: len(env.rec.snapshot()[0]) == 2, "the second page's beacon")
    second = env.rec.snapshot()[0][1]["body"]
    assert second["session_id"] == sid and env.page.evaluate("window.__sid") == sid
    assert second["ttclid"] == "E.C.P.test-click_1"
    assert second["ttp"] == TTP
    assert [e["event"] for e in second["events"]] == ["page_view", "page_completed"]
    assert [(e[0], e[1]) for e in env.stub_queue()] == [("track", "PageView"), ("track", "PageCompleted")]


def test_consent_holds_everything_then_replays_on_grant(env):
    env.rec.config["require_consent"] = True
    env.page.add_init_script(SPY)
    env.add_page("/consent", before="""
      zt('track', 'page_view');
      zt('track', 'page_completed', {step: {index: 0, id: 'quiz-1'}});
      zt('session', function (id) { window.__sid = id; });
    """)
    env.open("/consent?ttclid=E.C.P.consent")
    env.page.evaluate("zt('track', 'email_captured', {email: 'bob@example.com'})")

    nothing_yet = env.page.evaluate("""() => ({
      ttq: typeof window.ttq, object: typeof window.TiktokAnalyticsObject,
      storage: localStorage.length, cookie: document.cookie, sid: typeof window.__sid,
      sdk: document.querySelectorAll('script[src*="sdkid="]').length,
      calls: window.__endpointCalls.length })""")
    assert nothing_yet == {"ttq": "undefined", "object": "undefined", "storage": 0, "cookie": "",
                           "sid": "undefined", "sdk": 0, "calls": 0}
    assert env.context.cookies() == []

    env.page.evaluate("zt('consent', true)")
    events = env.wait_for_beacon_events("email_captured")
    assert [e["event"] for e in events] == ["page_view", "page_completed", "lead", "email_captured"]
    body = env.rec.snapshot()[0][0]["body"]
    assert body["consent"] is True and body["ttclid"] == "E.C.P.consent"
    sid = env.page.evaluate("window.__sid")
    assert body["session_id"] == sid
    tracks = env.wait_for_pixel_tracks("PageView", "PageCompleted", "Lead", "CompleteRegistration")
    assert {t["args"][2]["event_id"] for t in tracks} == {e["event_id"] for e in events}
    assert env.page.evaluate(f"localStorage.getItem('zt_sid_{CAMPAIGN}')") == sid
    assert {c["name"] for c in env.context.cookies(env.site)} >= {"ttclid"}


def test_consent_refusal_drops_held_and_later_commands(env):
    env.rec.config["require_consent"] = True
    env.add_page("/refuse", before="zt('track', 'page_view');")
    env.open("/refuse")
    env.page.evaluate("""() => {
      zt('consent', false);
      zt('track', 'page_completed', {step: {index: 0, id: 'quiz-1'}});
    }""")
    assert env.page.evaluate("typeof window.ttq") == "undefined"

    env.page.evaluate("""() => {
      zt('consent', true);
      zt('track', 'email_captured', {email: 'carol@example.com'});
    }""")
    env.wait_for_beacon_events("email_captured")
    # Revoked after a grant: the Pixel is told, and events stop until granted again.
    env.page.evaluate("""() => {
      zt('consent', false);
      zt('track', 'checkout_presented', {value: 5, currency: 'EUR'});
      zt('consent', true);
      zt('track', 'payment_method_added', {value: 5, currency: 'EUR'});
    }""")
    events = env.wait_for_beacon_events("payment_method_added")
    assert [e["event"] for e in events] == ["email_captured", "payment_method_added"]
    tracks = env.wait_for_pixel_tracks("CompleteRegistration", "AddPaymentInfo")
    assert sorted(t["args"][0] for t in tracks) == ["AddPaymentInfo", "CompleteRegistration"]
    env.wait(lambda: env.pixel_calls("grantConsent") and env.pixel_calls("revokeConsent"), "consent calls")
    assert len(env.pixel_calls("revokeConsent")) == 1 and len(env.pixel_calls("grantConsent")) == 1


def test_garbage_commands_warn_and_never_break_the_page(env):
    env.add_page("/garbage", before="""
      zt('nope'); zt(); zt(null); zt(42);
      zt('track', 42);
      zt('track', 'page_view', {get value() { throw 1; }});
      (function () {
        var cyclic = {value: 5, currency: 'USD'};
        cyclic.self = cyclic;
        cyclic.contents = [cyclic, {content_id: 7, get price() { throw new Error('boom'); }}];
        zt('track', 'checkout_presented', cyclic);
      })();
    """)
    env.open("/garbage")
    env.page.evaluate("""() => {
      zt('track'); zt('track', 'made_up'); zt('track', 'page_view', 'not props');
      zt('init', 'x'); zt('init', {session_id: 'has spaces'}); zt('consent', 'yes'); zt('session', 5);
      zt('session', function () { throw new Error('callback'); });
      zt('track', 'page_view', {event_id: 'bad id!'});
      zt('track', 'payment_method_added', {value: 'lots', currency: 'USD'});
      zt('track', 'email_captured', {email: 'not-an-email'});
      zt('track', 'page_completed', {step: 'first'});
      const revocable = Proxy.revocable({}, {});
      revocable.revoke();
      zt('track', 'page_view', revocable.proxy);
      zt('track', 'page_view', new Proxy({}, {get() { throw new Error('trap'); }}));
      zt.apply(null, {length: 3});
      zt('track', 'page_completed', {step: {index: 0, id: 'sentinel'}});
    }""")
    events = env.wait_for_beacon_events("lead")
    env.wait_for_pixel_tracks("Lead")

    assert env.errors == []
    warnings = env.tracker_warnings()
    for expected in ['unknown command "nope"', "unknown command undefined", "unknown command null",
                     "unknown command 42", "unknown event 42", 'unknown event "made_up"',
                     "could not read value", "could not read price", "properties must be an object",
                     "init needs {session_id}", "consent takes true or false", "session needs a callback",
                     "session callback threw", "event_id must be", "value needs to be",
                     "email_captured needs {email", "step must be"]:
        assert any(expected in w for w in warnings), (expected, warnings)

    by_name = {}
    for e in events:
        by_name.setdefault(e["event"], []).append(e)
    checkout = by_name["checkout_presented"][0]
    assert checkout["value"] == 5 and checkout["currency"] == "USD"
    assert checkout["contents"] == [{"content_id": "7"}]
    assert len(by_name["page_view"]) == 4  # the throwing getter, bad id, revoked and trapping proxies
    assert all("value" not in e for e in by_name["page_view"])
    assert "email" not in by_name["email_captured"][0]
    assert "value" not in by_name["payment_method_added"][0]
    assert by_name["page_completed"][-1]["step"] == {"index": 0, "id": "sentinel"}
    assert all(re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", e["event_id"]) for e in events)

    added = set(env.page.evaluate("Object.keys(window)")) - set(env.page.evaluate("window.__globalsBefore"))
    assert added - {"__globalsBefore", "__trackerLoaded"} == {"zt", "ttq", "TiktokAnalyticsObject"}


@pytest.mark.parametrize("breakage", [
    "Navigator.prototype.sendBeacon = function () { return false; };",
    "delete Navigator.prototype.sendBeacon;",
])
def test_keepalive_fetch_when_send_beacon_fails_or_is_missing(env, breakage):
    env.page.add_init_script(breakage)
    env.add_page("/fallback", before="zt('track', 'page_view');")
    env.open("/fallback")
    env.wait_for_beacon_events("page_view")
    env.wait_for_pixel_tracks("PageView")  # the stand-in falls back to fetch as well
    beacons, _ = env.rec.snapshot()
    assert len(beacons) == 1
    assert beacons[0]["headers"]["Content-Type"] == "text/plain"
    assert beacons[0]["headers"]["Sec-Fetch-Mode"] == "cors"
    assert "Cookie" not in beacons[0]["headers"]


def test_beacons_carry_at_most_fifty_events(env):
    env.add_page("/many", before="""
      for (var i = 0; i < 120; i++) zt('track', 'page_view');
    """)
    env.open("/many")
    env.wait(lambda: len(env.beacon_events()) == 120, "120 beacon events")
    beacons, _ = env.rec.snapshot()
    assert sorted(len(b["body"]["events"]) for b in beacons) == [20, 50, 50]
    assert all(b["headers"]["Sec-Fetch-Mode"] == "no-cors" for b in beacons)  # sendBeacon


def test_lead_waits_for_the_first_step(env):
    env.add_page("/later-step", before="""
      zt('init', {session_id: 'sess-steps'});
      zt('track', 'page_completed', {step: {index: 2, id: 'quiz-3'}});
      zt('track', 'page_completed', {step: {index: 0, id: 'quiz-1'}});
    """)
    env.open("/later-step")
    events = env.wait_for_beacon_events("lead")
    assert [e["event"] for e in events] == ["page_completed", "page_completed", "lead"]
    assert events[2]["event_id"] == "sess-steps:lead"


def test_payment_outcome_without_a_stripe_id_fires_nothing_and_warns(env):
    hold_pixel_sdk(env)
    env.page.add_init_script(SPY)
    env.add_page("/pay", before="""
      zt('init', {session_id: 'sess-no-id'});
      zt('track', 'payment_succeeded', {value: 9.99, currency: 'USD'});
      zt('track', 'payment_failed', {event_id: 'not a stripe id!', value: 9.99, currency: 'USD'});
      zt('track', 'trial_started', {event_id: ''});
      zt('track', 'subscription_started', null);
      zt('track', 'payment_succeeded', {event_id: 'pi_3QwithID', value: 9.99, currency: 'USD'});
      zt('track', 'page_view');
    """)
    env.open("/pay")
    env.wait_for_beacon_events("page_view")  # the sentinel: every earlier command has run

    stub = env.stub_queue()
    assert [(e[0], e[1] if e[0] == "track" else None) for e in stub] == [
        ("identify", None), ("track", "CompletePayment"), ("track", "PageView")]
    assert stub[1][3] == {"event_id": "pi_3QwithID"}
    assert [e["event"] for e in env.beacon_events()] == ["page_view"]
    assert [url for url in env.page.evaluate("window.__endpointCalls") if "/v1/events" in url] == [
        f"{env.api}/v1/events"]
    warnings = env.tracker_warnings()
    for name, given in (("payment_succeeded", "undefined"), ("payment_failed", '"not a stripe id!"'),
                        ("trial_started", '""'), ("subscription_started", "undefined")):
        assert any(w.startswith(f"[zt] {name} needs the Stripe id as event_id") and f"got {given};" in w
                   and "nothing sent" in w for w in warnings), (name, warnings)
    assert env.errors == []


def test_identify_gets_the_normalised_strings_the_beacon_carries(env):
    hold_pixel_sdk(env)
    env.add_page("/capture", before="""
      zt('init', {session_id: '  Sess-MiXeD-42\\t'});
      zt('track', 'page_view');
      zt('track', 'email_captured', {email: '  Ann.Smith+Quiz@Example.COM ', phone: ' +44 (20) 7183-8750 '});
      zt('track', 'email_captured', {email: 'bob@example.com', phone: 'call me maybe'});
      zt('track', 'email_captured', {phone: '+1.415.555.0100'});
      zt('session', function (id) { window.__sid = id; });
    """)
    env.open("/capture")
    env.wait(lambda: len(env.beacon_events()) == 4, "four beacon events")
    events = env.beacon_events()

    # The session keeps the page's spelling (Stripe metadata carries it); only the hash input is folded.
    assert env.page.evaluate("window.__sid") == "Sess-MiXeD-42"
    assert env.rec.snapshot()[0][0]["body"]["session_id"] == "Sess-MiXeD-42"
    identifies = [e[1] for e in env.stub_queue() if e[0] == "identify"]
    assert identifies == [
        {"external_id": "sess-mixed-42"},
        {"email": "ann.smith+quiz@example.com", "phone_number": "+442071838750", "external_id": "sess-mixed-42"},
        {"email": "bob@example.com", "external_id": "sess-mixed-42"},
        {"phone_number": "+14155550100", "external_id": "sess-mixed-42"},
    ]
    captured = [e for e in events if e["event"] == "email_captured"]
    assert [(e.get("email"), e.get("phone")) for e in captured] == [
        ("ann.smith+quiz@example.com", "+442071838750"), ("bob@example.com", None), (None, "+14155550100")]
    assert "phone" not in events[0] and "email" not in events[0]
    assert any("phone must be an international number" in w for w in env.tracker_warnings())
    assert any("email_captured needs {email" in w for w in env.tracker_warnings())


# Inputs where JavaScript's trim/toLowerCase and Python's strip/lower could part ways.
TRICKY_EMAILS = [
    "  Ann@Example.COM ", "\u00a0Bob@EXAMPLE.com\u3000", "\x1cCarol@Example.com\x1f", "\ufeffDan@Example.com",
    "\u0085Eve@Example.com\u2028", "ÉMILE@Exämple.COM", "İnci@Example.com", "ΟΔΥΣΣΕΥΣ@Example.gr", "Straße@ẞ.de",
]


def test_for_tricky_input_the_server_hashes_exactly_what_the_pixel_got(env):
    """SHA-256 of the Pixel's email equals the Events API's: the server's normalisation leaves the
    tracker's output as it is, and accepts it."""
    from zellify_tiktok.hashing import hash_email, is_valid_email

    hold_pixel_sdk(env)
    env.add_page("/tricky", before=f"""
      zt('init', {{session_id: 'sess-tricky'}});
      {json.dumps(TRICKY_EMAILS)}.forEach(function (email) {{ zt('track', 'email_captured', {{email: email}}); }});
    """)
    env.open("/tricky")
    env.wait(lambda: len(env.beacon_events()) == len(TRICKY_EMAILS), "every capture")
    pixel_emails = [e[1]["email"] for e in env.stub_queue() if e[0] == "identify" and "email" in e[1]]
    beacon_emails = [e["email"] for e in env.beacon_events()]
    assert pixel_emails == beacon_emails and len(beacon_emails) == len(TRICKY_EMAILS)
    for email in beacon_emails:
        assert is_valid_email(email), email
        assert hash_email(email) == hashlib.sha256(email.encode()).hexdigest(), email
    assert beacon_emails[:4] == ["ann@example.com", "bob@example.com", "carol@example.com", "dan@example.com"]


def consent_beacons(env) -> list[dict]:
    return [b["body"] for b in env.rec.snapshot()[0] if b["body"]["events"] == []]


@pytest.mark.parametrize("require_consent", [True, False])
def test_consent_withdrawn_after_tracking_tells_the_server(env, require_consent):
    env.rec.config["require_consent"] = require_consent
    env.context.add_cookies([{"name": "_ttp", "value": TTP, "url": env.site}])
    env.add_page("/withdraw", before="""
      zt('init', {session_id: 'sess-withdraw'});
      zt('consent', true);
      zt('track', 'page_view');
    """)
    env.open("/withdraw?ttclid=E.C.P.withdraw")
    env.wait_for_beacon_events("page_view")
    # Tracked and withdrawn in one tick: the event is the Pixel's only; its beacon would race the withdrawal.
    env.page.evaluate("() => { zt('track', 'page_completed', {step: {index: 1, id: 'q'}}); zt('consent', false); }")
    env.wait(lambda: consent_beacons(env), "the consent-only beacon")
    env.page.evaluate("zt('consent', false)")  # said again: nothing new to tell
    env.page.evaluate("() => { zt('consent', true); zt('track', 'page_view'); }")
    env.wait(lambda: len(env.rec.snapshot()[0]) == 3, "the beacon after granting again")

    beacons = env.rec.snapshot()[0]
    assert [b["body"]["events"] != [] for b in beacons] == [True, False, True]
    withdrawal = beacons[1]
    # Only what the server needs to find the session: no ttp, no click id, no events.
    assert withdrawal["body"] == {"campaign_id": CAMPAIGN, "session_id": "sess-withdraw", "consent": False,
                                  "events": []}
    assert withdrawal["headers"]["Content-Type"] == "text/plain"
    assert withdrawal["headers"]["Sec-Fetch-Mode"] == "no-cors"  # sendBeacon
    assert beacons[2]["body"]["consent"] is True
    assert [e["event"] for e in env.beacon_events()] == ["page_view", "page_view"]
    env.wait(lambda: env.pixel_calls("revokeConsent"), "revokeConsent")
    assert len(env.pixel_calls("revokeConsent")) == 1


def test_a_refusal_before_any_consent_sends_nothing(env):
    env.rec.config["require_consent"] = True
    env.page.add_init_script(SPY)
    env.add_page("/refuse-first", before="zt('init', {session_id: 'sess-never'}); zt('track', 'page_view');")
    env.open("/refuse-first")
    env.page.evaluate("zt('consent', false)")
    # A withdrawal is posted inside zt('consent', false) itself: the spy would hold it by now.
    assert env.page.evaluate("window.__endpointCalls") == []
    assert env.page.evaluate("localStorage.length") == 0


@pytest.mark.parametrize("breakage", [
    "Navigator.prototype.sendBeacon = function () { return false; };",
    "delete Navigator.prototype.sendBeacon;",
])
def test_consent_only_beacon_falls_back_to_keepalive_fetch(env, breakage):
    env.page.add_init_script(breakage)
    env.add_page("/withdraw-fetch", before="zt('init', {session_id: 'sess-fetch'}); zt('track', 'page_view');")
    env.open("/withdraw-fetch")
    env.wait_for_beacon_events("page_view")
    env.page.evaluate("zt('consent', false)")
    env.wait(lambda: consent_beacons(env), "the consent-only beacon")
    withdrawal = next(b for b in env.rec.snapshot()[0] if b["body"]["events"] == [])
    assert withdrawal["body"]["consent"] is False
    assert withdrawal["headers"]["Content-Type"] == "text/plain"
    assert withdrawal["headers"]["Sec-Fetch-Mode"] == "cors"


def test_no_consent_only_beacon_without_server_side_or_a_session(env):
    env.rec.config["server_side"] = False
    env.page.add_init_script(SPY)
    env.add_page("/pixel-only", before="zt('track', 'page_view');")
    env.open("/pixel-only")
    env.page.evaluate("zt('consent', false)")
    env.wait(lambda: env.pixel_calls("revokeConsent"), "revokeConsent")
    assert [url for url in env.page.evaluate("window.__endpointCalls") if "/v1/events" in url] == []
