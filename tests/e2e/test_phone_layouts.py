"""The demo funnel and the Test Events pages fit a phone: nothing wider than a 390 px screen (docs/design.md §8)."""

import json
import uuid

import pytest

from tests.e2e.browser import launch_chromium

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DEMO_PAGES = ["/demo/", "/demo/quiz-1", "/demo/quiz-2", "/demo/email", "/demo/checkout", "/demo/success"]


@pytest.fixture(scope="module")
def phone(stack):
    with launch_chromium() as chromium:
        context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        yield context.new_page()
        context.close()


def scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def widest(page) -> str:
    """The elements sticking out past the screen's right edge, to say what to fix."""
    return page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .slice(0, 8)
        .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
        .join(', ')""")


@pytest.mark.parametrize("path", DEMO_PAGES)
def test_every_demo_page_fits_a_390_px_screen(stack, phone, path):
    phone.goto(stack.url(path))
    phone.wait_for_load_state("networkidle")
    assert scroll_width(phone) <= PHONE["width"], widest(phone)


def test_the_test_events_and_health_pages_fit_a_390_px_screen(stack, phone):
    # Long values on the page: a beacon with a long event id and a long page URL, so its tables have content.
    session = f"phone-{uuid.uuid4().hex}"
    beacon = {"campaign_id": "demo", "session_id": session, "ttp": "ttp-phone-layout-0123456789",
              "page_url": "https://a-rather-long-funnel-domain.example.com/step/with/a/long/path?and=query",
              "events": [{"event": "page_view", "event_id": f"pv-{uuid.uuid4()}-{uuid.uuid4()}"}]}
    assert stack.request("POST", "/v1/events", data=json.dumps(beacon),
                         headers={"Content-Type": "text/plain"}).status_code == 202
    for path in ("/_dev/", "/_dev/health/demo", "/_dev/health/demo?hours=168"):
        phone.goto(stack.url(path))
        assert scroll_width(phone) <= PHONE["width"], f"{path}: {widest(phone)}"
