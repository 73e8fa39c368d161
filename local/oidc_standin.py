"""The OIDC stand-in at /_dev/oidc/ (docs/design.md §8): what Cognito's hosted UI and token endpoint do
for the console and for machines, on one machine.

- discovery at /_dev/oidc/.well-known/openid-configuration, the public keys at /_dev/oidc/.well-known/jwks.json;
- authorization code with PKCE (S256 only, checked) for the console, a sign-in page that asks for an
  email and groups (every address signs in; no group given: the admin group), styled as the console;
- client credentials for machines (HTTP Basic or client_secret_post, as Cognito takes them);
- RS256 tokens shaped like Cognito's: access tokens carry `client_id` and `scope` (no `aud`), ID tokens
  `aud` and `email`; a person's both carry `cognito:groups` when they are in a group (docs/design.md §6.4);
- `POST /_dev/oidc/dev-token` `{"email", "groups"}`: a console user's access token for scripts and tests.
"""

import base64
import hashlib
import hmac
import html
import json
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
from zellify_tiktok.access import DEFAULT_ADMIN_GROUP, GROUP_NAME, GROUP_NAME_RULE, MAX_GROUPS

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
GROUPS_CLAIM = "cognito:groups"
# The console's own stylesheet (served by the ConsoleFunction on this origin): the sign-in page looks like it.
CONSOLE_STYLESHEET = "/console/console.css"
_PAGE_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                                "base-uri 'none'"),
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
    groups: tuple[str, ...]
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
                      nonce: str | None = None, groups: tuple[str, ...] = ()) -> dict:
        now = int(self.clock())
        common = {"iss": self.issuer, "sub": subject, "iat": now, "auth_time": now, "exp": now + TOKEN_LIFETIME_S}
        if groups:  # as Cognito: no claim at all for someone in no group
            common[GROUPS_CLAIM] = list(groups)
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
        try:
            groups = parse_groups(params.get("groups", ""))
        except ValueError as exc:
            return self._sign_in_page(params, error=str(exc), status=400)
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[code] = _Grant(client.client_id, redirect_uri, params["code_challenge"],
                                        " ".join(sorted(requested)), email.lower(), groups, params.get("nonce"),
                                        self.clock() + CODE_LIFETIME_S)
        return back(code=code)

    def dev_token(self, request: Request) -> Response:
        """`POST /_dev/oidc/dev-token` `{"email": "…", "groups": ["…"]}` (groups omitted: the admin group):
        the access token the console would get for that person, for scripts and tests. JSON only, so a web
        page cannot post it across sites without a preflight."""
        if request.mimetype != "application/json":
            return json_response({"error": "unsupported_media_type",
                                  "error_description": "send the body as Content-Type: application/json"}, 415)
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _bad_request('a JSON object: {"email": "…", "groups": ["…"]}')
        email = body.get("email")
        if not isinstance(email, str) or not _EMAIL.match(email.strip()):
            return _bad_request("email: an email address")
        groups = body.get("groups", [DEFAULT_ADMIN_GROUP])
        if (not isinstance(groups, list) or len(groups) > MAX_GROUPS
                or not all(isinstance(g, str) and GROUP_NAME.fullmatch(g) for g in groups)):
            return _bad_request(f"groups: a list of at most {MAX_GROUPS} group names. {GROUP_NAME_RULE}")
        client = self.clients[CONSOLE_CLIENT_ID]
        email = email.strip().lower()
        answer = self._token_answer(client, person_subject(email), " ".join(sorted(client.scopes)), email=email,
                                    groups=tuple(dict.fromkeys(groups)))
        return json_response({"access_token": answer["access_token"], "token_type": "Bearer",
                              "expires_in": TOKEN_LIFETIME_S}, headers=_NO_STORE)

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
        return self._token_answer(client, person_subject(grant.email), grant.scope, email=grant.email,
                                  nonce=grant.nonce, groups=grant.groups)

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
        email = html.escape(params.get("email", ""))
        groups = html.escape(params.get("groups", ""))
        message = (f'<p class="message" data-kind="error" role="alert" data-testid="login-error">{html.escape(error)}'
                   "</p>") if error else ""
        body = (
            f'{message}<form class="panel" method="post" action="{PREFIX}/authorize">{hidden}'
            '<p class="hint">Local sign-in: any email address signs in, no password. Your groups decide which '
            "campaigns you see.</p>"
            '<div class="field"><label for="login-email">Email</label>'
            f'<input id="login-email" type="email" name="email" value="{email}" required autocomplete="email" '
            'autofocus data-testid="login-email"></div>'
            '<div class="field"><label for="login-groups">Groups</label>'
            f'<input id="login-groups" type="text" name="groups" value="{groups}" autocomplete="off" '
            f'placeholder="{DEFAULT_ADMIN_GROUP}" aria-describedby="login-groups-hint" data-testid="login-groups">'
            f'<p class="hint" id="login-groups-hint">Separated by commas, e.g. agency-acme, growth. Left empty: '
            f"{DEFAULT_ADMIN_GROUP} (sees every campaign).</p></div>"
            '<div class="actions"><button type="submit" data-testid="login-submit">Sign in</button></div></form>'
        )
        return self._page("Sign in (local)", body, status)

    @staticmethod
    def _page(title: str, body: str, status: int) -> Response:
        document = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                    f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                    f'<link rel="stylesheet" href="{CONSOLE_STYLESHEET}">'
                    f"<title>{html.escape(title)}</title></head><body>"
                    f'<header class="topbar"><h1>{html.escape(title)}</h1></header>'
                    f"<main>{body}</main></body></html>")
        return Response(document, status=status, content_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


def person_subject(email: str) -> str:
    """A person's stable `sub`, derived from their email (as a user pool keeps one per user)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{email}"))


def parse_groups(text: str) -> tuple[str, ...]:
    """The sign-in form's groups: comma-separated names; none given means the admin group."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        return (DEFAULT_ADMIN_GROUP,)
    if len(names) > MAX_GROUPS:
        raise ValueError(f"At most {MAX_GROUPS} groups.")
    if not all(GROUP_NAME.fullmatch(name) for name in names):
        raise ValueError(GROUP_NAME_RULE)
    return tuple(dict.fromkeys(names))


def _bad_request(description: str) -> Response:
    return json_response({"error": "invalid_request", "error_description": description}, 400, _NO_STORE)
