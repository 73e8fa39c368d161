"""The local stack's Test Events page (`/_dev/`) and the campaign health page it links to, over HTTP.

A recorded string may be anything a client sent the stand-ins, a lone surrogate included: the page
must still answer. The health page asks the settings function's health route with the local admin
token (the route needs operator auth) and shows its figures (docs/design.md §9).
"""

import json

import pytest

pytestmark = pytest.mark.e2e

TRACK = "/_dev/tiktok/open_api/v1.3/event/track/"
LONE = "\\udfff"  # as JSON spells it: a UTF-16 half with no UTF-8 form once parsed


def raw_json(text: str) -> bytes:
    """A JSON body whose \\udfff escapes stay escapes on the wire (json.dumps would keep them too)."""
    return text.encode("ascii")


def test_a_lone_surrogate_in_any_recorded_string_leaves_the_page_answering(stack, tiktok):
    body = (
        '{"event_source": "web", "event_source_id": "CSURROGATE' + LONE + '", "test_event_code": "T' + LONE + '",'
        ' "data": [{"event": "PageView' + LONE + '", "event_time": 1764064800, "event_id": "e-' + LONE + '",'
        ' "user": {"external_id": "' + LONE + '", "phone": "+1' + LONE + '", "ttp": "' + LONE + '"},'
        ' "page": {"url": "https://funnel.example/' + LONE + '"}, "properties": {"content_name": "' + LONE + '"}}]}'
    )
    stack.clear_pixel()
    try:
        answer = stack.request("POST", TRACK, data=raw_json(body), headers={
            "Content-Type": "application/json", "Access-Token": "tok-" + "x" * 16})
        assert answer.status_code == 200 and answer.json()["code"] == 40002  # refused, and recorded
        calls = [
            '{"pixel_id": "P' + LONE + '", "method": "track", "args": ["PageView' + LONE + '",'
            ' {"content_name": "' + LONE + '"}, {"event_id": "e-' + LONE + '"}]}',
            '{"pixel_id": "P", "method": "identify' + LONE + '", "args": [{"email": "' + LONE + '@example.com",'
            ' "phone_number": "+1555' + LONE + '1234", "external_id": "' + LONE + '"}]}',
        ]
        for call in calls:
            recorded = stack.request("POST", "/_dev/pixel/requests", data=raw_json(call),
                                     headers={"Content-Type": "text/plain"})
            assert recorded.status_code == 200, recorded.text
        assert any(LONE in json.dumps(r["body"]) for r in stack.tiktok_requests())

        page = stack.get("/_dev/")
        assert page.status_code == 200, page.text[:500]
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert 'data-event="PageView\\udfff"' in page.text and 'data-pixel="CSURROGATE\\udfff"' in page.text
        assert "identify\\udfff" in page.text
        assert stack.get("/_dev/state").status_code == 200
        assert stack.get("/_dev/tiktok/requests").status_code == 200
    finally:
        stack.clear_pixel()


def test_the_page_links_each_campaign_to_a_health_page_with_its_figures(stack, tiktok):
    page = stack.get("/_dev/")
    assert page.status_code == 200
    assert '<a href="/_dev/health/demo" data-testid="health-link" data-campaign="demo"' in page.text

    health = stack.get("/_dev/health/demo")
    assert health.status_code == 200 and health.headers["Content-Type"] == "text/html; charset=utf-8"
    assert 'data-testid="health-page" data-status="200"' in health.text
    # The figures are the route's own: the page embeds its JSON too.
    route = stack.admin("GET", "/v1/campaigns/demo/tiktok/health?hours=24")
    assert route.status_code == 200
    for key in route.json()["match_keys"]["coverage"]:
        assert f'data-testid="coverage" data-key="{key}"' in health.text
    assert "dev-admin-token" not in health.text and "dev-tiktok-token" not in health.text


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/_dev/health/no-such-campaign", 404, "answered 404"),
    ("/_dev/health/demo?hours=0", 400, "hours: a whole number from 1 to 168"),
    ("/_dev/health/%3Cscript%3E", 400, "&lt;script&gt;"),
])
def test_the_health_page_shows_what_the_route_refused(stack, path, status, says):
    answer = stack.get(path)
    assert answer.status_code == status
    assert 'data-testid="health-error"' in answer.text and says in answer.text
    assert "<script>" not in answer.text.split("</style>", 1)[1]
