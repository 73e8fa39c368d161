"""API Gateway v2 HTTP API imitation: routes, the JWT authorizer, payload format 2.0 events and responses.

One API, `$default` stage (rawPath carries no stage prefix), as docs/design.md §2 deploys it. Errors that
API Gateway makes itself keep its own shape, `{"message": "..."}`.
"""

import base64
import binascii
import json
import logging
import re
import threading
import time
import traceback
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from .functions import FunctionUnavailable, LambdaFunction
from .http_util import json_response
from .jwt_authorizer import AuthorizationRefused, JwtAuthorizer
from .template import ACCOUNT_ID, RouteSpec

log = logging.getLogger("local.apigw")

API_ID = "local"
# API Gateway's payload limit for HTTP APIs.
MAX_BODY_BYTES = 10 * 1024 * 1024
# Content types API Gateway passes as text; any other body reaches the function base64-encoded.
_TEXT_TYPES = ("application/json", "application/javascript", "application/xml")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PATH_VARIABLE = re.compile(r"(\{[^}]+\})")


class _GatewayRequest(Request):
    max_content_length = MAX_BODY_BYTES


def gateway_error(status: int, message: str, request_id: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"message": message}, status, headers={"apigw-requestid": request_id, **(headers or {})})


@dataclass(frozen=True)
class Route:
    spec: RouteSpec
    function: LambdaFunction

    @cached_property
    def _pattern(self) -> tuple[re.Pattern, list[str]]:
        names, parts = [], []
        for piece in _PATH_VARIABLE.split(self.spec.path):
            if piece.startswith("{") and piece.endswith("}"):
                name = piece[1:-1]
                names.append(name.removesuffix("+"))
                # A greedy variable also takes an empty rest: /console/ reaches GET /console/{file+}.
                parts.append("(.*)" if name.endswith("+") else "([^/]+)")
            else:
                parts.append(re.escape(piece))
        # DOTALL: a greedy variable takes any rest, an encoded newline (%0A) included, as API Gateway does.
        return re.compile("".join(parts), re.DOTALL), names

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route serves the request, else None."""
        if self.spec.method not in ("ANY", method):
            return None
        if self.spec.path == "$default":
            return {}
        pattern, names = self._pattern
        found = pattern.fullmatch(path)
        return dict(zip(names, found.groups(), strict=True)) if found else None

    def specificity(self) -> tuple:
        """Sort key, most specific route first, as API Gateway chooses: literal segments over variables
        from left to right, greedy variables last, a method over ANY, $default when nothing else matches."""
        if self.spec.path == "$default":
            return (1, (), self.spec.method == "ANY")
        kinds = tuple(
            2 if segment.endswith("+}") else 1 if segment.startswith("{") else 0
            for segment in self.spec.path.strip("/").split("/")
        )
        return (0, kinds, self.spec.method == "ANY")


class TokenBucket:
    """API Gateway's throttling: `rate` requests a second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: float, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.updated = burst, clock()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class HttpApi:
    """WSGI app: the HTTP API in front of the local functions."""

    def __init__(self, routes: Iterable[Route], authorizer: JwtAuthorizer | None,
                 throttling: tuple[tuple[float, float] | None, dict[str, tuple[float, float]]] = (None, {})):
        """`authorizer` checks every route that names a JWT authorizer in the template (locally one issuer)."""
        self.routes = sorted(routes, key=Route.specificity)
        guarded = [route.spec.route_key for route in self.routes if route.spec.authorizer is not None]
        if guarded and authorizer is None:
            raise ValueError(f"routes need a JWT authorizer and none is given: {', '.join(guarded)}")
        self.authorizer = authorizer
        default, per_route = throttling
        self.buckets = {
            route.spec.route_key: TokenBucket(*limits)
            for route in self.routes
            if (limits := per_route.get(route.spec.route_key, default))
        }

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        return self.handle(_GatewayRequest(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        route, path_parameters = self._route(request.method, request.path)
        if route is None:
            return gateway_error(404, "Not Found", request_id)
        bucket = self.buckets.get(route.spec.route_key)
        if bucket and not bucket.take():
            return gateway_error(429, "Too Many Requests", request_id)
        authorizer_context = None
        if route.spec.authorizer is not None:
            try:
                authorizer_context = self.authorizer.authorize(request.headers.get("Authorization"),
                                                               route.spec.authorization_scopes)
            except AuthorizationRefused as refused:
                return gateway_error(refused.status, refused.message, request_id, headers={
                    "www-authenticate": refused.www_authenticate(route.spec.authorization_scopes)})
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return gateway_error(413, "Request Entity Too Large", request_id)
        event = build_event(request, route.spec, path_parameters, body, request_id, authorizer_context)
        try:
            result = route.function.invoke(event)
            response = build_response(result)
        except FunctionUnavailable as exc:
            log.error("%s (request %s): %s", route.spec.route_key, request_id, exc)
            return gateway_error(500, "Internal Server Error", request_id)
        except Exception:
            # API Gateway hides a failed invocation behind a bare 500; the traceback is for the developer.
            log.error("%s failed on %s (request %s):\n%s", route.spec.function, route.spec.route_key, request_id,
                      traceback.format_exc())
            return gateway_error(500, "Internal Server Error", request_id)
        response.headers["apigw-requestid"] = request_id
        return response

    def _route(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            parameters = route.match(method, path)
            if parameters is not None:
                return route, parameters
        return None, {}


def _is_text(content_type: str | None) -> bool:
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    return mimetype.startswith("text/") or mimetype in _TEXT_TYPES or mimetype.endswith(("+json", "+xml"))


def _encode_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    # A body that is not valid UTF-8 is passed base64-encoded whatever it claims, so the function
    # sees the bytes that were sent and can refuse them.
    if _is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _join(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """API Gateway's 2.0 format joins repeated header and query names' values with commas."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def build_event(request: Request, route: RouteSpec, path_parameters: dict[str, str], body: bytes,
                request_id: str, authorizer: dict | None = None) -> dict:
    now = datetime.now(UTC)
    source_ip = request.remote_addr or "127.0.0.1"
    headers = _join((name.lower(), value) for name, value in request.headers.items())
    cookie_header = headers.pop("cookie", "")
    forwarded_for = headers.get("x-forwarded-for")
    headers.update({
        "x-forwarded-for": f"{forwarded_for}, {source_ip}" if forwarded_for else source_ip,
        "x-forwarded-proto": request.scheme,
        "x-forwarded-port": str(request.environ.get("SERVER_PORT", "")),
        "x-amzn-trace-id": f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]}",
    })
    raw_query = request.environ.get("QUERY_STRING", "")
    domain_name = request.host
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".", 1)[0],
        "http": {
            "method": request.method,
            # HTTP APIs hand the path over percent-decoded.
            "path": request.path,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": f"{now:%d}/{_MONTHS[now.month - 1]}/{now:%Y:%H:%M:%S} +0000",
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if authorizer is not None:
        request_context["authorizer"] = authorizer
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    # API Gateway leaves out what the request does not have.
    cookies = [c.strip() for c in cookie_header.split(";") if c.strip()]
    if cookies:
        event["cookies"] = cookies
    query = _join(parse_qsl(raw_query, keep_blank_values=True))
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        event["body"], event["isBase64Encoded"] = _encode_body(body, request.content_type)
    return event


def build_response(result: Any) -> Response:
    """A function's return value as API Gateway turns it into HTTP (payload format 2.0).

    Raises on a malformed answer, which API Gateway also reports as a 500.
    """
    if not (isinstance(result, dict) and "statusCode" in result):
        # Anything else is taken as the body of a 200 JSON answer.
        return Response(result if isinstance(result, str) else json.dumps(result), 200,
                        content_type="application/json")
    headers = Headers()
    for name, value in (result.get("headers") or {}).items():
        headers.add(name, str(value))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", cookie)
    if "content-type" not in headers:
        headers["Content-Type"] = "application/json"
    body = result.get("body") or ""
    if not isinstance(body, str):
        raise TypeError(f"body must be a string, not {type(body).__name__}")
    try:
        data = base64.b64decode(body, validate=True) if result.get("isBase64Encoded") else body.encode("utf-8")
    except binascii.Error as exc:
        raise ValueError(f"isBase64Encoded is set but the body is not base64: {exc}") from None
    return Response(data, status=int(result["statusCode"]), headers=headers)

