"""HTTP plumbing shared by the API functions: the resolver, the raw body, errors in one place."""

import base64
import hmac
import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from .budget import Budget
from .errors import ApiError, BadRequest, NotFound, ServiceUnavailable
from .repositories import INFRASTRUCTURE_ERRORS

logger = Logger(child=True)
# Left of a function's timeout for shaping and returning the answer after the last piece of work.
ANSWER_MARGIN_S = 1.0


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def json_response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=_ENCODER.encode(body) if body is not None else "",
        headers=headers or {},
    )


def error_response(error: ApiError) -> Response[str]:
    return json_response(error.status, error.to_body())


def make_resolver(*, cors: bool = False) -> APIGatewayHttpResolver:
    """A resolver whose every error answer has the error shape of docs/design.md §6."""
    cors_config = CORSConfig(allow_origin="*", allow_headers=["Content-Type"], max_age=600) if cors else None
    app = APIGatewayHttpResolver(cors=cors_config)

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


def resolve(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The request's answer, its log lines carrying API Gateway's request id as correlation id (read
    directly: the decorator's jmespath path costs more than the rest of a warm log context)."""
    logger.set_correlation_id(event.get("requestContext", {}).get("requestId"))
    answer: dict[str, Any] = app.resolve(event, context)
    return answer


def invocation_budget(app: APIGatewayHttpResolver) -> Budget:
    """What is left of this invocation, less the margin its answer needs."""
    context = getattr(app, "lambda_context", None)
    remaining_ms = context.get_remaining_time_in_millis() if context is not None else 10_000
    return Budget(remaining_ms / 1000 - ANSWER_MARGIN_S)


def raw_body(event: APIGatewayProxyEventV2) -> bytes:
    """The exact bytes the client sent (API Gateway base64-encodes what it does not treat as text)."""
    body = event.body or ""
    if event.is_base64_encoded:
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
    return event.request_context.http.source_ip


def request_base_url(event: APIGatewayProxyEventV2) -> str:
    host = event.request_context.domain_name or event.headers.get("host", "localhost")
    scheme = event.headers.get("x-forwarded-proto", "https")
    return f"{scheme}://{host}"
