"""An in-memory TikTok for the integration tests, plugged under the real TikTokClient as its HTTP pool.

Every call is checked as the local TikTok stand-in checks it (`local.tiktok_standin.refusal`: 40104 without
a token, 40105 for one that cannot be a token or is in `token_states` as revoked, 40102 expired, 40002
naming the first field TikTok would refuse), so a payload TikTok would refuse fails the test that sent it.
`script` holds answers to give first, one per call that passes those checks: a dict body (or a callable
building one from the body), an int HTTP status, or an Exception to raise. A scripted answer never hides
a refused payload.
"""

import json
import time
from dataclasses import dataclass, field

import urllib3

from local.tiktok_standin import OK, parse_body, refusal, tiktok_answer


@dataclass
class FakeResponse:
    status: int
    data: bytes


@dataclass
class FakeTikTok:
    calls: list[dict] = field(default_factory=list)
    script: list = field(default_factory=list)  # answers to give first: dict body, int status, or Exception
    token_states: dict[str, str] = field(default_factory=dict)  # token -> "revoked" | "expired"

    def request(self, method, url, body=None, headers=None, **_):
        headers = dict(headers or {})
        parsed = parse_body(body)
        self.calls.append({"url": url, "headers": headers, "body": parsed})
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

    @staticmethod
    def _json(answer: dict) -> FakeResponse:
        return FakeResponse(200, json.dumps(answer).encode())

    @property
    def events(self) -> list[dict]:
        return [e for call in self.calls for e in call["body"]["data"]]

    @staticmethod
    def timeout() -> Exception:
        return urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")
