"""Exit codes and the one mapping from exceptions to them, so every command means the same thing by each code."""

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)

from ..errors import ApiError
from ..repositories.secrets import SecretUnavailable

EXIT_OK = 0
EXIT_FAILED = 1  # the operation failed, or TikTok said no
EXIT_USAGE = 2  # bad options or invalid input (the settings API's 400/422); also what Typer exits with
EXIT_NOT_FOUND = 3
EXIT_AWS = 4  # AWS unreachable, or no usable credentials / permissions

# Mirrors the settings API: the HTTP status says whose fault it is, the exit code says the same.
_API_STATUS_EXIT = {400: EXIT_USAGE, 413: EXIT_USAGE, 422: EXIT_USAGE, 404: EXIT_NOT_FOUND}

_AWS_SETUP_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    TokenRetrievalError,
    NoRegionError,
    InvalidRegionError,  # --region that is not a region name
    ProfileNotFound,
    ConnectionError,  # botocore's: endpoint unreachable, connect timeout
    HTTPClientError,  # read timeout, connection reset
)
_AWS_AUTH_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId",
    "ExpiredToken", "ExpiredTokenException", "InvalidSignatureException", "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
})
_AWS_NOT_FOUND_CODES = frozenset({
    "ResourceNotFoundException", "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
})
_AWS_HINT = "check credentials, --profile, --region and --endpoint-url"
_NAMES_HINT = ("check --stack, or CAMPAIGNS_TABLE, SESSIONS_TABLE, SENT_EVENTS_TABLE, AUDIT_TABLE, RETRY_QUEUE_URL, "
               "DEAD_LETTER_QUEUE_URL and SECRET_PREFIX (docs/cli.md)")

class CommandFailed(Exception):
    """A command's own refusal, reported like the others: an error body and an exit code."""

    def __init__(self, exit_code: int, code: str, message: str):
        super().__init__(message)
        self.exit_code = exit_code
        self.body = _body(code, message)


HANDLED = (CommandFailed, ApiError, BotoCoreError, ClientError, SecretUnavailable)


def classify(exc: Exception) -> tuple[int, dict[str, Any]]:
    """The exit code and an error body in the HTTP API's shape (docs/design.md §6) for a handled exception."""
    if isinstance(exc, CommandFailed):
        return exc.exit_code, exc.body
    if isinstance(exc, ApiError):
        return _API_STATUS_EXIT.get(exc.status, EXIT_FAILED), exc.to_body()
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        aws_code = error.get("Code", "")
        text = f"AWS {exc.operation_name}: {aws_code}: {error.get('Message', '')}"
        if aws_code in _AWS_AUTH_CODES:
            return EXIT_AWS, _body("aws_access_denied", f"{text} ({_AWS_HINT})")
        if aws_code in _AWS_NOT_FOUND_CODES:
            return EXIT_NOT_FOUND, _body("aws_resource_not_found", f"{text} ({_NAMES_HINT})")
        if aws_code == "ValidationException":
            return EXIT_USAGE, _body("aws_invalid_request", text)
        return EXIT_FAILED, _body("aws_error", text)
    if isinstance(exc, _AWS_SETUP_ERRORS):
        return EXIT_AWS, _body("aws_unavailable", f"{exc} ({_AWS_HINT})")
    if isinstance(exc, SecretUnavailable):
        return EXIT_AWS, _body("aws_unavailable", f"Secrets Manager could not be read: {exc} ({_AWS_HINT})")
    return EXIT_FAILED, _body("aws_error", f"{type(exc).__name__}: {exc}")


def _body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": []}}
