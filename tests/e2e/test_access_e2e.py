"""Who may touch a campaign, over HTTP against the local stack (docs/design.md §6.4, §8): two agencies and
an admin with tokens from POST /_dev/oidc/dev-token, verified by the local JWT authorizer; and the
sign-in page with groups in Chromium."""

import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import launch_chromium

pytestmark = pytest.mark.e2e

PIXEL = "C4ABCDEF0123456789AB"
TOKEN = "tt-access-e2e-token-0123456789wxyz"


def token_for(stack, email: str, groups: list[str] | None = None) -> str:
    body = {"email": email, **({"groups": groups} if groups is not None else {})}
    answer = stack.request("POST", "/_dev/oidc/dev-token", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


class Person:
    def __init__(self, stack, email: str, groups: list[str] | None):
        self.stack = stack
        self.authorization = f"Bearer {token_for(stack, email, groups)}"

    def __call__(self, method: str, path: str, **kwargs):
        return self.stack.request(method, path, headers={"Authorization": self.authorization}, **kwargs)

    def campaigns(self) -> set[str]:
        answer = self("GET", "/v1/campaigns")
        assert answer.status_code == 200, answer.text
        return {campaign["campaign_id"] for campaign in answer.json()["campaigns"]}


@pytest.fixture
def ids(stack):
    made = {name: f"{name}-{uuid.uuid4().hex[:8]}" for name in ("acme", "beta")}
    yield made
    for campaign in made.values():
        stack.admin("DELETE", f"/v1/campaigns/{campaign}/tiktok")


def test_two_agencies_each_see_and_change_only_their_own_campaigns_and_an_admin_all(stack, tiktok, ids):
    acme = Person(stack, "ann@acme.example", ["agency-acme"])
    beta = Person(stack, "bob@beta.example", ["agency-beta"])
    admin = Person(stack, "ops@zellify.example", None)  # no groups given: the admin group
    settings = {"pixel_id": PIXEL, "access_token": TOKEN, "test_event_code": "TEST123"}
    assert acme("PUT", f"/v1/campaigns/{ids['acme']}/tiktok", json=settings).json()["access"] == ["agency-acme"]
    assert beta("PUT", f"/v1/campaigns/{ids['beta']}/tiktok", json=settings).status_code == 200

    assert ids["acme"] in acme.campaigns() and ids["beta"] not in acme.campaigns()
    assert ids["beta"] in beta.campaigns() and ids["acme"] not in beta.campaigns()
    assert {ids["acme"], ids["beta"], "demo"} <= admin.campaigns()

    theirs = f"/v1/campaigns/{ids['beta']}/tiktok"
    unknown = f"/v1/campaigns/nothing-{uuid.uuid4().hex[:8]}/tiktok"
    for method, suffix, body in (("GET", "", None), ("PUT", "", settings), ("DELETE", "", None),
                                 ("POST", "/test-event", {}), ("GET", "/health", None), ("GET", "/audit", None)):
        refused = acme(method, theirs + suffix, json=body)
        assert refused.status_code == 404, (method, suffix, refused.text)
        assert refused.json()["error"]["code"] == "unknown_campaign"
        if method != "PUT":  # a PUT to a free id would create it
            missing = acme(method, unknown + suffix, json=body)
            assert (missing.status_code, missing.json()["error"]["code"]) == (404, "unknown_campaign")
    assert tiktok.tiktok_requests() == []  # nobody's test event went out

    changed = acme("PUT", f"/v1/campaigns/{ids['acme']}/tiktok", json={**settings, "access": ["agency-beta"]})
    assert changed.status_code == 403 and changed.json()["error"]["code"] == "access_admin_only"
    shared = admin("PUT", f"/v1/campaigns/{ids['acme']}/tiktok", json={**settings, "access": ["agency-acme",
                                                                                               "agency-beta"]})
    assert shared.status_code == 200 and ids["acme"] in beta.campaigns()


def test_every_change_is_in_the_history_which_outlives_the_campaign(stack, tiktok, ids):
    acme = Person(stack, "ann@acme.example", ["agency-acme"])
    path = f"/v1/campaigns/{ids['acme']}/tiktok"
    assert acme("PUT", path, json={"pixel_id": PIXEL, "access_token": TOKEN, "test_event_code": "TEST123"}).ok
    test_event = acme("POST", f"{path}/test-event", json={})
    assert test_event.status_code == 200, test_event.text
    assert acme("DELETE", path).status_code == 204

    assert acme("GET", f"{path}/audit").status_code == 404  # gone for her
    entries = stack.admin("GET", f"{path}/audit", params={"limit": "10"}).json()["entries"]
    assert [e["action"] for e in entries] == ["deleted", "test_event", "created"]
    assert entries[1]["test_event"]["code"] == test_event.json()["code"]
    created = entries[2]
    assert created["actor"]["email"] == "ann@acme.example" and created["actor"]["groups"] == ["agency-acme"]
    assert created["source_ip"] == "127.0.0.1"
    assert {"field": "access_token", "old": None, "new": "replaced", "new_last4": "wxyz"} in created["changes"]
    assert TOKEN not in str(entries)
    assert stack.admin("GET", f"{path}/audit", params={"limit": "0"}).status_code == 422


def test_the_function_log_names_the_caller(stack, ids):
    acme = Person(stack, "ann@acme.example", ["agency-acme"])
    assert acme("GET", f"/v1/campaigns/{ids['beta']}/tiktok").status_code == 404  # "request refused" is logged
    view = acme("PUT", f"/v1/campaigns/{ids['acme']}/tiktok", json={"pixel_id": PIXEL}).json()
    assert view["access"] == ["agency-acme"]
    history = stack.admin("GET", f"/v1/campaigns/{ids['acme']}/tiktok/audit").json()["entries"]
    # make dev writes the function's line readably (local/devlog.py): `… request refused · sub=… status=404 …`.
    assert f'sub={history[0]["actor"]["sub"]}' in stack.log_tail(400)


def test_a_dev_token_is_only_given_for_json(stack):
    answer = stack.request("POST", "/_dev/oidc/dev-token", data='{"email": "ops@example.com"}',
                           headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415 and "access_token" not in answer.text


# The sign-in page in Chromium


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as chromium:
        yield chromium


@pytest.mark.parametrize("width", [390, 1280])
def test_signing_in_with_a_group_shows_only_that_groups_campaigns(stack, browser, ids, width):
    admin = Person(stack, "ops@zellify.example", None)
    admin("PUT", f"/v1/campaigns/{ids['acme']}/tiktok", json={"pixel_id": PIXEL, "access": ["agency-acme"]})
    admin("PUT", f"/v1/campaigns/{ids['beta']}/tiktok", json={"pixel_id": PIXEL, "access": ["agency-beta"]})
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    try:
        page.goto(stack.url("/console/"))
        page.get_by_test_id("sign-in").click()
        expect(page.get_by_test_id("login-groups")).to_be_visible()
        assert urlsplit(page.url).path == "/_dev/oidc/authorize"
        # The console's look, phone-width too: its stylesheet applied, nothing wider than the screen.
        assert page.evaluate("getComputedStyle(document.querySelector('button')).backgroundColor") == "rgb(254, 44, 85)"
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], widths
        expect(page.get_by_test_id("login-groups")).to_have_attribute("placeholder", "zellify-admins")

        page.get_by_test_id("login-email").fill("ann@acme.example")
        page.get_by_test_id("login-groups").fill("not a group!")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("login-error")).to_contain_text("letters, digits, dots, dashes or underscores")

        page.get_by_test_id("login-groups").fill("agency-acme, growth")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("campaign-list")).to_be_visible()
        expect(page.get_by_test_id(f"campaign-row-{ids['acme']}")).to_be_visible()
        expect(page.get_by_test_id(f"campaign-row-{ids['beta']}")).to_have_count(0)
        expect(page.get_by_test_id("campaign-row-demo")).to_have_count(0)
    finally:
        context.close()
