"""TikTok's answers, classified (docs/design.md §7, docs/tiktok.md): the code table as data, in one place.

TikTok answers HTTP 200 for most errors and puts the outcome in the body's `code` (its business SDK's
`tiktok_code` table). HTTP 429/5xx, timeouts and connection errors stand for answers of their own.
"""

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jiter


class Outcome(StrEnum):
    SENT = "sent"
    # Some events of the call were refused and the answer does not say which: halve and resend.
    PARTIAL = "partial_success"
    TRANSIENT = "transient_failure"
    PERMANENT = "permanent_failure"


@dataclass(frozen=True, slots=True)
class Code:
    code: int
    name: str
    outcome: Outcome
    # A refusal of one event inside a call: a call of several events is halved to find it.
    isolates: bool = False
    # The campaign's credentials are the problem: the settings GET warns until a new token is set.
    token_problem: bool = False


TIKTOK_CODES: dict[int, Code] = {c.code: c for c in (
    Code(0, "OK", Outcome.SENT),
    Code(20001, "PARTIAL_OK", Outcome.PARTIAL, isolates=True),
    Code(40001, "PERMISSION_ERROR", Outcome.PERMANENT),
    Code(40002, "PARAM_ERROR", Outcome.PERMANENT, isolates=True),
    Code(40061, "INVALID_BATCH_SIZE", Outcome.PERMANENT),
    Code(40062, "PII_NOT_HASHED", Outcome.PERMANENT, isolates=True),
    Code(40100, "REQUEST_TOO_FREQUENT", Outcome.TRANSIENT),
    Code(40102, "ACCESS_TOKEN_EXPIRE", Outcome.PERMANENT, token_problem=True),
    Code(40104, "EMPTY_ACCESS_TOKEN", Outcome.PERMANENT, token_problem=True),
    Code(40105, "INVALID_ACCESS_TOKEN", Outcome.PERMANENT, token_problem=True),
    Code(40132, "REQUEST_FREQUENCY_LIMITED", Outcome.TRANSIENT),
    Code(50000, "SYS_ERROR", Outcome.TRANSIENT),
    Code(50002, "SYS_TIMEOUT", Outcome.TRANSIENT),
    Code(60001, "MAINTENANCE", Outcome.TRANSIENT),
)}
# Every 5xxxx code is one of TikTok's system errors or timeouts (51xxx, 52xxx: internal errors).
SYSTEM_ERRORS = range(50000, 60000)
TOKEN_CODES = frozenset(c.code for c in TIKTOK_CODES.values() if c.token_problem)


def code_info(code: int) -> Code:
    known = TIKTOK_CODES.get(code)
    if known is not None:
        return known
    if code in SYSTEM_ERRORS:
        return Code(code, "SYSTEM_ERROR", Outcome.TRANSIENT)
    return Code(code, "UNKNOWN", Outcome.PERMANENT)


# One per TikTok call: not frozen (cheaper to build), never changed; hashable, as events are grouped by
# the answer they got.
@dataclass(slots=True, unsafe_hash=True)
class Answer:
    """TikTok's answer to one call, or what stood for it (a timeout, a reset, an HTTP error, our budget)."""

    outcome: Outcome
    code: int | None
    message: str
    http_status: int | None = None
    request_id: str | None = None

    @property
    def isolates(self) -> bool:
        return self.code is not None and code_info(self.code).isolates

    @property
    def token_problem(self) -> bool:
        return self.code in TOKEN_CODES

    def to_dict(self) -> dict[str, object]:
        return {"outcome": str(self.outcome), "code": self.code, "message": self.message,
                "http_status": self.http_status}


def _read(data: bytes) -> Any:
    """TikTok's JSON: jiter first; what it refuses (a BOM, UTF-16, a lone surrogate escape) as the standard
    library reads it, so an answer it would have understood is still understood."""
    try:
        return jiter.from_json(data, cache_mode="keys")
    except ValueError:
        return json.loads(data)


def classify(http_status: int, data: bytes) -> Answer:
    """HTTP 429/5xx are transient whatever the body; otherwise TikTok's `code` decides."""
    try:
        parsed = _read(data)
        code = int(parsed["code"])
        message = str(parsed.get("message", ""))[:500]
        request_id = parsed.get("request_id")
    except (ValueError, KeyError, TypeError, RecursionError):
        parsed, code, message, request_id = None, None, "", None
    request_id = str(request_id)[:128] if request_id is not None else None
    if http_status == 429 or http_status >= 500:
        return Answer(Outcome.TRANSIENT, code, message or f"HTTP {http_status}", http_status, request_id)
    if code is None:
        return Answer(Outcome.PERMANENT, None, f"HTTP {http_status} without a TikTok answer", http_status)
    info = code_info(code)
    outcome = info.outcome
    if http_status != 200 and outcome in (Outcome.SENT, Outcome.PARTIAL):
        # A success code on an error status is no confirmation.
        outcome = Outcome.PERMANENT
    return Answer(outcome, code, message, http_status, request_id)


def transport_failure(reason: str) -> Answer:
    return Answer(Outcome.TRANSIENT, None, reason)


BUDGET_SPENT = Answer(Outcome.TRANSIENT, None, "budget_spent: no time left in this invocation for TikTok")
