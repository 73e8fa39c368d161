"""An in-memory stand-in for TikTok's HTTP endpoint, plugged under the real TikTokClient.

It answers like TikTok (reference/tiktok.md) and can be told to fail, one scripted answer per call.
"""

import json
from dataclasses import dataclass, field

import urllib3


@dataclass
class FakeResponse:
    status: int
    data: bytes


@dataclass
class FakeTikTok:
    calls: list[dict] = field(default_factory=list)
    script: list = field(default_factory=list)  # answers to give first: dict body, int status, or Exception

    def request(self, method, url, body=None, headers=None, **_):
        parsed = json.loads(body)
        self.calls.append({"url": url, "headers": dict(headers or {}), "body": parsed})
        if self.script:
            answer = self.script.pop(0)
            if isinstance(answer, Exception):
                raise answer
            if isinstance(answer, int):
                return FakeResponse(answer, b'{"message":"unavailable"}')
            if callable(answer):
                answer = answer(parsed)
            return FakeResponse(200, json.dumps(answer).encode())
        if not (headers or {}).get("Access-Token"):
            return FakeResponse(200, b'{"code":40105,"message":"Access token is missing"}')
        return FakeResponse(200, json.dumps({"code": 0, "message": "OK", "request_id": "r1"}).encode())

    @property
    def events(self) -> list[dict]:
        return [e for call in self.calls for e in call["body"]["data"]]

    @staticmethod
    def timeout() -> Exception:
        return urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")
