"""HTTP plumbing shared by the API functions: the resolver, the raw body, errors in one place."""

import base64
import hmac
import json
from collections.abc import Mapping
from typing import Any

import orjson
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from .access import Caller, caller_from_claims
from .budget import Budget
from .errors import ApiError, BadRequest, NotFound, ServiceUnavailable
from .repositories import INFRASTRUCTURE_ERRORS

logger = Logger(child=True)
# Left of a function's timeout for shaping and returning the answer after the last piece of work.
ANSWER_MARGIN_S = 1.0


# orjson writes what the standard library's encoder with default=str would (decimals, datetimes and anything
# else it does not know as their str()), only faster; an integer beyond 64 bits it leaves to the standard library.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
# Escapes what orjson refuses to write raw (a lone surrogate), as the standard library always did.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def to_json(body: Any) -> str:
    try:
        return orjson.dumps(body, default=str, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return _ENCODER.encode(body)


def json_response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=to_json(body) if body is not None else "",
        headers=headers,
    )


def error_response(error: ApiError) -> Response[str]:
    return json_response(error.status, error.to_body())


def make_resolver() -> APIGatewayHttpResolver:
    """A resolver whose every error answer has the error shape of docs/design.md §6."""
    app = APIGatewayHttpResolver()

    @app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
    def _api_error(error: ApiError) -> Response[str]:
        logger.info("request refused", extra={"status": error.status, "code": error.code})
        return error_response(error)

    @app.exception_handler(list(INFRASTRUCTURE_ERRORS))  # type: ignore[untyped-decorator]
    def _backing_service_down(error: Exception) -> Response[str]:
        # DynamoDB or Secrets Manager failing where nothing can be queued instead: say "try again".
        logger.warning("backing service unavailable", extra={"error": type(error).__name__})
        return error_response(ServiceUnavailable("a backing service is unavailable; try again"))

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[str]:
        return error_response(NotFound("no such route", code="route_not_found"))

    return app


# The collector's CORS (docs/design.md §6.1): any origin may post, the campaign's allowed_origins is checked
# on the POST itself. Added here rather than by Powertools' CORSConfig, which rebuilds a case-insensitive
# copy of every request header for each answer: 3.5 µs of a 75 µs one-event beacon (bench warm_ratio_1).
CORS_HEADERS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600"}
PREFLIGHT_HEADERS = {**CORS_HEADERS, "Access-Control-Allow-Methods": "OPTIONS,POST"}


def with_cors(answer: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The answer to a cross-origin request (one with an Origin header), error answers included."""
    if (event.get("headers") or {}).get("origin"):
        answer["headers"].update(CORS_HEADERS)
    return answer


def invocation_budget(app: APIGatewayHttpResolver) -> Budget:
    """What is left of this invocation, less the margin its answer needs."""
    context = getattr(app, "lambda_context", None)
    remaining_ms = context.get_remaining_time_in_millis() if context is not None else 10_000
    return Budget(remaining_ms / 1000 - ANSWER_MARGIN_S)


def raw_body(event: APIGatewayProxyEventV2) -> bytes:
    """The exact bytes the client sent (API Gateway base64-encodes what it does not treat as text)."""
    raw = event.raw_event
    body = raw.get("body") or ""
    if raw.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=False)
        except ValueError as exc:
            raise BadRequest("body is not valid base64", code="invalid_encoding") from exc
    return body.encode("utf-8", errors="surrogatepass")


ORIGIN_VERIFY_HEADER = "x-origin-verify"


def client_ip(event: APIGatewayProxyEventV2, headers: Mapping[str, str], header: str,
              origin_secret: str) -> str | None:
    """The visitor's IP: the proxy header on requests that came through CloudFront, else sourceIp.

    Anyone can call the execute-api URL with a made-up proxy header; only CloudFront sends the origin
    secret. A request without it is not refused: its sourceIp is the caller's real address.
    """
    forwarded = headers.get(header.lower()) if header else None
    if forwarded and origin_secret and hmac.compare_digest(
            headers.get(ORIGIN_VERIFY_HEADER, "").encode(), origin_secret.encode()):
        return forwarded.rsplit(":", 1)[0].strip("[]")
    # requestContext.http.sourceIp, read from the event itself: Powertools' accessors build an object a level.
    source_ip: str | None = event.raw_event.get("requestContext", {}).get("http", {}).get("sourceIp")
    return source_ip


def operator_caller(event: Mapping[str, Any], *, admin_group: str, groups_claim: str) -> Caller:
    """The caller of an operator route, from what API Gateway's JWT authorizer verified
    (`requestContext.authorizer.jwt.claims`): the one place a function learns who calls it.

    A route without the authorizer's claims (none reach the function in AWS) gets a caller who sees nothing.
    """
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    jwt = authorizer.get("jwt") if isinstance(authorizer, dict) else None
    claims = jwt.get("claims") if isinstance(jwt, dict) else None
    source_ip = (context.get("http") or {}).get("sourceIp")
    return caller_from_claims(claims if isinstance(claims, dict) else {}, admin_group=admin_group,
                              groups_claim=groups_claim, source_ip=source_ip)


def request_base_url(event: APIGatewayProxyEventV2) -> str:
    host = event.request_context.domain_name or event.headers.get("host", "localhost")
    scheme = event.headers.get("x-forwarded-proto", "https")
    return f"{scheme}://{host}"
