"""The OIDC stand-in at /_dev/oidc/ (docs/design.md §8): what Cognito's hosted UI and token endpoint do
for the console and for machines, on one machine.

- discovery at /_dev/oidc/.well-known/openid-configuration, the public keys at /_dev/oidc/.well-known/jwks.json;
- authorization code with PKCE (S256 only, checked) for the console, a sign-in page that asks only for
  an email (every address signs in);
- client credentials for machines (HTTP Basic or client_secret_post, as Cognito takes them);
- RS256 tokens shaped like Cognito's: access tokens carry `client_id` and `scope` (no `aud`), ID tokens
  `aud` and `email`.
"""

import base64
import hashlib
import hmac
import html
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.wrappers import Request, Response

from .http_util import json_response

PREFIX = "/_dev/oidc"
CAMPAIGNS_SCOPE = "zellify-tiktok/campaigns"
CONSOLE_CLIENT_ID = "zellify-console-local"
MACHINE_CLIENT_ID = "zellify-machine-local"
MACHINE_CLIENT_SECRET = "dev-machine-secret"
TOKEN_LIFETIME_S = 3600
CODE_LIFETIME_S = 300
# RFC 7636: a verifier is 43-128 unreserved characters; its S256 challenge is 43 base64url characters.
_CODE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}\Z")
_CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}\Z")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}\Z")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    **_NO_STORE,
}


class OAuthError(Exception):
    """An RFC 6749 error answer: `error` code, its description, the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def response(self) -> Response:
        headers = dict(_NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="token"'
        return json_response({"error": self.error, "error_description": self.description}, self.status, headers)


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str | None  # None: a public client, which must use PKCE
    grant_types: frozenset[str]
    scopes: frozenset[str]
    redirect_uris: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    email: str
    nonce: str | None
    expires_at: float


def s256(verifier: str) -> str:
    """PKCE's S256 challenge of a verifier."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


class OidcStandIn:
    def __init__(self, base_url: str, clock=time.time):
        self.issuer = f"{base_url}{PREFIX}"
        self.console_url = f"{base_url}/console/"
        self.clock = clock
        self._key = RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex, "use": "sig", "alg": "RS256"},
                                        private=True)
        self.clients = {
            CONSOLE_CLIENT_ID: Client(CONSOLE_CLIENT_ID, None, frozenset({"authorization_code"}),
                                      frozenset({"openid", "email", CAMPAIGNS_SCOPE}), (self.console_url,)),
            MACHINE_CLIENT_ID: Client(MACHINE_CLIENT_ID, MACHINE_CLIENT_SECRET, frozenset({"client_credentials"}),
                                      frozenset({CAMPAIGNS_SCOPE})),
        }
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    @property
    def audience(self) -> tuple[str, ...]:
        """What the JWT authorizer accepts as aud or client_id: every client's id, as the template's audience."""
        return tuple(self.clients)

    # Tokens

    def jwks(self) -> dict:
        return {"keys": [self._key.as_dict(private=False)]}

    def sign(self, claims: dict, header: dict | None = None) -> str:
        """An RS256 JWT by the issuer's key; `header` adds to (or, with None values, removes from) the header."""
        merged = {"alg": "RS256", "kid": self._key.kid, **(header or {})}
        return jwt.encode({name: value for name, value in merged.items() if value is not None}, claims, self._key)

    def _token_answer(self, client: Client, subject: str, scope: str, email: str | None = None,
                      nonce: str | None = None) -> dict:
        now = int(self.clock())
        common = {"iss": self.issuer, "sub": subject, "iat": now, "auth_time": now, "exp": now + TOKEN_LIFETIME_S}
        access = {**common, "client_id": client.client_id, "token_use": "access", "scope": scope,
                  "jti": str(uuid.uuid4()), "username": email or client.client_id}
        answer = {"access_token": self.sign(access), "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S}
        if email is not None:
            id_claims = {**common, "aud": client.client_id, "token_use": "id", "email": email, "email_verified": True}
            if nonce:
                id_claims["nonce"] = nonce
            answer["id_token"] = self.sign(id_claims)
        return answer

    # Endpoints

    def discovery(self, request: Request) -> Response:
        return json_response({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "end_session_endpoint": f"{self.issuer}/logout",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "scopes_supported": sorted({scope for client in self.clients.values() for scope in client.scopes}),
        })

    def jwks_endpoint(self, request: Request) -> Response:
        return json_response(self.jwks())

    def authorize(self, request: Request) -> Response:
        """GET: the sign-in page for a valid request; POST (the page's form): an email signs in, back with a code."""
        params = request.form if request.method == "POST" else request.args
        client = self.clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        # Without a known client and one of its redirect URIs there is nowhere safe to send an error.
        if client is None or redirect_uri not in client.redirect_uris:
            return self._page("Sign-in refused", "<p>Unknown client_id or redirect_uri.</p>", 400)
        state = params.get("state")

        def back(**answer: str) -> Response:
            query = {**answer, **({"state": state} if state is not None else {})}
            return Response(status=302, headers={"Location": f"{redirect_uri}?{urlencode(query)}", **_NO_STORE})

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type", error_description="response_type must be code")
        if params.get("code_challenge_method") != "S256" or not _CODE_CHALLENGE.match(params.get("code_challenge", "")):
            return back(error="invalid_request", error_description="PKCE is required: code_challenge with S256")
        requested = set(params.get("scope", "").split())
        if not requested or not requested <= client.scopes:
            return back(error="invalid_scope", error_description=f"scopes allowed: {' '.join(sorted(client.scopes))}")
        if request.method == "GET":
            return self._sign_in_page(params)
        email = params.get("email", "").strip()
        if not _EMAIL.match(email):
            return self._sign_in_page(params, error="Enter an email address.", status=400)
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[code] = _Grant(client.client_id, redirect_uri, params["code_challenge"],
                                        " ".join(sorted(requested)), email.lower(), params.get("nonce"),
                                        self.clock() + CODE_LIFETIME_S)
        return back(code=code)

    def token(self, request: Request) -> Response:
        try:
            grant_type = request.form.get("grant_type")
            if grant_type == "authorization_code":
                answer = self._exchange_code(request)
            elif grant_type == "client_credentials":
                answer = self._client_credentials(request)
            else:
                raise OAuthError("unsupported_grant_type", "grant_type: authorization_code or client_credentials")
        except OAuthError as error:
            return error.response()
        return json_response(answer, headers=_NO_STORE)

    def logout(self, request: Request) -> Response:
        """Cognito's /logout: back to a registered logout_uri (the stand-in keeps no session to end)."""
        client = self.clients.get(request.args.get("client_id", ""))
        logout_uri = request.args.get("logout_uri", "")
        if client is None or logout_uri not in client.redirect_uris:
            return self._page("Sign-out refused", "<p>Unknown client_id or logout_uri.</p>", 400)
        return Response(status=302, headers={"Location": logout_uri, **_NO_STORE})

    # Grants

    def _exchange_code(self, request: Request) -> dict:
        form = request.form
        with self._lock:
            # A code is used once, whether the exchange succeeds or not.
            grant = self._grants.pop(form.get("code", ""), None)
        if grant is None or grant.expires_at < self.clock():
            raise OAuthError("invalid_grant", "unknown, used or expired code")
        client = self._authenticated_client(request, expected=grant.client_id)
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request's")
        verifier = form.get("code_verifier", "")
        if not _CODE_VERIFIER.match(verifier) or not hmac.compare_digest(s256(verifier), grant.code_challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        subject = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{grant.email}"))
        return self._token_answer(client, subject, grant.scope, email=grant.email, nonce=grant.nonce)

    def _client_credentials(self, request: Request) -> dict:
        client = self._authenticated_client(request)
        if "client_credentials" not in client.grant_types:
            raise OAuthError("unauthorized_client", "this client may not use client_credentials")
        requested = set(request.form.get("scope", "").split()) or set(client.scopes)
        if not requested <= client.scopes:
            raise OAuthError("invalid_scope", f"scopes allowed: {' '.join(sorted(client.scopes))}")
        return self._token_answer(client, client.client_id, " ".join(sorted(requested)))

    def _authenticated_client(self, request: Request, expected: str | None = None) -> Client:
        """The calling client: HTTP Basic or form credentials for a confidential one, client_id for a public one."""
        basic = request.authorization if request.authorization and request.authorization.type == "basic" else None
        client_id = basic.username if basic else request.form.get("client_id", "")
        secret = basic.password if basic else request.form.get("client_secret")
        client = self.clients.get(client_id or "")
        if client is None or (expected is not None and client_id != expected):
            raise OAuthError("invalid_client", "unknown client", 401)
        if client.secret is not None and not hmac.compare_digest((secret or "").encode(), client.secret.encode()):
            raise OAuthError("invalid_client", "wrong client secret", 401)
        return client

    # Pages

    def _sign_in_page(self, params, error: str | None = None, status: int = 200) -> Response:
        carried = ("client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge",
                   "code_challenge_method", "nonce")
        hidden = "".join(f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
                         for name in carried if name in params)
        message = f'<p role="alert">{html.escape(error)}</p>' if error else ""
        body = (
            "<p>Local sign-in: any email address signs in (no password).</p>"
            f'<form method="post" action="{PREFIX}/authorize">{hidden}'
            '<label>Email <input type="email" name="email" required autocomplete="email" autofocus '
            'data-testid="login-email"></label> '
            '<button type="submit" data-testid="login-submit">Sign in</button></form>' + message
        )
        return self._page("Sign in (local)", body, status)

    @staticmethod
    def _page(title: str, body: str, status: int) -> Response:
        document = (f'<!doctype html><html lang="en"><meta charset="utf-8">'
                    f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                    f"<title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>{body}</html>")
        return Response(document, status=status, content_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)
