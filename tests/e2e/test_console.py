"""The console (docs/design.md §10) in Chromium against the local stack, signed in through the OIDC stand-in.

The test event and health steps need the test-event and health routes (docs/design.md §6.4, §9) and
are written against their documented shapes.
"""

import json
import time
import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import ARTIFACTS, launch_chromium

pytestmark = pytest.mark.e2e

PIXEL = "C4ABCDEF0123456789AB"
TOKEN = "tt-console-token-0123456789abcd"
TEST_CODE = "TEST12345"
HEALTH_TIMEOUT_S = 90  # docs/design.md §9: figures trail the truth by at most 60 s


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
        self.context = browser.new_context(viewport={"width": width, "height": height})
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
    expect(console.by("message")).to_have_text(f"Saved {campaign_id}.")
    # Write-only: the field is empty again and names the stored token by its last four characters.
    expect(console.by("field-access_token")).to_have_value("")
    expect(console.by("field-access_token")).to_have_attribute("placeholder", f"…{TOKEN[-4:]} (stored; empty keeps it)")
    expect(console.by("test-code-status")).to_contain_text("h 59 min left")
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
