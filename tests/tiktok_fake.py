"""An in-memory TikTok for the integration tests, plugged under the real TikTokClient as its HTTP pool.

Every call is checked as the local TikTok stand-in checks it (`local.tiktok_standin.refusal`: 40104 without
a token, 40105 for one that cannot be a token or is in `token_states` as revoked, 40102 expired, 40002
naming the first field TikTok would refuse), so a payload TikTok would refuse fails the test that sent it.
`script` holds answers to give first, one per call that passes those checks: a dict body (or a callable
building one from the body), an int HTTP status, or an Exception to raise. A scripted answer never hides
a refused payload.

`add_fault` queues the stand-in's own faults (docs/tiktok.md: `code`, `http_status`, `delay_ms`, `reset`,
`times`, `message`, `event_ids`), checked first and used as the stand-in uses them: each call takes the
oldest fault that applies to it (a targeted one only applies to calls carrying one of its event ids).
A delay, and `latency_s` on every call, is waited out on `clock` when one is given (a virtual clock,
advanced instead of sleeping); a delay past the client's timeout ends as urllib3's read timeout, after
the timeout's worth of waiting, as a slow TikTok does.
"""

import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import urllib3

from local.tiktok_standin import OK, fault_applies, parse_body, parse_fault, refusal, tiktok_answer


class Clock(Protocol):
    def __call__(self) -> float: ...

    def advance(self, seconds: float) -> None: ...


@dataclass
class FakeResponse:
    status: int
    data: bytes


@dataclass
class FakeTikTok:
    calls: list[dict] = field(default_factory=list)
    script: list = field(default_factory=list)  # answers to give first: dict body, int status, or Exception
    token_states: dict[str, str] = field(default_factory=dict)  # token -> "revoked" | "expired"
    faults: list[dict] = field(default_factory=list)  # the stand-in's faults, as add_fault queued them
    clock: Clock | None = None  # waits advance it instead of sleeping
    latency_s: float = 0.0  # how long every call takes

    def add_fault(self, *faults: dict) -> None:
        self.faults.extend(parse_fault(fault) for fault in faults)

    def request(self, method, url, body=None, headers=None, **kwargs):
        headers = dict(headers or {})
        parsed = parse_body(body)
        call: dict[str, Any] = {"url": url, "headers": headers, "body": parsed, "answer": None,
                                "at": self.clock() if self.clock is not None else time.time()}
        self.calls.append(call)
        response = self._respond(url, headers, parsed, kwargs.get("timeout"))
        answer = json.loads(response.data)
        call["answer"] = answer.get("code") if response.status == 200 else response.status
        return response

    def _respond(self, url, headers: dict, parsed: Any, timeout: urllib3.Timeout | None) -> FakeResponse:
        fault = self._next_fault(parsed)
        self._wait(self.latency_s + (fault.get("delay_ms", 0) / 1000 if fault else 0), timeout, url)
        if fault:
            if fault.get("reset"):
                raise urllib3.exceptions.ProtocolError(
                    "Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
            if "http_status" in fault:
                return FakeResponse(fault["http_status"], json.dumps(
                    {"code": fault.get("code"), "message": fault.get("message") or "stand-in fault",
                     "request_id": "fake", "data": {}}).encode())
            if "code" in fault:
                return self._json(tiktok_answer(fault["code"], fault.get("message")))
        refused = refusal(headers.get("Access-Token"), parsed, time.time(), self.token_states)
        if refused:
            return self._json(tiktok_answer(*refused))
        if self.script:
            answer = self.script.pop(0)
            if isinstance(answer, Exception):
                raise answer
            if isinstance(answer, int):
                return FakeResponse(answer, b'{"message":"unavailable"}')
            if callable(answer):
                answer = answer(parsed)
            return self._json(answer)
        return self._json(tiktok_answer(OK))

    def _next_fault(self, body: Any) -> dict | None:
        fault = next((f for f in self.faults if fault_applies(f, body)), None)
        if fault is None:
            return None
        fault["times"] -= 1
        if fault["times"] == 0:
            self.faults.remove(fault)
        return dict(fault)

    def _wait(self, seconds: float, timeout: urllib3.Timeout | None, url: str) -> None:
        limit = timeout.total if timeout is not None else None
        waited = min(seconds, limit) if limit is not None else seconds
        if waited > 0:
            self.clock.advance(waited) if self.clock is not None else time.sleep(waited)
        if limit is not None and seconds > limit:
            raise urllib3.exceptions.ReadTimeoutError(None, url, "read timed out")

    @staticmethod
    def _json(answer: dict) -> FakeResponse:
        return FakeResponse(200, json.dumps(answer).encode())

    @property
    def events(self) -> list[dict]:
        return [e for call in self.calls for e in call["body"]["data"]]

    def accepted_ids(self) -> list[str]:
        """Every event_id of every call TikTok answered 0, as often as it was sent: a repeat shows twice."""
        return [e["event_id"] for call in self.calls if call["answer"] == 0 for e in call["body"]["data"]]

    @staticmethod
    def timeout() -> Exception:
        return urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")
