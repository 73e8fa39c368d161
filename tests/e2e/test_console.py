"""The console (docs/design.md §10) in Chromium against the local stack, signed in through the OIDC stand-in.

The test event and health steps need the test-event and health routes (docs/design.md §6.4, §9) and
are written against their documented shapes.
"""

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import ARTIFACTS, launch_chromium

pytestmark = pytest.mark.e2e

PIXEL = "C4ABCDEF0123456789AB"
TOKEN = "tt-console-token-0123456789abcd"
TEST_CODE = "TEST12345"
HEALTH_TIMEOUT_S = 90  # docs/design.md §9: figures trail the truth by at most 60 s
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT")
ENGINEER_WORDS = ("pattern", "regex", "Value error", "String should", "Input should", "^[")


def snippet(base: str, campaign: str) -> str:
    return ('<script>window.zt=window.zt||function(){(zt.q=zt.q||[]).push(arguments)};</script>\n'
            f'<script async src="{base}/v1/campaigns/{campaign}/tracker.js"></script>')


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as chromium:
        yield chromium


class Console:
    """A signed-out browser tab on the console, recording what it sends and what the CSP refused."""

    def __init__(self, stack, browser, width: int = 1280, height: int = 900):
        self.stack = stack
        # One time zone, so the times the page writes can be read back exactly.
        self.context = browser.new_context(viewport={"width": width, "height": height}, timezone_id="UTC")
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.base_url)
        self.page = self.context.new_page()
        self.requests: list[tuple[str, str]] = []
        self.csp_violations: list[str] = []
        self.page.on("request", lambda request: self.requests.append((request.method, request.url)))
        self.page.on("console", self._console_message)

    def _console_message(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def by(self, testid: str):
        return self.page.get_by_test_id(testid)

    def sign_in(self, email: str = "operator@example.com", groups: str = "") -> None:
        """Through the OIDC stand-in's page; no groups: the admin group (docs/design.md §8)."""
        self.page.goto(self.stack.url("/console/"))
        self.by("sign-in").click()
        expect(self.by("login-email")).to_be_visible()
        assert urlsplit(self.page.url).path == "/_dev/oidc/authorize"
        self.by("login-email").fill(email)
        self.by("login-groups").fill(groups)
        self.by("login-submit").click()
        expect(self.by("campaign-list")).to_be_visible()
        expect(self.by("signed-in-as")).to_have_text(email)
        # The code and state are gone from the address at once; the token is in this tab's sessionStorage only.
        assert urlsplit(self.page.url).query == "", self.page.url

    def open(self, campaign_id: str) -> None:
        self.by(f"campaign-row-{campaign_id}").get_by_role("button").click()
        expect(self.page.locator("#editor-title")).to_have_text(campaign_id)

    def sent(self, method: str, path: str) -> list[str]:
        return [url for m, url in self.requests if m == method and urlsplit(url).path == path]

    def no_sideways_scroll(self) -> None:
        widths = self.page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"scrollWidth {widths[0]} > clientWidth {widths[1]}"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(stack, browser):
    tab = Console(stack, browser)
    yield tab
    tab.close()
    assert not tab.csp_violations, tab.csp_violations


@pytest.fixture
def campaign_id(stack):
    campaign = f"console-{uuid.uuid4().hex[:8]}"
    yield campaign
    stack.admin("DELETE", f"/v1/campaigns/{campaign}/tiktok")


def configure(stack, campaign: str, **settings) -> dict:
    answer = stack.admin("PUT", f"/v1/campaigns/{campaign}/tiktok", json={
        "pixel_id": PIXEL, "access_token": TOKEN, "allowed_origins": None, **settings})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_sign_in_create_refuse_a_bad_pixel_then_save_and_see_tiktoks_answer(stack, tiktok, console, campaign_id):
    console.sign_in()
    session = console.page.evaluate("JSON.parse(sessionStorage.getItem('zt.console.session'))")
    assert session["access_token"].count(".") == 2
    assert console.page.evaluate("localStorage.length") == 0
    expect(console.by("campaign-row-demo")).to_be_visible()

    console.by("new-campaign").click()
    console.by("field-campaign_id").fill("not allowed!")
    console.by("field-pixel_id").fill(PIXEL)
    console.by("save").click()
    expect(console.by("error-campaign_id")).not_to_be_empty()
    assert console.sent("PUT", "/v1/campaigns/not allowed!/tiktok") == []
    assert [m for m, url in console.requests if m == "PUT"] == [], "a refused id was sent"

    console.by("field-campaign_id").fill(campaign_id)
    console.by("field-pixel_id").fill("x")
    console.by("save").click()
    expect(console.by("error-pixel_id")).not_to_be_empty()
    expect(console.by("error-form")).to_contain_text("nothing was saved")
    assert stack.admin("GET", f"/v1/campaigns/{campaign_id}/tiktok").status_code == 404

    console.by("field-pixel_id").fill(PIXEL)
    console.by("field-access_token").fill(TOKEN)
    console.by("field-test_event_code").fill(TEST_CODE)
    console.by("save").click()
    expect(console.by("message")).to_have_text(f"Saved {campaign_id}. TikTok received the test event.", timeout=15_000)
    # Write-only: the field is empty again and names the stored token by its last four characters.
    expect(console.by("field-access_token")).to_have_value("")
    expect(console.by("field-access_token")).to_have_attribute("placeholder", f"…{TOKEN[-4:]} (stored; empty keeps it)")
    expect(console.by("test-code-status")).to_contain_text("it ends in 23 h 59 min (")
    stored = stack.admin("GET", f"/v1/campaigns/{campaign_id}/tiktok").json()
    assert (stored["pixel_id"], stored["access_token_last4"]) == (PIXEL, TOKEN[-4:])
    assert stored["test_event_code"] == TEST_CODE

    # Saved with a token and a test code: the console verifies them with a test event (docs/design.md §6.4).
    answer = console.by("test-event-answer")
    expect(answer).to_contain_text("TikTok answered code 0", timeout=15_000)
    [call] = [r for r in stack.tiktok_requests() if r["body"].get("event_source_id") == PIXEL]
    assert call["body"]["test_event_code"] == TEST_CODE
    assert call["headers"]["Access-Token"] == TOKEN
    [event] = call["body"]["data"]
    assert event["event"] == "PageView" and event["event_id"].startswith("zt-test-")
    expect(answer).to_contain_text(event["event_id"])
    expect(console.by(f"campaign-row-{campaign_id}")).to_contain_text("server-side on")
    expect(console.by(f"campaign-row-{campaign_id}")).to_contain_text("test code active")


def test_the_health_of_a_campaign_is_drawn(stack, tiktok, console, campaign_id):
    configure(stack, campaign_id)
    beacon = {"campaign_id": campaign_id, "session_id": f"s-{uuid.uuid4().hex}", "ttp": "ttp-console",
              "page_url": "https://funnel.example.com/",
              "events": [{"event": "page_view", "event_id": f"pv-{uuid.uuid4()}"}]}
    assert stack.request("POST", "/v1/events", data=json.dumps(beacon),
                         headers={"Content-Type": "text/plain"}).status_code == 202
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while True:
        health = stack.admin("GET", f"/v1/campaigns/{campaign_id}/tiktok/health?hours=24")
        assert health.status_code == 200, f"the health route answered {health.status_code} {health.text}"
        if any(e["event"] == "PageView" and e["sent"] >= 1 for e in health.json()["events"]):
            break
        assert time.monotonic() < deadline, f"no PageView counted within {HEALTH_TIMEOUT_S} s: {health.text}"
        time.sleep(1)

    console.sign_in()
    console.open(campaign_id)
    picture = console.by("health")
    expect(picture.get_by_test_id("health-event-PageView")).to_contain_text("1 sent")
    expect(picture.get_by_test_id("health-event-PageView").locator("meter")).to_have_attribute("value", "1")
    coverage = picture.get_by_test_id("health-coverage-external_id")
    expect(coverage).to_contain_text("100 %")
    expect(picture.get_by_test_id("health-coverage-ttp")).to_contain_text("100 %")
    expect(picture).to_contain_text("Revenue")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    console.page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)


def test_copy_the_snippet_then_delete_the_campaign(stack, console, campaign_id):
    configure(stack, campaign_id)
    console.sign_in()
    console.open(campaign_id)
    lines = snippet(stack.base_url, campaign_id)
    expect(console.by("snippet")).to_have_text(lines)
    console.by("copy-snippet").click()
    expect(console.by("copy-status")).to_have_text("Copied.")
    assert console.page.evaluate("navigator.clipboard.readText()") == lines

    console.by("delete-campaign").click()
    expect(console.by("delete-confirmation")).to_be_visible()
    console.by("cancel-delete").click()
    expect(console.by("delete-confirmation")).to_be_hidden()
    assert stack.admin("GET", f"/v1/campaigns/{campaign_id}/tiktok").status_code == 200, "deleted without confirmation"
    console.by("delete-campaign").click()
    console.by("confirm-delete").click()
    expect(console.by("message")).to_have_text(f"Deleted {campaign_id}.")
    expect(console.by("campaign-list")).to_be_visible()
    expect(console.by(f"campaign-row-{campaign_id}")).to_have_count(0)
    assert stack.admin("GET", f"/v1/campaigns/{campaign_id}/tiktok").status_code == 404

    console.by("sign-out").click()
    expect(console.by("sign-in")).to_be_visible()
    assert console.page.evaluate("sessionStorage.getItem('zt.console.session')") is None
    assert urlsplit(console.page.url).path == "/console/"


def test_the_console_fits_a_phone_without_sideways_scroll(stack, browser, campaign_id):
    configure(stack, campaign_id, test_event_code=TEST_CODE, allowed_origins=["https://a-rather-long-funnel-domain.example.com"])
    phone = Console(stack, browser, width=390, height=844)
    try:
        phone.sign_in()
        expect(phone.by(f"campaign-row-{campaign_id}")).to_be_visible()
        phone.no_sideways_scroll()
        phone.open(campaign_id)
        expect(phone.by("snippet")).not_to_be_empty()
        phone.no_sideways_scroll()
        phone.by("close-editor").click()
        phone.by("new-campaign").click()
        phone.no_sideways_scroll()
    finally:
        phone.close()


def test_a_failed_save_keeps_what_the_operator_typed(stack, console, campaign_id):
    console.sign_in()
    console.by("new-campaign").click()
    console.by("field-campaign_id").fill(campaign_id)
    console.by("field-pixel_id").fill(PIXEL)
    console.by("field-access_token").fill(TOKEN)
    console.by("field-allowed_origins").fill("https://funnel.example.com")
    path = f"/v1/campaigns/{campaign_id}/tiktok"

    console.page.route(f"**{path}", lambda route: route.fulfill(
        status=503, content_type="application/json",
        body=json.dumps({"error": {"code": "service_unavailable", "message": "a backing service is unavailable"}})))
    console.by("save").click()
    expect(console.by("error-form")).to_contain_text("The API failed (503)")
    console.page.unroute(f"**{path}")

    console.page.route(f"**{path}", lambda route: route.abort("connectionrefused"))
    console.by("save").click()
    expect(console.by("error-form")).to_contain_text("the API did not answer")
    console.page.unroute(f"**{path}")

    for testid, value in (("field-campaign_id", campaign_id), ("field-pixel_id", PIXEL), ("field-access_token", TOKEN),
                          ("field-allowed_origins", "https://funnel.example.com")):
        expect(console.by(testid)).to_have_value(value)
    assert stack.admin("GET", path).status_code == 404
    console.by("save").click()
    expect(console.by("message")).to_have_text(f"Saved {campaign_id}.")


def test_campaign_data_is_shown_as_text_never_as_markup(stack, console):
    hostile = '<img src="x" data-injected="1">'
    listing = {"campaigns": [{
        "campaign_id": "markup", "pixel_id": hostile, "enabled": True, "server_side": True, "test_event_code": None,
        "test_event_code_expires_at": None, "access_token_last4": "abcd", "warnings": [f"warning {hostile}"],
        "last_delivery": {"at": "2026-12-01T08:00:00Z", "code": 40001, "message": hostile}}]}
    console.page.route("**/v1/campaigns", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(listing)))
    console.sign_in()
    row = console.by("campaign-row-markup")
    expect(row).to_contain_text(hostile)
    expect(row).to_contain_text(f"warning {hostile}")
    assert console.page.locator("[data-injected]").count() == 0


def test_a_sign_in_answer_that_was_not_asked_for_is_refused(stack, console):
    console.page.goto(stack.url("/console/?code=stolen-code&state=not-ours"))
    expect(console.by("message")).to_contain_text("(state)")
    expect(console.by("sign-in")).to_be_visible()
    assert urlsplit(console.page.url).query == ""
    assert console.sent("POST", "/_dev/oidc/token") == []
    assert console.page.evaluate("sessionStorage.getItem('zt.console.session')") is None


def page_text(console) -> str:
    return console.page.evaluate("document.body.innerText")


def assert_plain(text: str) -> None:
    for word in ENGINEER_WORDS:
        assert word.lower() not in text.lower(), (word, text)


def test_every_invalid_field_is_marked_at_once_in_plain_words(stack, console, campaign_id):
    console.sign_in()
    console.by("new-campaign").click()
    typed = {"campaign_id": "not allowed!", "pixel_id": "C4AB-CDEF-0123", "access_token": "tök€n-1234",
             "test_event_code": "T!",
             "allowed_origins": "ftp://funnel.example.com/path", "event_names": "nope = Purchase\npage_view = Buy now",
             "stripe_account": "bogus"}
    console.page.locator("details.more > summary").click()
    for name, value in typed.items():
        console.by(f"field-{name}").fill(value)
    console.page.locator("details.more > summary").click()  # folded again: an error must unfold it
    console.by("save").click()
    for name in typed:
        error = console.by(f"error-{name}")
        expect(error).to_be_visible()
        assert_plain(error.inner_text())
        expect(console.by(f"field-{name}")).to_have_attribute("aria-invalid", "true")
    expect(console.by("error-pixel_id")).to_have_text(
        "This Pixel ID holds characters it cannot have (\"-\"). A Pixel ID is 8 to 64 letters and digits, as shown "
        "in TikTok Events Manager (e.g. C4ABCDEF0123456789AB).")
    # A token's characters are never shown.
    expect(console.by("error-access_token")).to_contain_text("This access token holds characters it cannot have. ")
    expect(console.by("error-form")).to_have_text("Fix the 7 marked fields: nothing was saved.")
    assert [m for m, _ in console.requests if m == "PUT"] == []


def test_the_apis_refusals_are_shown_at_their_fields_as_they_come(stack, console, campaign_id):
    """Whatever the form lets through, the API's 422 details land at their fields, in the API's words."""
    console.sign_in()
    console.by("new-campaign").click()
    console.by("field-campaign_id").fill(campaign_id)
    console.by("field-pixel_id").fill(PIXEL)
    path = f"/v1/campaigns/{campaign_id}/tiktok"
    # The real API gets a body the form would never send; its real answer comes back to the page.
    console.page.route(f"**{path}", lambda route: route.continue_(post_data=json.dumps(
        {"pixel_id": "x", "enabled": "yes", "allowed_origins": ["ftp://x"], "extra": 1})))
    console.by("save").click()
    expect(console.by("error-form")).to_contain_text("nothing was saved")
    for name in ("pixel_id", "enabled", "allowed_origins"):
        expect(console.by(f"error-{name}")).not_to_be_empty()
        assert_plain(console.by(f"error-{name}").inner_text())
    expect(console.by("error-pixel_id")).to_contain_text("A Pixel ID is 8 to 64 letters and digits")
    expect(console.by("error-form")).to_contain_text('"extra" is not a setting of a campaign')
    assert stack.admin("GET", path).status_code == 404


def test_spaces_pasted_in_the_pixel_id_token_and_test_code_are_removed(stack, tiktok, console, campaign_id):
    console.sign_in()
    console.by("new-campaign").click()
    console.by("field-campaign_id").fill(campaign_id)
    console.by("field-pixel_id").fill("  C4AB CDEF 0123\t4567 89AB \n")
    console.by("field-access_token").fill(f" {TOKEN[:10]} {TOKEN[10:]} ")
    console.by("field-test_event_code").fill(" TEST 12345 ")
    console.by("save").click()
    expect(console.by("message")).to_contain_text(f"Saved {campaign_id}.", timeout=15_000)
    expect(console.by("field-pixel_id")).to_have_value(PIXEL)
    expect(console.by("field-test_event_code")).to_have_value(TEST_CODE)
    stored = stack.admin("GET", f"/v1/campaigns/{campaign_id}/tiktok").json()
    assert (stored["pixel_id"], stored["test_event_code"]) == (PIXEL, TEST_CODE)
    assert stored["access_token_last4"] == TOKEN[-4:]


def test_a_refused_test_event_is_said_at_the_top_not_a_bare_saved(stack, tiktok, console, campaign_id):
    revoked = "tt-revoked-token-0123456789wxyz"
    stack.mark_token(revoked, "revoked")
    configure(stack, campaign_id)
    console.sign_in()
    console.open(campaign_id)
    console.by("field-access_token").fill(revoked)
    console.by("field-test_event_code").fill(TEST_CODE)
    console.by("save").click()
    message = console.by("message")
    expect(message).to_contain_text("Saved, but TikTok refused the test event: 40105", timeout=15_000)
    expect(message).to_have_attribute("data-kind", "warn")
    expect(console.by("test-event-answer")).to_contain_text("TikTok answered code 40105")
    expect(console.by("test-event-answer")).to_contain_text("TikTok refused the test event")


def test_the_preset_fills_tiktoks_current_names_in_one_click(stack, console, campaign_id):
    configure(stack, campaign_id, event_names={"page_completed": "StepDone", "payment_succeeded": "CompletePayment"})
    console.sign_in()
    console.open(campaign_id)
    summary = console.page.locator("details.more > summary")
    expect(summary).to_be_visible()
    expect(console.by("preset-tiktok-names")).to_be_hidden()
    summary.click()
    console.by("preset-tiktok-names").click()
    names = console.by("field-event_names").input_value()
    assert "payment_succeeded = Purchase" in names and "lead = Lead" in names and "page_completed = StepDone" in names
    console.by("save").click()
    expect(console.by("message")).to_have_text(f"Saved {campaign_id}.")
    stored = stack.admin("GET", f"/v1/campaigns/{campaign_id}/tiktok").json()["event_names"]
    assert stored == {"page_completed": "StepDone", "payment_succeeded": "Purchase", "lead": "Lead",
                      "page_view": "Pageview"}


def test_no_time_on_the_page_reads_as_an_iso_string(stack, console, campaign_id):
    configure(stack, campaign_id, test_event_code=TEST_CODE)
    listing = stack.admin("GET", "/v1/campaigns").json()
    for view in listing["campaigns"]:
        view["last_delivery"] = {"at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(), "outcome": "sent",
                                 "code": 0, "message": "OK", "http_status": 200}
    console.page.route("**/v1/campaigns", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(listing)))
    console.sign_in()
    row = console.by(f"campaign-row-{campaign_id}")
    expect(row).to_contain_text("test code active · ends in 23 h")
    expect(row).to_contain_text("Last delivery 5 min ago (")
    assert not ISO_TIME.search(page_text(console)), page_text(console)
    console.open(campaign_id)
    expect(console.by("health")).to_contain_text("From ")
    expect(console.by("test-code-status")).to_contain_text("it ends in 23 h")
    assert not ISO_TIME.search(page_text(console)), page_text(console)


def audit_entry(at: datetime, action: str, **fields) -> dict:
    return {"at": at.isoformat().replace("+00:00", "Z"), "action": action, "source_ip": "203.0.113.7",
            "actor": {"sub": "u-1", "email": "alice@agency-a.example", "client_id": None, "groups": ["growth"]},
            "changes": [], **fields}


def test_the_history_panel_tells_who_changed_what_and_when(stack, console, campaign_id):
    configure(stack, campaign_id)
    at = datetime(datetime.now(UTC).year, 12, 7, 18, 35, tzinfo=UTC)
    entries = [
        audit_entry(at, "updated", changes=[{"field": "allowed_origins", "old": None, "new": ["https://a.example"]}]),
        audit_entry(at, "updated", changes=[{"field": "access_token", "old": None, "new": "replaced",
                                             "new_last4": "abcd"}]),
        audit_entry(at, "updated", changes=[
            {"field": "test_event_code", "old": None, "new": "TEST1"},
            {"field": "test_event_code_expires_at", "old": None, "new": "2026-12-08T18:35:00Z"},
            {"field": "enabled", "old": True, "new": False},
            {"field": "access_token", "old": None, "new": "removed", "new_last4": None}]),
        audit_entry(at, "test_event", test_event={"code": 40105, "message": "Access token is invalid"}),
        {**audit_entry(at, "created"), "actor": {"sub": "m2m", "email": None, "client_id": "deploy-bot", "groups": []}},
    ]
    console.page.route(f"**/v1/campaigns/{campaign_id}/tiktok/audit?limit=50", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps({"entries": entries})))
    console.sign_in()
    console.open(campaign_id)
    expect(console.by("audit").get_by_test_id("audit-entry")).to_have_text([
        "alice@agency-a.example changed allowed origins, 7 Dec 18:35",
        "alice@agency-a.example replaced the access token (…abcd), 7 Dec 18:35",
        "alice@agency-a.example changed the test event code, turned the campaign off and removed the access token, "
        "7 Dec 18:35",
        "alice@agency-a.example sent a test event (TikTok answered 40105 Access token is invalid), 7 Dec 18:35",
        "deploy-bot created the campaign, 7 Dec 18:35",
    ])
    assert not ISO_TIME.search(page_text(console))


def test_the_history_panel_reads_the_real_audit_route_after_each_save(stack, console, campaign_id):
    console.sign_in("alice@agency-a.example")
    console.by("new-campaign").click()
    console.by("field-campaign_id").fill(campaign_id)
    console.by("field-pixel_id").fill(PIXEL)
    console.by("save").click()
    entries = console.by("audit").get_by_test_id("audit-entry")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("alice@agency-a.example created the campaign, ")
    console.by("field-allowed_origins").fill("https://funnel.example.com")
    console.by("field-access_token").fill(TOKEN)
    console.by("save").click()
    expect(entries).to_have_count(2)
    expect(entries.first).to_contain_text(
        f"alice@agency-a.example changed allowed origins and replaced the access token (…{TOKEN[-4:]}), ")
    assert not ISO_TIME.search(page_text(console))


def test_without_a_history_route_the_panel_says_no_history_yet(stack, console, campaign_id):
    configure(stack, campaign_id)
    console.page.route("**/tiktok/audit?limit=50", lambda route: route.fulfill(
        status=404, content_type="application/json", body=json.dumps({"message": "Not Found"})))
    console.sign_in()
    console.open(campaign_id)
    expect(console.by("audit")).to_have_text("No history yet.")
    expect(console.by("message")).to_be_hidden()


def test_an_admin_sees_and_saves_who_may_see_the_campaign(stack, console, campaign_id):
    view = configure(stack, campaign_id)
    path = f"/v1/campaigns/{campaign_id}/tiktok"
    sent: list[dict] = []

    def settings_route(route):
        if route.request.method == "PUT":
            sent.append(json.loads(route.request.post_data))
            body = {**view, **sent[-1]}
        else:
            body = {**view, "access": ["growth"]}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    console.page.route(f"**{path}", settings_route)
    console.sign_in()  # no group: the admin group (docs/design.md §8)
    console.open(campaign_id)
    expect(console.by("field-access")).to_have_value("growth")
    console.by("field-access").fill("growth, agency-a")
    console.by("save").click()
    expect(console.by("message")).to_have_text(f"Saved {campaign_id}.")
    assert sent[-1]["access"] == ["growth", "agency-a"]

    # A server that does not count this operator as an admin says so at the field.
    console.page.unroute(f"**{path}")
    refusal = {"error": {"code": "access_admin_only", "message": "only admins change access", "details": []}}
    console.page.route(f"**{path}", lambda route: route.fulfill(
        status=403, content_type="application/json", body=json.dumps(refusal)))
    console.by("save").click()
    expect(console.by("error-access")).to_contain_text("Only admins may change who sees a campaign")


def test_someone_not_an_admin_sees_who_may_see_the_campaign_but_does_not_change_it(stack, console, campaign_id):
    configure(stack, campaign_id)
    stack.admin("PUT", f"/v1/campaigns/{campaign_id}/tiktok", json={"pixel_id": PIXEL, "access": ["growth"]})
    puts: list[dict] = []
    console.page.on("request", lambda request: puts.append(json.loads(request.post_data))
                    if request.method == "PUT" else None)
    console.sign_in("grower@example.com", groups="growth")
    console.open(campaign_id)
    expect(console.by("field-access")).to_have_value("growth")
    expect(console.by("field-access")).not_to_be_editable()
    expect(console.by("access-hint")).to_contain_text("Only an admin changes this.")
    console.by("field-allowed_origins").fill("https://growth.example.com")
    console.by("save").click()
    expect(console.by("message")).to_have_text(f"Saved {campaign_id}.")
    assert "access" not in puts[-1]  # omitted: the stored groups stay
    stored = stack.admin("GET", f"/v1/campaigns/{campaign_id}/tiktok").json()
    assert (stored["access"], stored["allowed_origins"]) == (["growth"], ["https://growth.example.com"])


def test_errors_the_disclosure_and_history_fit_a_phone(stack, browser, campaign_id):
    configure(stack, campaign_id, test_event_code=TEST_CODE)
    phone = Console(stack, browser, width=390, height=844)
    try:
        phone.sign_in()
        phone.open(campaign_id)
        phone.page.locator("details.more > summary").click()
        phone.by("field-pixel_id").fill("x" * 70)
        phone.by("field-allowed_origins").fill("https://a-really-long-funnel-domain-name.example.com/with/a/path")
        phone.by("save").click()
        expect(phone.by("error-allowed_origins")).to_be_visible()
        expect(phone.by("audit")).not_to_be_empty()
        phone.no_sideways_scroll()
    finally:
        phone.close()
