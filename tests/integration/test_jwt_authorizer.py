"""The local stack's sign-in, in process: the OIDC stand-in (authorization code + PKCE, client credentials)
and the API Gateway adapter checking operator routes' JWTs as HTTP API's JWT authorizer does.

Every refused token gets API Gateway's 401 `{"message": "Unauthorized"}` (a missing scope its 403) and
the function never runs; an accepted one reaches it with `requestContext.authorizer.jwt`.
"""

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request

from local.apigw import HttpApi, Route
from local.functions import LambdaFunction, Status
from local.jwt_authorizer import JwtAuthorizer
from local.oidc_standin import (
    CAMPAIGNS_SCOPE,
    CONSOLE_CLIENT_ID,
    MACHINE_CLIENT_ID,
    MACHINE_CLIENT_SECRET,
    OidcStandIn,
    s256,
)
from local.template import Template
from tests.integration.conftest import ROOT

BASE = "http://127.0.0.1:3000"
CONSOLE_URL = f"{BASE}/console/"
ADMIN_TOKEN = "the-admin-token"
VERIFIER = "v" * 43 + "-._~0123456789"
OPERATOR_ROUTES = [("GET", "/v1/campaigns"), ("PUT", "/v1/campaigns/demo/tiktok"), ("GET", "/v1/campaigns/demo/tiktok"),
                   ("DELETE", "/v1/campaigns/demo/tiktok"), ("POST", "/v1/campaigns/demo/tiktok/test-event"),
                   ("GET", "/v1/campaigns/demo/tiktok/health"), ("GET", "/v1/campaigns/demo/tiktok/audit")]
PUBLIC_ROUTES = [("GET", "/v1/campaigns/demo/tracker.js"), ("POST", "/v1/events"), ("OPTIONS", "/v1/events"),
                 ("POST", "/v1/webhooks/stripe"), ("GET", "/console/"), ("GET", "/console/config.json")]


class Gateway:
    """template.yaml's HTTP API behind the local JWT authorizer; every function records the events it gets."""

    def __init__(self):
        self.oidc = OidcStandIn(BASE)
        self.invoked: list[dict] = []
        template = Template(ROOT / "template.yaml")
        specs = {spec.name: spec for spec in template.functions()}
        routes = [Route(spec, LambdaFunction(specs[spec.function], Status.LOADED, handler=self._handler))
                  for spec in template.http_routes()]
        authorizer = JwtAuthorizer(self.oidc.issuer, self.oidc.audience, self.oidc.jwks, admin_token=ADMIN_TOKEN)
        self.api = Client(HttpApi(routes, authorizer))

    def _handler(self, event, context):
        self.invoked.append(event)
        return {"statusCode": 200, "body": "{}"}

    def call(self, method: str, path: str, authorization: str | None):
        headers = {} if authorization is None else {"Authorization": authorization}
        return self.api.open(path, method=method, headers=headers, json={"pixel_id": "x"})

    def claims(self, **changes) -> dict:
        """A machine's access token's claims, as the stand-in issues them; a None value drops the claim."""
        now = int(time.time())
        claims = {"iss": self.oidc.issuer, "sub": MACHINE_CLIENT_ID, "client_id": MACHINE_CLIENT_ID,
                  "token_use": "access", "scope": CAMPAIGNS_SCOPE, "iat": now, "exp": now + 600}
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}


@pytest.fixture
def gateway():
    return Gateway()


def b64(data: bytes | dict) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def tampered(token: str, claims: dict) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64(claims)}.{signature}"


# Not the issuer's: a token it signs claims the issuer's key id all the same.
FOREIGN_KEY = RSAKey.generate_key(2048, private=True)


def bad_tokens(gateway: Gateway) -> dict[str, str | None]:
    oidc, claims = gateway.oidc, gateway.claims
    kid = oidc.jwks()["keys"][0]["kid"]
    header = oidc.sign(claims()).split(".")[0]
    now = int(time.time())
    return {
        "missing": None,
        "empty": "",
        "bearer without a token": "Bearer ",
        "not a JWT": "Bearer not-a-jwt",
        "malformed: three parts of garbage": "Bearer a.b.c",
        "malformed: header not JSON": f"Bearer {b64(b'{nope')}.e30.c2ln",
        "malformed: payload not JSON": f"Bearer {header}.{b64(b'nope')}.c2ln",
        "malformed: not base64": "Bearer @@@.###.$$$",
        "expired": "Bearer " + oidc.sign(claims(iat=now - 7200, exp=now - 3600)),
        "expires now": "Bearer " + oidc.sign(claims(exp=now)),
        "no exp": "Bearer " + oidc.sign(claims(exp=None)),
        "exp not a number": "Bearer " + oidc.sign(claims(exp=str(now + 600))),
        "not yet valid (nbf)": "Bearer " + oidc.sign(claims(nbf=now + 600)),
        "issued in the future (iat)": "Bearer " + oidc.sign(claims(iat=now + 600)),
        "forged: another key, the same kid": "Bearer " + jwt.encode({"alg": "RS256", "kid": kid}, claims(),
                                                                    FOREIGN_KEY),
        "tampered payload": "Bearer " + tampered(oidc.sign(claims()), claims(sub="someone-else")),
        "unknown kid": "Bearer " + oidc.sign(claims(), header={"kid": "not-a-key-of-the-issuer"}),
        "no kid": "Bearer " + oidc.sign(claims(), header={"kid": None}),
        "alg none": f"Bearer {b64({'alg': 'none', 'kid': kid})}.{b64(claims())}.",
        "alg HS256": "Bearer " + oidc.sign(claims()).replace(header, b64({"alg": "HS256", "kid": kid}), 1),
        "wrong issuer": "Bearer " + oidc.sign(claims(iss="https://issuer.example.com")),
        "issuer with a trailing slash": "Bearer " + oidc.sign(claims(iss=oidc.issuer + "/")),
        "no issuer": "Bearer " + oidc.sign(claims(iss=None)),
        "wrong audience (aud)": "Bearer " + oidc.sign(claims(aud="someone-else", client_id=None)),
        "wrong audience (client_id)": "Bearer " + oidc.sign(claims(client_id="someone-else")),
        "aud is checked before client_id": "Bearer " + oidc.sign(claims(aud="someone-else")),
        "no audience at all": "Bearer " + oidc.sign(claims(client_id=None)),
        "the admin token and more": f"Bearer {ADMIN_TOKEN}-and-more",
        "basic credentials": "Basic " + base64.b64encode(f"x:{ADMIN_TOKEN}".encode()).decode(),
    }


BAD_TOKEN_CASES = list(bad_tokens(Gateway()))


@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
def test_a_refused_token_is_a_401_in_api_gateways_shape_and_never_reaches_the_function(gateway, case):
    authorization = bad_tokens(gateway)[case]
    for method, path in OPERATOR_ROUTES:
        answer = gateway.call(method, path, authorization)
        assert (answer.status_code, json.loads(answer.get_data())) == (401, {"message": "Unauthorized"}), (case, path)
        assert answer.headers["www-authenticate"].startswith('Bearer scope="zellify-tiktok/campaigns" '
                                                            'error="invalid_token"'), answer.headers
        assert answer.headers["apigw-requestid"]
    assert gateway.invoked == []


def test_a_token_without_the_routes_scope_is_a_403(gateway):
    for scope in ("openid email", "", "zellify-tiktok/other"):
        answer = gateway.call("GET", "/v1/campaigns", "Bearer " + gateway.oidc.sign(gateway.claims(scope=scope)))
        assert (answer.status_code, json.loads(answer.get_data())) == (403, {"message": "Forbidden"}), scope
        assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert gateway.invoked == []


@pytest.mark.parametrize("authorization", ["Bearer {token}", "{token}", "bearer {token}"])
def test_a_valid_token_reaches_the_function_with_its_claims_as_api_gateway_passes_them(gateway, authorization):
    claims = gateway.claims(**{"cognito:groups": ["ops", "admins"], "email_verified": True})
    token = gateway.oidc.sign(claims)
    for method, path in OPERATOR_ROUTES:
        assert gateway.call(method, path, authorization.format(token=token)).status_code == 200, path
    assert len(gateway.invoked) == len(OPERATOR_ROUTES)
    context = gateway.invoked[0]["requestContext"]["authorizer"]["jwt"]
    assert context["scopes"] == [CAMPAIGNS_SCOPE]
    assert context["claims"]["client_id"] == MACHINE_CLIENT_ID
    # API Gateway hands every claim on as a string.
    assert context["claims"]["exp"] == str(claims["exp"])
    assert context["claims"]["cognito:groups"] == "[ops admins]"
    assert context["claims"]["email_verified"] == "true"


def test_the_token_of_either_client_is_accepted_by_aud_or_client_id(gateway):
    for changes in ({"client_id": CONSOLE_CLIENT_ID}, {"aud": CONSOLE_CLIENT_ID, "client_id": None},
                    {"aud": [MACHINE_CLIENT_ID, "another"], "client_id": None}):
        token = gateway.oidc.sign(gateway.claims(**changes))
        assert gateway.call("GET", "/v1/campaigns", f"Bearer {token}").status_code == 200, changes


def test_the_local_admin_token_keeps_working(gateway):
    for authorization in (f"Bearer {ADMIN_TOKEN}", ADMIN_TOKEN):
        assert gateway.call("GET", "/v1/campaigns/demo/tiktok", authorization).status_code == 200
    claims = gateway.invoked[0]["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "local-admin" and claims["iss"] == gateway.oidc.issuer
    # A machine client's claims, so the settings function treats it as an admin.
    assert claims["client_id"] == "local-admin" and "cognito:groups" not in claims


def test_public_routes_need_no_token_and_get_no_authorizer_context(gateway):
    for method, path in PUBLIC_ROUTES:
        assert gateway.call(method, path, None).status_code == 200, path
    assert all("authorizer" not in event["requestContext"] for event in gateway.invoked)


# The OIDC stand-in


def oidc_call(oidc: OidcStandIn, endpoint, method: str = "GET", **kwargs):
    request = Request(EnvironBuilder(base_url=BASE, method=method, **kwargs).get_environ())
    return endpoint(request)


def authorization_request(**changes) -> dict:
    query = {"response_type": "code", "client_id": CONSOLE_CLIENT_ID, "redirect_uri": CONSOLE_URL,
             "scope": f"openid email {CAMPAIGNS_SCOPE}", "state": "state-123", "nonce": "nonce-456",
             "code_challenge": s256(VERIFIER), "code_challenge_method": "S256", **changes}
    return {name: value for name, value in query.items() if value is not None}


def sign_in(oidc: OidcStandIn, email: str = "Ops@Example.com", groups: str | None = None, **changes) -> dict:
    """The sign-in page's form posted: the query of the redirect back to the console."""
    form = {**authorization_request(**changes), "email": email, **({"groups": groups} if groups is not None else {})}
    answer = oidc_call(oidc, oidc.authorize, "POST", data=form)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CONSOLE_URL
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def exchange(oidc: OidcStandIn, code: str, verifier: str = VERIFIER, **changes):
    form = {"grant_type": "authorization_code", "client_id": CONSOLE_CLIENT_ID, "code": code,
            "redirect_uri": CONSOLE_URL, "code_verifier": verifier, **changes}
    return oidc_call(oidc, oidc.token, "POST", data=form)


def test_discovery_names_the_endpoints_and_the_keys_verify_its_tokens(gateway):
    oidc = gateway.oidc
    document = json.loads(oidc_call(oidc, oidc.discovery).get_data())
    assert document["issuer"] == f"{BASE}/_dev/oidc"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "client_credentials"} <= set(document["grant_types_supported"])
    keys = json.loads(oidc_call(oidc, oidc.jwks_endpoint).get_data())["keys"]
    assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("RSA", "RS256", "sig")]
    assert "d" not in keys[0], "the private key is never published"


def test_the_sign_in_page_asks_for_an_email_and_groups_in_the_consoles_look(gateway):
    page = oidc_call(gateway.oidc, gateway.oidc.authorize, query_string=authorization_request())
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for testid in ("login-email", "login-groups", "login-submit"):
        assert f'data-testid="{testid}"' in text, testid
    assert 'type="password"' not in text
    assert '<link rel="stylesheet" href="/console/console.css">' in text and 'name="viewport"' in text
    policy = page.headers["Content-Security-Policy"]
    assert "script-src" not in policy and "style-src 'self'" in policy  # default-src 'none': no script at all


def claims_of(oidc: OidcStandIn, token: str) -> dict:
    return jwt.decode(token, RSAKey.import_key(oidc.jwks()["keys"][0])).claims


@pytest.mark.parametrize(("groups", "expected"), [("", ["zellify-admins"]), ("  ", ["zellify-admins"]),
                                                  ("agency-acme", ["agency-acme"]),
                                                  ("agency-acme, growth ,agency-acme", ["agency-acme", "growth"])])
def test_the_groups_signed_in_with_are_in_both_tokens(gateway, groups, expected):
    oidc = gateway.oidc
    tokens = json.loads(exchange(oidc, sign_in(oidc, groups=groups)["code"]).get_data())
    assert claims_of(oidc, tokens["access_token"])["cognito:groups"] == expected
    assert claims_of(oidc, tokens["id_token"])["cognito:groups"] == expected
    gateway.call("GET", "/v1/campaigns", f"Bearer {tokens['access_token']}")
    # As API Gateway hands a list claim on: "[a b]".
    passed = gateway.invoked[-1]["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"]
    assert passed == "[" + " ".join(expected) + "]"


@pytest.mark.parametrize("groups", ["has space", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u", "x" * 65, "é"])
def test_the_sign_in_form_refuses_groups_that_are_not_group_names_in_plain_words(gateway, groups):
    answer = oidc_call(gateway.oidc, gateway.oidc.authorize, "POST",
                       data={**authorization_request(), "email": "ann@acme.example", "groups": groups})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "Location" not in answer.headers and 'data-testid="login-error"' in text
    assert "group" in text and 'value="ann@acme.example"' in text  # what was typed stays


def dev_token(oidc: OidcStandIn, body, content_type: str = "application/json"):
    data = body if isinstance(body, str) else json.dumps(body)
    return oidc_call(oidc, oidc.dev_token, "POST", data=data, content_type=content_type)


def test_a_dev_token_is_a_console_users_access_token_with_the_groups_given(gateway):
    oidc = gateway.oidc
    answer = dev_token(oidc, {"email": "Ann@Acme.example", "groups": ["agency-acme"]})
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    token = json.loads(answer.get_data())["access_token"]
    claims = claims_of(oidc, token)
    assert claims["cognito:groups"] == ["agency-acme"] and claims["client_id"] == CONSOLE_CLIENT_ID
    assert claims["username"] == "ann@acme.example" and claims["token_use"] == "access"
    assert CAMPAIGNS_SCOPE in claims["scope"].split()
    assert gateway.call("GET", "/v1/campaigns", f"Bearer {token}").status_code == 200
    # The same person signing in through the page gets the same sub.
    tokens = json.loads(exchange(oidc, sign_in(oidc, email="ann@acme.example")["code"]).get_data())
    assert claims_of(oidc, tokens["access_token"])["sub"] == claims["sub"]


def test_a_dev_token_without_groups_is_an_admins_and_with_an_empty_list_in_no_group(gateway):
    oidc = gateway.oidc
    admin = json.loads(dev_token(oidc, {"email": "ops@example.com"}).get_data())["access_token"]
    assert claims_of(oidc, admin)["cognito:groups"] == ["zellify-admins"]
    nobody = json.loads(dev_token(oidc, {"email": "ops@example.com", "groups": []}).get_data())["access_token"]
    assert "cognito:groups" not in claims_of(oidc, nobody)


@pytest.mark.parametrize(("body", "content_type", "status"), [
    ({"email": "ops@example.com"}, "text/plain", 415),
    ({"email": "ops@example.com"}, "application/x-www-form-urlencoded", 415),
    ("not json", "application/json", 400),
    (["ops@example.com"], "application/json", 400),
    ({"email": "nope"}, "application/json", 400),
    ({"email": "ops@example.com", "groups": "agency-acme"}, "application/json", 400),
    ({"email": "ops@example.com", "groups": ["has space"]}, "application/json", 400),
    ({"email": "ops@example.com", "groups": [f"g{i}" for i in range(21)]}, "application/json", 400),
])
def test_a_dev_token_request_that_is_not_a_json_email_and_groups_is_refused(gateway, body, content_type, status):
    answer = dev_token(gateway.oidc, body, content_type)
    assert answer.status_code == status and "access_token" not in json.loads(answer.get_data())


def test_authorization_code_with_pkce_gives_cognito_shaped_tokens_the_gateway_accepts(gateway):
    oidc = gateway.oidc
    answer = sign_in(oidc)
    assert answer["state"] == "state-123"
    tokens = json.loads(exchange(oidc, answer["code"]).get_data())
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    access = jwt.decode(tokens["access_token"], RSAKey.import_key(oidc.jwks()["keys"][0])).claims
    assert access["client_id"] == CONSOLE_CLIENT_ID and "aud" not in access
    assert access["scope"].split() == sorted(["openid", "email", CAMPAIGNS_SCOPE])
    identity = jwt.decode(tokens["id_token"], RSAKey.import_key(oidc.jwks()["keys"][0])).claims
    assert (identity["aud"], identity["email"]) == (CONSOLE_CLIENT_ID, "ops@example.com")
    assert identity["nonce"] == "nonce-456"
    assert gateway.call("GET", "/v1/campaigns", f"Bearer {tokens['access_token']}").status_code == 200


def test_a_wrong_pkce_verifier_or_a_reused_code_gets_no_token(gateway):
    oidc = gateway.oidc
    for verifier in ("w" * 43, VERIFIER + "x", "short", ""):
        answer = exchange(oidc, sign_in(oidc)["code"], verifier)
        assert (answer.status_code, json.loads(answer.get_data())["error"]) == (400, "invalid_grant"), verifier
    code = sign_in(oidc)["code"]
    assert exchange(oidc, code).status_code == 200
    assert json.loads(exchange(oidc, code).get_data())["error"] == "invalid_grant"
    wrong_redirect = exchange(oidc, sign_in(oidc)["code"], redirect_uri=f"{BASE}/elsewhere/")
    assert json.loads(wrong_redirect.get_data())["error"] == "invalid_grant"
    wrong_client = exchange(oidc, sign_in(oidc)["code"], client_id=MACHINE_CLIENT_ID)
    assert wrong_client.status_code == 401


@pytest.mark.parametrize(("changes", "error"), [
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge": "too-short"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": f"openid {CAMPAIGNS_SCOPE} admin"}, "invalid_scope"),
])
def test_an_authorization_request_without_s256_pkce_goes_back_with_an_error(gateway, changes, error):
    answer = oidc_call(gateway.oidc, gateway.oidc.authorize, query_string=authorization_request(**changes))
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == [error] and query["state"] == ["state-123"] and "code" not in query


@pytest.mark.parametrize("changes", [{"client_id": "unknown"}, {"redirect_uri": "https://evil.example.com/console/"},
                                     {"client_id": MACHINE_CLIENT_ID}])
def test_an_unknown_client_or_redirect_uri_is_never_redirected_to(gateway, changes):
    answer = oidc_call(gateway.oidc, gateway.oidc.authorize, query_string=authorization_request(**changes))
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_the_sign_in_form_refuses_what_is_not_an_email(gateway):
    answer = oidc_call(gateway.oidc, gateway.oidc.authorize, "POST", data={**authorization_request(), "email": "nope"})
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_client_credentials_for_machines(gateway):
    oidc = gateway.oidc
    basic = "Basic " + base64.b64encode(f"{MACHINE_CLIENT_ID}:{MACHINE_CLIENT_SECRET}".encode()).decode()
    answer = oidc_call(oidc, oidc.token, "POST", data={"grant_type": "client_credentials"},
                       headers={"Authorization": basic})
    tokens = json.loads(answer.get_data())
    assert answer.status_code == 200 and "id_token" not in tokens
    assert gateway.call("PUT", "/v1/campaigns/demo/tiktok", f"Bearer {tokens['access_token']}").status_code == 200
    posted = oidc_call(oidc, oidc.token, "POST", data={"grant_type": "client_credentials", "scope": CAMPAIGNS_SCOPE,
                                                       "client_id": MACHINE_CLIENT_ID,
                                                       "client_secret": MACHINE_CLIENT_SECRET})
    assert posted.status_code == 200
    for form, status, error in (
        ({"client_id": MACHINE_CLIENT_ID, "client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": CONSOLE_CLIENT_ID}, 400, "unauthorized_client"),
        ({"client_id": MACHINE_CLIENT_ID, "client_secret": MACHINE_CLIENT_SECRET, "scope": "openid"}, 400,
         "invalid_scope"),
    ):
        refused = oidc_call(oidc, oidc.token, "POST", data={"grant_type": "client_credentials", **form})
        assert (refused.status_code, json.loads(refused.get_data())["error"]) == (status, error), form


def test_logout_goes_back_only_to_the_console(gateway):
    oidc = gateway.oidc
    back = oidc_call(oidc, oidc.logout, query_string={"client_id": CONSOLE_CLIENT_ID, "logout_uri": CONSOLE_URL})
    assert (back.status_code, back.headers["Location"]) == (302, CONSOLE_URL)
    elsewhere = oidc_call(oidc, oidc.logout, query_string={"client_id": CONSOLE_CLIENT_ID,
                                                             "logout_uri": "https://evil.example.com/"})
    assert elsewhere.status_code == 400 and "Location" not in elsewhere.headers
