"""The local stack's HTTP front: /healthz and /_dev endpoints, the /demo mount, the HTTP API behind the rest."""

import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.test import Client
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from .apigw import HttpApi
from .http_util import json_response
from .oidc_standin import PREFIX as OIDC_PREFIX
from .oidc_standin import OidcStandIn
from .pixel_standin import PixelStandIn
from .tiktok_standin import TRACK_PATH, TikTokStandIn

log = logging.getLogger("local.http")

WsgiApp = Callable[[dict, Any], Iterable[bytes]]
DEMO_PREFIX = "/demo"
# The names this stack answers to (with its port); DEV_ALLOWED_HOSTS adds more. Any other Host is a page
# reaching 127.0.0.1 through a name it controls (DNS rebinding), refused before anything runs.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
# State-changing /_dev/ requests must be JSON: a page of another site can send a form or text/plain
# without asking (no CORS preflight), but not application/json.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_EXEMPT = frozenset({
    # The Pixel stand-in's SDK reports calls as TikTok's Pixel does, with text/plain beacons, from funnel
    # pages of any origin; what it adds is a record on the Test Events page, nothing that changes delivery.
    ("POST", "/_dev/pixel/requests"),
    # OAuth 2.0 speaks forms: the sign-in page's form and the token endpoint (RFC 6749 §4.1.3, §4.4.2).
    ("POST", f"{OIDC_PREFIX}/authorize"),
    ("POST", f"{OIDC_PREFIX}/token"),
})


class LocalApp:
    """WSGI app of the whole local stack."""

    def __init__(self, *, api: HttpApi, tiktok: TikTokStandIn, pixel: PixelStandIn, oidc: OidcStandIn,
                 aws_endpoint_url: str, admin_token: str,
                 health: Callable[[], tuple[bool, dict]], state: Callable[[], dict],
                 render_test_events: Callable[[dict], str],
                 render_health: Callable[[str, int, int, Any], str], demo_app: WsgiApp):
        self.api = api
        self.allowed_hosts = parse_allowed_hosts(os.environ.get("DEV_ALLOWED_HOSTS", ""))
        self.aws_endpoint_url = aws_endpoint_url
        self.admin_token = admin_token
        self.health = health
        self.state = state
        self.render_test_events = render_test_events
        self.render_health = render_health
        self.demo_app = demo_app
        self.dev_routes = Map([
            Rule("/healthz", endpoint=self._healthz, methods=["GET"]),
            Rule("/_dev/", endpoint=self._test_events, methods=["GET"]),
            Rule("/_dev/health/<campaign_id>", endpoint=self._campaign_health, methods=["GET"]),
            Rule("/_dev/state", endpoint=self._state, methods=["GET"]),
            Rule("/_dev/aws", endpoint=self._aws, methods=["GET"]),
            Rule(f"/_dev/tiktok{TRACK_PATH}", endpoint=tiktok.track, methods=["POST"]),
            Rule("/_dev/tiktok/requests", endpoint=tiktok.requests_endpoint, methods=["GET", "DELETE"]),
            Rule("/_dev/tiktok/faults", endpoint=tiktok.faults_endpoint, methods=["GET", "POST", "DELETE"]),
            Rule("/_dev/tiktok/tokens", endpoint=tiktok.tokens_endpoint, methods=["GET", "POST", "DELETE"]),
            Rule("/_dev/pixel/sdk.js", endpoint=pixel.sdk, methods=["GET"]),
            Rule("/_dev/pixel/requests", endpoint=pixel.requests_endpoint, methods=["GET", "POST", "DELETE"]),
            Rule(f"{OIDC_PREFIX}/.well-known/openid-configuration", endpoint=oidc.discovery, methods=["GET"]),
            Rule(f"{OIDC_PREFIX}/.well-known/jwks.json", endpoint=oidc.jwks_endpoint, methods=["GET"]),
            Rule(f"{OIDC_PREFIX}/authorize", endpoint=oidc.authorize, methods=["GET", "POST"]),
            Rule(f"{OIDC_PREFIX}/token", endpoint=oidc.token, methods=["POST"]),
            Rule(f"{OIDC_PREFIX}/logout", endpoint=oidc.logout, methods=["GET"]),
            Rule(f"{OIDC_PREFIX}/dev-token", endpoint=oidc.dev_token, methods=["POST"]),
        ])

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST", "")
        if not host_allowed(host, str(environ.get("SERVER_PORT", "")), self.allowed_hosts):
            return error_response(400, "host_not_allowed", "this local stack answers only 127.0.0.1, localhost "
                                  "and [::1] with its port; DEV_ALLOWED_HOSTS names more",
                                  [{"field": "Host", "value": printable(host[:200])}])(environ, start_response)
        path = environ.get("PATH_INFO", "")
        if path == DEMO_PREFIX or path.startswith(DEMO_PREFIX + "/"):
            return self._demo(environ, start_response)
        if path in ("/healthz", "/_dev") or path.startswith("/_dev/"):
            return self._dev(Request(environ))(environ, start_response)
        return self.api(environ, start_response)

    def _dev(self, request: Request) -> Response:
        if needs_json(request) and request.mimetype != "application/json":
            return error_response(415, "unsupported_media_type",
                                  f"{request.method} {request.path} takes only Content-Type: application/json",
                                  [{"field": "Content-Type", "value": printable(request.content_type or "")[:200]}])
        try:
            endpoint, arguments = self.dev_routes.bind_to_environ(request.environ).match()
        except HTTPException as exc:
            if exc.code in (404, 405):
                return json_response({"message": exc.name}, exc.code)
            return exc.get_response(request.environ)  # the redirect from /_dev to /_dev/
        return endpoint(request, **arguments)

    def _demo(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == DEMO_PREFIX:
            query = environ.get("QUERY_STRING", "")
            return redirect(f"{DEMO_PREFIX}/" + (f"?{query}" if query else ""), 308)(environ, start_response)
        mounted = {**environ, "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + DEMO_PREFIX,
                   "PATH_INFO": path[len(DEMO_PREFIX):]}
        return self.demo_app(mounted, start_response)

    def _healthz(self, request: Request) -> Response:
        ok, details = self.health()
        return json_response(details, 200 if ok else 503)

    def _aws(self, request: Request) -> Response:
        return json_response({"endpoint_url": self.aws_endpoint_url})

    def _state(self, request: Request) -> Response:
        return json_response(self.state())

    def _test_events(self, request: Request) -> Response:
        status, answer = self._operator_get(request, "/v1/campaigns")
        campaigns = answer.get("campaigns") if status == 200 and isinstance(answer, dict) else None
        if campaigns is None:
            log.warning("Test Events page: GET /v1/campaigns answered %s", status)
        page = self.render_test_events({**self.state(), "campaigns": campaigns})
        return Response(page, content_type="text/html; charset=utf-8")

    def _campaign_health(self, request: Request, campaign_id: str) -> Response:
        """docs/design.md §9: the health route needs operator auth, so this page asks with the admin token."""
        hours = request.args.get("hours", "24")
        status, answer = self._operator_get(
            request, f"/v1/campaigns/{quote(campaign_id, safe='')}/tiktok/health?hours={quote(hours, safe='')}")
        shown_hours = int(hours) if hours.isascii() and hours.isdigit() else 0
        page = self.render_health(campaign_id, shown_hours, status, answer)
        return Response(page, status=200 if status == 200 else status,
                        content_type="text/html; charset=utf-8")

    def _operator_get(self, request: Request, path: str) -> tuple[int, Any]:
        """An operator route through the local HTTP API (its authorizer, throttling and function), as curl would."""
        response = Client(self.api).get(path, base_url=request.host_url,
                                        headers={"Authorization": f"Bearer {self.admin_token}"})
        try:
            return response.status_code, response.get_json(force=True, silent=True)
        finally:
            response.close()


def parse_allowed_hosts(value: str) -> frozenset[str]:
    """DEV_ALLOWED_HOSTS: comma-separated names (`devbox.lan`, `192.168.1.20`, or with a port, `devbox.lan:3000`)."""
    return frozenset(name.strip().lower() for name in value.split(",") if name.strip())


def host_allowed(host: str, port: str, extra: frozenset[str] = frozenset()) -> bool:
    """Whether a Host header names this stack: a local name, or one of `extra`, with this server's port."""
    host = host.strip().lower()
    if not host:
        return False
    if host in extra:  # named with its port
        return True
    if host.startswith("["):  # an IPv6 literal: [::1]:3000
        name, _, rest = host.partition("]")
        name += "]"
        if rest and not rest.startswith(":"):
            return False
        host_port = rest[1:]
    else:
        name, _, host_port = host.partition(":")
    if host_port and host_port != port:
        return False
    return name in LOCAL_HOSTS or name in extra


def needs_json(request: Request) -> bool:
    """A state-changing /_dev/ request, which must come as application/json (JSON_EXEMPT aside).

    A DELETE without a body has nothing to type: browsers preflight a DELETE from another site anyway.
    """
    if request.method not in STATE_CHANGING or (request.method, request.path) in JSON_EXEMPT:
        return False
    if request.method == "DELETE":
        return bool(request.content_type or request.content_length)
    return True


def error_response(status: int, code: str, message: str, details: list | None = None) -> Response:
    return json_response({"error": {"code": code, "message": message, "details": details or []}}, status)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


def printable(text: str) -> str:
    """`text` with control characters (and the backslash) escaped as Python writes them: a request
    cannot move the log's cursor, colour it, or forge a line."""
    return _CONTROL.sub(lambda m: "\\\\" if m.group() == "\\" else f"\\x{ord(m.group()):02x}", text)


class _RequestHandler(WSGIRequestHandler):
    """One log line per request through `local.http`, control characters escaped.

    werkzeug's own logger is quietened by the stack: moto's server, in this process too, would log
    every AWS call through it.
    """

    def handle_one_request(self) -> None:
        self._started = time.monotonic()
        super().handle_one_request()

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        # `POST /v1/events 202 14 ms`; the stand-ins' and pages' own reads, when answered, only with LOG_LEVEL=DEBUG.
        status = getattr(code, "value", code)
        answered = str(status).isdigit() and int(str(status)) < 400
        routine = self.command == "GET" and self.path.startswith("/_dev/") and answered
        level = logging.DEBUG if routine else logging.INFO
        elapsed_ms = (time.monotonic() - getattr(self, "_started", time.monotonic())) * 1000
        log.log(level, "%s %s %s %.0f ms", printable(str(self.command)), printable(str(self.path)), status,
                elapsed_ms)

    def log(self, type: str, message: str, *args: Any) -> None:
        # What http.server and werkzeug log themselves (a malformed request line, an error): the same escaping.
        log.log(logging.ERROR if type == "error" else logging.INFO, "%s %s", self.address_string(),
                printable(message % args if args else message))


def make_http_server(app: WsgiApp, port: int) -> BaseWSGIServer:
    # Threaded: a delayed stand-in answer must not hold up the requests behind it.
    return make_server("127.0.0.1", port, app, threaded=True, request_handler=_RequestHandler)
