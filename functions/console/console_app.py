"""ConsoleFunction: the console (docs/design.md §10) at /console/ - its page, script, styles and config.json.

Public routes, no AWS access: the page signs the operator in (authorization code + PKCE) and calls the
JWT-authorized operator API with the access token. Every answer carries a Content-Security-Policy
that allows no inline script and connects only to this origin and the token endpoint.
"""

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from zellify_tiktok.api import error_response, make_resolver, request_base_url
from zellify_tiktok.config import get_config
from zellify_tiktok.errors import NotFound, ServiceUnavailable
from zellify_tiktok.observability import lambda_entry

logger = Logger()
app = make_resolver()
STATIC = Path(__file__).with_name("static")
# The files the page loads, by the name it asks for; everything else under /console/ is a 404.
ASSETS = {
    "": ("index.html", "text/html; charset=utf-8", "no-store"),
    "console.js": ("console.js", "text/javascript; charset=utf-8", "no-cache"),
    "console.css": ("console.css", "text/css; charset=utf-8", "no-cache"),
}


@dataclass(frozen=True)
class ConsoleConfig:
    """What the page needs to sign in, from the template's environment (CONSOLE_*)."""

    client_id: str
    authorization_endpoint: str
    token_endpoint: str
    logout_endpoint: str
    scopes: str

    @classmethod
    def from_environ(cls) -> "ConsoleConfig":
        return cls(
            client_id=os.environ.get("CONSOLE_CLIENT_ID", ""),
            authorization_endpoint=os.environ.get("CONSOLE_AUTHORIZATION_ENDPOINT", ""),
            token_endpoint=os.environ.get("CONSOLE_TOKEN_ENDPOINT", ""),
            logout_endpoint=os.environ.get("CONSOLE_LOGOUT_ENDPOINT", ""),
            scopes=os.environ.get("CONSOLE_SCOPES", "openid email zellify-tiktok/campaigns"),
        )

    @property
    def complete(self) -> bool:
        return bool(self.client_id and self.authorization_endpoint and self.token_endpoint)


@cache
def console_config() -> ConsoleConfig:
    return ConsoleConfig.from_environ()


@cache
def asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def security_headers(config: ConsoleConfig) -> dict[str, str]:
    token = urlsplit(config.token_endpoint)
    token_origin = f"{token.scheme}://{token.netloc}" if token.scheme and token.netloc else ""
    policy = "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src 'self' {token_origin}".strip(),
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ])
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        # The sign-in answer puts a code in the URL: no Referer carries it anywhere.
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


@app.get("/console")
def console_root():
    query = app.current_event.raw_query_string
    return Response(status_code=308, body="", headers={
        "Location": "/console/" + (f"?{query}" if query else ""), **security_headers(console_config())})


@app.get("/console/")
def console_page():
    return _asset("")


@app.get("/console/<name>")
def console_file(name: str):
    if name == "config.json":
        return _config()
    return _asset(name)


def _asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"no console file {name!r}", code="not_found")
    filename, content_type, cache_control = ASSETS[name]
    return Response(status_code=200, content_type=content_type, body=asset(filename),
                    headers={"Cache-Control": cache_control, **security_headers(console_config())})


def _config() -> Response:
    config = console_config()
    headers = {"Cache-Control": "no-store", **security_headers(config)}
    if not config.complete:
        response = error_response(ServiceUnavailable("the console's sign-in is not configured (CONSOLE_* variables)",
                                                     code="console_not_configured"))
        response.headers.update(headers)
        return response
    body = {
        "client_id": config.client_id,
        "authorization_endpoint": config.authorization_endpoint,
        "token_endpoint": config.token_endpoint,
        "logout_endpoint": config.logout_endpoint or None,
        "scopes": config.scopes,
        # Where funnel pages load tracker.js from: the snippet's address.
        "public_base_url": get_config().public_base_url or request_base_url(app.current_event),
    }
    return Response(status_code=200, content_type="application/json", body=json.dumps(body), headers=headers)


@lambda_entry(logger)
def lambda_handler(event, context):
    return app.resolve(event, context)
