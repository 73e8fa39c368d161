"""HTTP API's JWT authorizer, imitated for the local stack (docs/design.md §2, §8).

As API Gateway documents it: the token from the Authorization header (bare or after `Bearer `);
an RSA signature by a key of the issuer's JWKS named by the token's `kid`; `iss` equal to the
issuer; `aud`, or `client_id` when there is no `aud`, one of the audience; `exp` after now, `nbf` and
`iat` not after now; for a route with scopes, at least one of them in `scope` (or `scp`). A refused
token is a 401 (a missing scope a 403) in API Gateway's shape, with its `www-authenticate` header.
The event then carries `requestContext.authorizer.jwt` = {claims (values as strings), scopes}.

Locally the settings bearer token (`dev-admin-token`) is accepted too, for curl and the CLI's tests: its
claims are a machine client's, so the settings function treats it as an admin.
"""

import hmac
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

# API Gateway verifies RSA signatures only.
ALGORITHMS = ["RS256", "RS384", "RS512"]
LOCAL_ADMIN_SUBJECT = "local-admin"


class AuthorizationRefused(Exception):
    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    @property
    def message(self) -> str:
        return "Unauthorized" if self.status == 401 else "Forbidden"

    def www_authenticate(self, scopes: Sequence[str]) -> str:
        return f'Bearer scope="{" ".join(scopes)}" error="{self.error}" error_description="{self.description}"'


def _unauthorized(description: str) -> AuthorizationRefused:
    return AuthorizationRefused(401, "invalid_token", description)


def claim_strings(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway hands them on: every value a string, lists as "[a b]"."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "[" + " ".join(text(item) for item in value) + "]"
        if isinstance(value, dict):
            return json.dumps(value, separators=(",", ":"))
        return str(value)

    return {name: text(value) for name, value in claims.items()}


def token_scopes(claims: dict[str, Any]) -> list[str]:
    scopes = claims.get("scope", claims.get("scp", ""))
    if isinstance(scopes, list):
        return [str(scope) for scope in scopes]
    return str(scopes).split()


@dataclass
class JwtAuthorizer:
    issuer: str
    audience: Sequence[str]
    jwks: Callable[[], dict]  # the issuer's key set document, as its jwks_uri serves it
    admin_token: str | None = None
    clock: Callable[[], float] = time.time

    def authorize(self, authorization: str | None, scopes: Sequence[str]) -> dict:
        """`requestContext.authorizer` for the request, or AuthorizationRefused."""
        token = (authorization or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise _unauthorized("no token in the Authorization header")
        if self.admin_token and hmac.compare_digest(token.encode(), self.admin_token.encode()):
            # As a machine client's token (sub = client_id, no groups): an admin (docs/design.md §6.4).
            claims = {"sub": LOCAL_ADMIN_SUBJECT, "client_id": LOCAL_ADMIN_SUBJECT, "token_use": "access",
                      "iss": self.issuer, "scope": " ".join(scopes)}
            return {"jwt": {"claims": claims, "scopes": list(scopes) or None}}
        claims = self._verified_claims(token)
        granted = token_scopes(claims)
        if scopes and not set(scopes) & set(granted):
            raise AuthorizationRefused(403, "insufficient_scope", "the token has none of the route's scopes")
        return {"jwt": {"claims": claim_strings(claims), "scopes": granted if scopes else None}}

    def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jws.extract_compact(token.encode("ascii")).headers() if token.count(".") == 2 else None
        except (JoseError, ValueError, UnicodeError):
            header = None
        if not isinstance(header, dict):
            raise _unauthorized("the token is not a JWT")
        if not header.get("kid"):
            raise _unauthorized("the token has no kid")
        try:
            claims = jwt.decode(token, KeySet.import_key_set(self.jwks()), algorithms=ALGORITHMS).claims
        except (JoseError, ValueError, TypeError, UnicodeError) as exc:
            raise _unauthorized(f"signature or key: {type(exc).__name__}") from None
        if claims.get("iss") != self.issuer:
            raise _unauthorized("the token has an invalid issuer")
        audience = claims["aud"] if "aud" in claims else claims.get("client_id")
        audiences = audience if isinstance(audience, list) else [audience]
        if not set(audiences) & set(self.audience):
            raise _unauthorized("the token does not have a valid audience")
        now = self.clock()
        if not _number(claims.get("exp")) or claims["exp"] <= now:
            raise _unauthorized("the token has expired")
        for name in ("nbf", "iat"):
            if name in claims and (not _number(claims[name]) or claims[name] > now):
                raise _unauthorized(f"the token's {name} is in the future")
        return claims


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
