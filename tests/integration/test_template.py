"""The SAM template lints, builds for arm64, and keeps DESIGN §2's shape."""

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
SAM = shutil.which("sam", path=str(ROOT / ".venv" / "bin")) or "sam"
EM_AARCH64 = 183


def sam(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.11.7:3.13.0")}
    return subprocess.run([SAM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def elf_machine(path: Path) -> int:
    with path.open("rb") as f:
        header = f.read(20)
    return struct.unpack("<H", header[18:20])[0]


@pytest.fixture(scope="module")
def template():
    return decode(str(ROOT / "template.yaml"))[0]


def test_sam_validate_lint():
    result = sam("validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_sam_build_produces_arm64_layer(tmp_path):
    result = sam("build", "--build-dir", str(tmp_path / "build"), "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stdout + result.stderr
    layer = tmp_path / "build" / "SharedLayer" / "python"
    assert (layer / "zellify_tiktok" / "delivery.py").exists()
    extensions = list(layer.rglob("*.so"))
    assert extensions, "pydantic_core ships a compiled extension"
    assert {elf_machine(p) for p in extensions} == {EM_AARCH64}
    # The runtime provides boto3/botocore; stripe is the Stripe function's own; the CLI is not for Lambda.
    for absent in ("boto3", "botocore", "stripe", "zellify_tiktok/cli"):
        assert not (layer / absent).exists(), absent
    # Bytecode for what a cold start imports (Lambda's /opt is read-only: it could not be written there).
    assert list((layer / "zellify_tiktok" / "services" / "__pycache__").glob("collect.cpython-313.pyc"))
    assert (layer / "aws_xray_sdk").exists() and (tmp_path / "build" / "StripeWebhookFunction" / "stripe").exists()
    assert (tmp_path / "build" / "CollectFunction" / "tracker.js").exists()


def test_http_api_shape(template):
    api = template["Resources"]["HttpApi"]["Properties"]
    assert "CorsConfiguration" not in api, "the collector answers CORS itself (DESIGN §2)"
    assert "StageName" not in api, "$default stage only: rawPath carries no stage prefix"
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"]


OPERATOR_ROUTES = {
    ("GET", "/v1/campaigns"), ("PUT", "/v1/campaigns/{campaign_id}/tiktok"),
    ("GET", "/v1/campaigns/{campaign_id}/tiktok"), ("DELETE", "/v1/campaigns/{campaign_id}/tiktok"),
    ("POST", "/v1/campaigns/{campaign_id}/tiktok/test-event"), ("GET", "/v1/campaigns/{campaign_id}/tiktok/health"),
}
PUBLIC_ROUTES = {
    ("POST", "/v1/events"), ("OPTIONS", "/v1/events"), ("GET", "/v1/campaigns/{campaign_id}/tracker.js"),
    ("POST", "/v1/webhooks/stripe"), ("GET", "/console"), ("GET", "/console/{file+}"),
}


def http_events(template) -> dict[tuple[str, str], tuple[str, dict]]:
    return {
        (props["Method"].upper(), props["Path"]): (name, props.get("Auth", {}))
        for name, resource in template["Resources"].items() if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values() if event["Type"] == "HttpApi"
        for props in [event["Properties"]]
    }


def test_operator_routes_carry_the_jwt_authorizer_and_public_routes_none(template):
    auth = template["Resources"]["HttpApi"]["Properties"]["Auth"]
    assert "EnableIamAuthorizer" not in auth, "the IAM authorizer is gone: operators sign in (docs/design.md §2)"
    # Closed by default: a route without Auth gets the JWT authorizer and its scope.
    assert auth["DefaultAuthorizer"] == "OperatorJwt"
    jwt = auth["Authorizers"]["OperatorJwt"]
    assert jwt["IdentitySource"] == "$request.header.Authorization"
    assert jwt["AuthorizationScopes"] == ["zellify-tiktok/campaigns"]
    assert set(jwt["JwtConfiguration"]) == {"issuer", "audience"}
    events = http_events(template)
    assert set(events) == OPERATOR_ROUTES | PUBLIC_ROUTES
    for route in OPERATOR_ROUTES:
        function, route_auth = events[route]
        assert function == "CampaignSettingsFunction" and route_auth.get("Authorizer", "OperatorJwt") == "OperatorJwt"
        assert "AuthorizationScopes" not in route_auth, route
    for route in PUBLIC_ROUTES:
        assert events[route][1] == {"Authorizer": "NONE"}, route


def test_cognito_signs_in_the_console_with_pkce_and_machines_with_client_credentials(template):
    resources = template["Resources"]
    assert resources["UserPool"]["Properties"]["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert resources["UserPoolDomain"]["Type"] == "AWS::Cognito::UserPoolDomain"
    server = resources["CampaignsResourceServer"]["Properties"]
    assert (server["Identifier"], [s["ScopeName"] for s in server["Scopes"]]) == ("zellify-tiktok", ["campaigns"])
    console = resources["ConsoleClient"]["Properties"]
    assert console["GenerateSecret"] is False and console["AllowedOAuthFlows"] == ["code"]
    assert "zellify-tiktok/campaigns" in console["AllowedOAuthScopes"]
    assert "console/" in str(console["CallbackURLs"]) and "HttpApi" not in str(console["CallbackURLs"]), \
        "the callback comes from the domain or a parameter: no cycle between the client and the API"
    machines = resources["MachineClient"]["Properties"]
    assert machines["GenerateSecret"] is True and machines["AllowedOAuthFlows"] == ["client_credentials"]
    assert machines["AllowedOAuthScopes"] == ["zellify-tiktok/campaigns"]
    # An existing user pool or any OIDC issuer instead.
    conditions = {name: resources[name].get("Condition") for name in
                  ("UserPool", "UserPoolDomain", "CampaignsResourceServer", "ConsoleClient", "MachineClient")}
    assert conditions == {"UserPool": "CreateUserPool", "UserPoolDomain": "CreateUserPool",
                          "CampaignsResourceServer": "UseCognito", "ConsoleClient": "UseCognito",
                          "MachineClient": "UseCognito"}
    for parameter in ("UserPoolId", "OidcIssuer", "OidcAudience", "CognitoDomainPrefix"):
        assert parameter in template["Parameters"]
    for output in ("UserPoolId", "ConsoleClientId", "MachineClientId", "HostedUiUrl", "TokenUrl", "ConsoleUrl",
                   "OidcIssuer"):
        assert output in template["Outputs"], output


def test_the_console_function_touches_no_aws(template):
    console = template["Resources"]["ConsoleFunction"]["Properties"]
    assert "Policies" not in console and console["CodeUri"] == "functions/console/"
    assert set(console["Environment"]["Variables"]) == {
        "CONSOLE_CLIENT_ID", "CONSOLE_AUTHORIZATION_ENDPOINT", "CONSOLE_TOKEN_ENDPOINT", "CONSOLE_LOGOUT_ENDPOINT",
        "CONSOLE_SCOPES"}


def test_functions_run_python313_on_arm64(template):
    function = template["Globals"]["Function"]
    assert function["Runtime"] == "python3.13" and function["Architectures"] == ["arm64"]


def test_tables_have_ttl_where_design_says(template):
    resources = template["Resources"]
    for table in ("SessionsTable", "SentEventsTable"):
        ttl = resources[table]["Properties"]["TimeToLiveSpecification"]
        assert ttl == {"AttributeName": "expires_at", "Enabled": True}


def test_only_the_settings_function_writes_secrets(template):
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        text = str(resource["Properties"].get("Policies", []))
        writes = "secretsmanager:PutSecretValue" in text or "secretsmanager:CreateSecret" in text
        assert writes == (name == "CampaignSettingsFunction"), name
