"""ConsoleFunction (docs/design.md §10): the page, its script and styles, config.json from the environment,
a Content-Security-Policy that allows no inline script, and a page that renders data only as text."""

import copy
import re

import console_app
import pytest

from tests.integration.conftest import ROOT, load_event
from tests.integration.helpers import call

STATIC = ROOT / "functions" / "console" / "static"
DESIGN_TESTIDS = ["campaign-list", "field-pixel_id", "field-access_token", "field-test_event_code", "field-enabled",
                  "field-allowed_origins", "save", "test-event-answer", "new-campaign", "field-campaign_id", "health",
                  "snippet", "error-pixel_id", "error-access_token", "error-test_event_code", "error-enabled",
                  "error-allowed_origins", "error-campaign_id"]


def console_event(path: str, query: str = "") -> dict:
    event = copy.deepcopy(load_event("get_console.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["rawQueryString"] = query
    event["routeKey"] = event["requestContext"]["routeKey"] = (
        "GET /console" if path == "/console" else "GET /console/{file+}")
    event["pathParameters"] = {} if path == "/console" else {"file": path.removeprefix("/console/")}
    return event


@pytest.fixture
def configured(monkeypatch):
    monkeypatch.setenv("CONSOLE_CLIENT_ID", "console-client")
    monkeypatch.setenv("CONSOLE_AUTHORIZATION_ENDPOINT", "https://ops.auth.us-east-1.amazoncognito.com/oauth2/authorize")
    monkeypatch.setenv("CONSOLE_TOKEN_ENDPOINT", "https://ops.auth.us-east-1.amazoncognito.com/oauth2/token")
    monkeypatch.setenv("CONSOLE_LOGOUT_ENDPOINT", "https://ops.auth.us-east-1.amazoncognito.com/logout")
    console_app.console_config.cache_clear()
    yield
    console_app.console_config.cache_clear()


@pytest.mark.parametrize(("path", "content_type"), [
    ("/console/", "text/html"), ("/console/console.js", "text/javascript"), ("/console/console.css", "text/css"),
])
def test_every_file_carries_a_csp_without_inline_script(configured, path, content_type):
    status, headers, body = call(console_app, console_event(path))
    assert status == 200 and headers["Content-Type"].startswith(content_type)
    assert body == (STATIC / ("index.html" if path == "/console/" else path.rsplit("/", 1)[1])).read_text()
    policy = dict(directive.strip().split(" ", 1) for directive in headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert "unsafe" not in headers["Content-Security-Policy"]
    # The page talks to its own API and to the token endpoint, nothing else.
    assert policy["connect-src"] == "'self' https://ops.auth.us-east-1.amazoncognito.com"
    assert policy["frame-ancestors"] == "'none'"
    assert headers["Referrer-Policy"] == "no-referrer" and headers["X-Content-Type-Options"] == "nosniff"


def test_config_json_comes_from_the_environment(configured):
    status, headers, config = call(console_app, console_event("/console/config.json"))
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert config == {
        "client_id": "console-client",
        "authorization_endpoint": "https://ops.auth.us-east-1.amazoncognito.com/oauth2/authorize",
        "token_endpoint": "https://ops.auth.us-east-1.amazoncognito.com/oauth2/token",
        "logout_endpoint": "https://ops.auth.us-east-1.amazoncognito.com/logout",
        "scopes": "openid email zellify-tiktok/campaigns",
        "public_base_url": "https://abc123.execute-api.us-east-1.amazonaws.com",
    }


def test_without_sign_in_settings_config_json_says_so(monkeypatch):
    monkeypatch.delenv("CONSOLE_CLIENT_ID", raising=False)
    console_app.console_config.cache_clear()
    try:
        status, _, body = call(console_app, console_event("/console/config.json"))
    finally:
        console_app.console_config.cache_clear()
    assert status == 503 and body["error"]["code"] == "console_not_configured"


def test_console_without_slash_redirects_and_unknown_files_are_404(configured):
    status, headers, _ = call(console_app, console_event("/console", "code=abc&state=xyz"))
    assert (status, headers["Location"]) == (308, "/console/?code=abc&state=xyz")
    for path in ("/console/secrets.txt", "/console/index.html", "/console/..%2Fconsole_app.py"):
        status, _, body = call(console_app, console_event(path))
        assert status == 404 and body["error"]["code"] in ("not_found", "route_not_found"), path


def test_the_page_has_no_inline_script_or_style_and_every_testid_of_the_design():
    page = (STATIC / "index.html").read_text()
    script = (STATIC / "console.js").read_text()
    assert re.findall(r"<script(?![^>]*\ssrc=)", page) == [], "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", page), "inline event handler"
    assert " style=" not in page and "<style" not in page
    for testid in DESIGN_TESTIDS:
        assert f'data-testid="{testid}"' in page, testid
    assert "campaign-row-${" in script


def test_the_script_renders_data_as_text_only():
    script = (STATIC / "console.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "localStorage"):
        assert sink not in script, sink
    # The token field is only ever emptied by the script.
    assignments = re.findall(r'field\("access_token"\)\.value\s*=\s*([^;]+);', script)
    assert assignments == ['""']
