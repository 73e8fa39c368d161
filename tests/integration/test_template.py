"""The SAM template lints, builds for arm64, and keeps docs/design.md §2's shape."""

import dataclasses
import json
import os
import re
import shutil
import struct
import subprocess
import tomllib
from pathlib import Path

import pytest
from cfnlint.decode import decode
from zellify_tiktok.config import Config
from zellify_tiktok.services.delivery import backoff_seconds

ROOT = Path(__file__).resolve().parents[2]
# The pinned SAM CLI's own virtualenv (`make test` creates it: pyproject.toml's dependency group `sam`).
SAM = ROOT / ".venv-sam" / "bin" / "sam"
EM_AARCH64 = 183


def sam(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    assert SAM.exists(), f"{SAM} is missing: `make test` installs it"
    # The Makefile's link to a python3.13 that runs, which sam build needs whatever PYENV_VERSION says.
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{ROOT / '.python3.13'}:{os.environ['PATH']}"}
    return subprocess.run([str(SAM), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def elf_machine(path: Path) -> int:
    with path.open("rb") as f:
        header = f.read(20)
    return struct.unpack("<H", header[18:20])[0]


@pytest.fixture(scope="module")
def template():
    return decode(str(ROOT / "template.yaml"))[0]


def test_sam_validate_lint_with_the_pinned_sam_cli():
    pinned = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["sam"]
    version = sam("--version")
    assert f"aws-sam-cli=={version.stdout.split()[-1]}" in pinned, (version.stdout, pinned)
    result = sam("validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    # Clean by fixing, not by silencing: no check is switched off in the template.
    assert "ignore_checks" not in (ROOT / "template.yaml").read_text()


@pytest.mark.slow
def test_sam_build_produces_arm64_layer(tmp_path):
    result = sam("build", "--build-dir", str(tmp_path / "build"), "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stdout + result.stderr
    layer = tmp_path / "build" / "SharedLayer" / "python"
    assert (layer / "zellify_tiktok" / "delivery.py").exists()
    extensions = list(layer.rglob("*.so"))
    assert extensions, "pydantic_core ships a compiled extension"
    assert {elf_machine(p) for p in extensions} == {EM_AARCH64}
    # The runtime provides boto3/botocore and their urllib3 (which the TikTok client uses); stripe is the
    # Stripe function's own; the CLI is not for Lambda.
    for absent in ("boto3", "botocore", "urllib3", "stripe", "zellify_tiktok/cli"):
        assert not (layer / absent).exists(), absent
    # Bytecode for what a cold start imports (Lambda's /opt is read-only: it could not be written there).
    assert list((layer / "zellify_tiktok" / "services" / "__pycache__").glob("collect.cpython-313.pyc"))
    assert (layer / "aws_xray_sdk").exists() and (tmp_path / "build" / "PaymentWebhookFunction" / "stripe").exists()
    # Browsers get the minified script; the readable source and its build files stay behind.
    collect = tmp_path / "build" / "CollectFunction"
    assert sorted(p.name for p in collect.iterdir()) == ["collect_app.py", "tracker.min.js"]
    assert (collect / "tracker.min.js").read_bytes() == (ROOT / "functions/collect/tracker.min.js").read_bytes()


def test_http_api_shape(template):
    api = template["Resources"]["HttpApi"]["Properties"]
    assert "CorsConfiguration" not in api, "the collector answers CORS itself (docs/design.md §2)"
    assert "StageName" not in api, "$default stage only: rawPath carries no stage prefix"
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"]


OPERATOR_ROUTES = {
    ("GET", "/v1/campaigns"), ("PUT", "/v1/campaigns/{campaign_id}/tiktok"),
    ("GET", "/v1/campaigns/{campaign_id}/tiktok"), ("DELETE", "/v1/campaigns/{campaign_id}/tiktok"),
    ("POST", "/v1/campaigns/{campaign_id}/tiktok/test-event"), ("GET", "/v1/campaigns/{campaign_id}/tiktok/health"),
    ("GET", "/v1/campaigns/{campaign_id}/tiktok/audit"),
}
PUBLIC_ROUTES = {
    ("POST", "/v1/events"), ("OPTIONS", "/v1/events"), ("GET", "/v1/campaigns/{campaign_id}/tracker.js"),
    ("POST", "/v1/webhooks/{provider}"), ("GET", "/console"), ("GET", "/console/{file+}"),
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


# Production: data kept, alarms that reach someone, least privilege (issue 11)

REQUIRED_OUTPUTS = {
    # The names the CLI and an operator read, and the resource (or environment variable) behind each.
    "CampaignsTableName": {"Ref": "CampaignsTable"},
    "SessionsTableName": {"Ref": "SessionsTable"},
    "SentEventsTableName": {"Ref": "SentEventsTable"},
    "DeliveryQueueUrl": {"Fn::GetAtt": ["DeliveryQueue", "QueueUrl"]},
    "DeadLetterQueueUrl": {"Fn::GetAtt": ["DeadLetterQueue", "QueueUrl"]},
    "CampaignSecretPrefix": {"Fn::Sub": "${AWS::StackName}/campaigns/"},
    "StripeSecretName": {"Fn::Sub": "${AWS::StackName}/stripe-webhook"},
    "HealthTableName": {"Ref": "HealthTable"},
    "AuditTableName": {"Ref": "AuditTable"},
    "AlarmTopicArn": {"Ref": "AlarmTopic"},
}
CAMPAIGN_SECRETS = "campaign secrets"
CAMPAIGN_SECRETS_ARN = re.compile(r"^arn:\$\{AWS::Partition\}:secretsmanager:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
                                  r"secret:\$\{AWS::StackName\}/campaigns/\*$")
CAMPAIGN_UPDATE = ("dynamodb:UpdateItem", "CampaignsTable", "last_delivery only")
# What each function's code calls through zellify_tiktok/repositories/ (campaigns.py, sessions.py, ledger.py,
# secrets.py, queues.py), as (action, resource[, condition]); nothing more may be granted.
FUNCTION_PERMISSIONS = {
    "CollectFunction": {  # beacons and tracker.js: campaign read, last_beacon_at, session upsert, the handoff
        ("dynamodb:GetItem", "CampaignsTable"), CAMPAIGN_UPDATE, ("dynamodb:UpdateItem", "SessionsTable"),
        ("sqs:SendMessage", "DeliveryQueue"),  # no token, no ledger: the request never talks to TikTok
    },
    "CampaignSettingsFunction": {  # consistent read, put, delete; the token written or force-deleted
        ("dynamodb:GetItem", "CampaignsTable"), ("dynamodb:PutItem", "CampaignsTable"),
        ("dynamodb:DeleteItem", "CampaignsTable"), ("dynamodb:Scan", "CampaignsTable"),  # the campaign list
        ("dynamodb:Query", "HealthTable"),
        ("dynamodb:PutItem", "AuditTable"), ("dynamodb:Query", "AuditTable"),  # only it writes the audit trail
        ("secretsmanager:GetSecretValue", CAMPAIGN_SECRETS),  # the test event
        ("secretsmanager:CreateSecret", CAMPAIGN_SECRETS), ("secretsmanager:PutSecretValue", CAMPAIGN_SECRETS),
        ("secretsmanager:DeleteSecret", CAMPAIGN_SECRETS),
    },
    "DeliveryFunction": {  # receiving and deleting is the event source mapping's (AWSLambdaSQSQueueExecutionRole)
        ("dynamodb:GetItem", "CampaignsTable"), CAMPAIGN_UPDATE,
        ("dynamodb:BatchGetItem", "SentEventsTable"), ("dynamodb:BatchWriteItem", "SentEventsTable"),
        # Its figures: one transaction of bucket updates and a marker item's put.
        ("dynamodb:UpdateItem", "HealthTable"), ("dynamodb:PutItem", "HealthTable"),
        ("secretsmanager:GetSecretValue", CAMPAIGN_SECRETS),
        # Narrowed and deferred messages go back as copies; what TikTok refuses goes to the DeadLetterQueue.
        ("sqs:ChangeMessageVisibility", "DeliveryQueue"), ("sqs:SendMessage", "DeliveryQueue"),
        ("sqs:SendMessage", "DeadLetterQueue"),
    },
    "PaymentWebhookFunction": {  # the ledger read only (a redelivery is `duplicate`); no campaign token
        ("dynamodb:GetItem", "CampaignsTable"), ("dynamodb:GetItem", "SessionsTable"),
        ("dynamodb:BatchGetItem", "SentEventsTable"),
        ("secretsmanager:GetSecretValue", "StripeWebhookSigningSecret"),
        ("secretsmanager:GetSecretValue", "PaddleWebhookSigningSecret"),
        ("secretsmanager:GetSecretValue", "SolidgateWebhookSigningSecret"),
        ("sqs:SendMessage", "DeliveryQueue"),
    },
    "ConsoleFunction": set(),  # static files and config.json: no AWS at all
    "HealthFunction": {  # reading the ledger's stream is the event source mapping's (AWSLambdaDynamoDBExecutionRole)
        ("dynamodb:UpdateItem", "HealthTable"), ("dynamodb:PutItem", "HealthTable"),  # TransactWriteItems' writes
    },
}
# The campaign attributes each function may update besides its key.
CAMPAIGN_ATTRIBUTES = {"CollectFunction": ["campaign_id", "last_beacon_at"]}
MANAGED_POLICIES = {"service-role/AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"}
SQS_MAX_VISIBILITY_S = 12 * 3600
SQS_MAX_RETENTION_S = 14 * 86400


def resources_of(template, resource_type: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def _resource_name(resource) -> str:
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0]
    if isinstance(resource, dict) and "Ref" in resource:
        return resource["Ref"]
    if isinstance(resource, dict) and CAMPAIGN_SECRETS_ARN.match(str(resource.get("Fn::Sub", ""))):
        return CAMPAIGN_SECRETS
    raise AssertionError(f"unexpected policy resource {resource!r}")


def granted(name: str, function: dict) -> set[tuple]:
    out = set()
    for policy in function["Properties"].get("Policies", []):
        assert set(policy) == {"Statement"}, f"only inline statements, no SAM policy template: {policy}"
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow" and set(statement) <= {"Effect", "Action", "Resource", "Condition"}
            condition = statement.get("Condition")
            if condition is not None:
                attributes = CAMPAIGN_ATTRIBUTES.get(name, ["campaign_id", "last_delivery"])
                assert condition == {"ForAllValues:StringEquals": {"dynamodb:Attributes": attributes}}, name
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                for target in targets:
                    out.add((action, _resource_name(target), *(("last_delivery only",) if condition else ())))
    return out


TRANSLATE = """
import json, sys
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
document = json.load(sys.stdin)
print(json.dumps(Translator(managed_policy_map={}, sam_parser=Parser()).translate(sam_template=document,
                                                                                 parameter_values={})))
"""


@pytest.fixture(scope="module")
def transformed():
    """template.yaml after the SAM transform, as CloudFormation will get it: the pinned SAM CLI's own
    translator (in its virtualenv, .venv-sam), with the local CodeUri/ContentUri replaced by S3 locations
    as `sam package` would."""
    document = json.loads(json.dumps(decode(str(ROOT / "template.yaml"))[0]))
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://bucket/layer.zip"
    result = subprocess.run([str(SAM.with_name("python")), "-c", TRANSLATE], input=json.dumps(document),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_each_function_is_granted_exactly_what_its_code_calls(template):
    functions = resources_of(template, "AWS::Serverless::Function")
    assert set(functions) == set(FUNCTION_PERMISSIONS)
    for name, function in functions.items():
        assert granted(name, function) == FUNCTION_PERMISSIONS[name], name


def test_sam_adds_only_the_logging_tracing_and_queue_polling_managed_policies(transformed):
    for name in FUNCTION_PERMISSIONS:
        role = transformed["Resources"][f"{name}Role"]["Properties"]
        arns = {arn.removeprefix("arn:aws:iam::aws:policy/") for arn in role["ManagedPolicyArns"]}
        polls = {"DeliveryFunction": {"service-role/AWSLambdaSQSQueueExecutionRole"},
                 "HealthFunction": {"service-role/AWSLambdaDynamoDBExecutionRole"}}.get(name, set())
        assert arns == MANAGED_POLICIES | polls, name


def _evaluate(expression, parameters: dict):
    """A rule-specific intrinsic function of the Rules section, evaluated as CloudFormation does."""
    if not isinstance(expression, dict):
        return expression
    ((function, argument),) = expression.items()
    if function == "Ref":
        return parameters[argument]
    values = [_evaluate(item, parameters) for item in argument]
    return {"Fn::Equals": lambda: values[0] == values[1], "Fn::Not": lambda: not values[0],
            "Fn::Or": lambda: any(values), "Fn::And": lambda: all(values)}[function]()


def failed_rules(template, **overrides) -> list[str]:
    """The AssertDescription of every rule a deploy with these parameters would stop on."""
    parameters = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}
    parameters |= {"AWS::Region": "us-east-1", **overrides}
    failed = []
    for rule in template["Rules"].values():
        if "RuleCondition" in rule and not _evaluate(rule["RuleCondition"], parameters):
            continue
        failed += [a["AssertDescription"] for a in rule["Assertions"] if not _evaluate(a["Assert"], parameters)]
    return failed


def test_the_defaults_and_a_complete_prod_deploy_pass_every_rule(template):
    assert failed_rules(template) == []
    assert failed_rules(template, Stage="prod", AlarmEmail="ops@example.com") == []
    assert failed_rules(template, Stage="prod", AlarmTopicArn="arn:aws:sns:us-east-1:123456789012:pager") == []
    assert failed_rules(template, DomainName="track.example.com",
                        CertificateArn="arn:aws:acm:us-east-1:123456789012:certificate/x") == []
    assert failed_rules(template, EnableCloudFront="true") == []
    assert failed_rules(template, EnableCloudFront="true", WebAclArn="arn:aws:wafv2:eu-west-1:123456789012:x",
                        **{"AWS::Region": "eu-west-1"}) == []


@pytest.mark.parametrize(("parameters", "message"), [
    ({"Stage": "prod"}, "Stage=prod needs AlarmEmail or AlarmTopicArn"),
    ({"DomainName": "track.example.com"}, "DomainName needs CertificateArn"),
    ({"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}, "only used with DomainName"),
    ({"WebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/x"}, "needs EnableCloudFront=true"),
    ({"EnableCloudFront": "true", "AWS::Region": "eu-west-1"}, "can only be created in us-east-1"),
])
def test_inconsistent_parameters_stop_the_deploy_with_a_clear_message(template, parameters, message):
    (failed,) = failed_rules(template, **parameters)
    assert message in failed


def test_prod_in_samconfig_sets_the_stage_that_requires_an_alarm_target():
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert "Stage=prod" in config["prod"]["deploy"]["parameters"]["parameter_overrides"].split()
    assert "Stage=prod" not in config["dev"]["deploy"]["parameters"]["parameter_overrides"].split()


def _alarm_metrics(alarm: dict) -> list[dict]:
    """Every metric an alarm reads: its own, or those of its metric math."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [{"Namespace": props["Namespace"], "MetricName": props["MetricName"], "Dimensions": props["Dimensions"]}]
    return [query["MetricStat"]["Metric"] for query in props["Metrics"] if "MetricStat" in query]


def _alarms_reading(template, metric_name: str, dimension_value=None) -> dict[str, dict]:
    return {name: alarm for name, alarm in resources_of(template, "AWS::CloudWatch::Alarm").items()
            if any(m["MetricName"] == metric_name and (dimension_value is None or dimension_value in
                                                        [d["Value"] for d in m["Dimensions"]])
                   for m in _alarm_metrics(alarm))}


def test_every_alarm_notifies_the_topic_and_the_optional_external_one(template):
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 8
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [
            {"Ref": "AlarmTopic"}, {"Fn::If": ["HasAlarmTopicArn", {"Ref": "AlarmTopicArn"}, {"Ref": "AWS::NoValue"}]},
        ], name
        assert alarm["Properties"]["AlarmDescription"], name
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}


def test_api_gateway_5xx_is_alarmed_since_our_own_503_and_500_are_no_function_error(template):
    (alarm,) = _alarms_reading(template, "5xx").values()
    (metric,) = _alarm_metrics(alarm)
    assert metric["Namespace"] == "AWS/ApiGateway"
    assert metric["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}]


def test_metrics_alarmed_on_are_the_ones_the_code_emits(template):
    layer = ROOT / "layers" / "shared" / "zellify_tiktok"
    source = "\n".join(path.read_text() for path in layer.rglob("*.py"))
    custom = {m["MetricName"] for alarm in resources_of(template, "AWS::CloudWatch::Alarm").values()
              for m in _alarm_metrics(alarm) if m["Namespace"] == "ZellifyTikTok"}
    assert custom == {"StripeSignatureFailures", "PaddleSignatureFailures", "SolidgateSignatureFailures",
                      "TikTokPermanentFailures", "EventsSent"}
    for name in custom:
        assert f'count("{name}"' in source, name
    for alarm in resources_of(template, "AWS::CloudWatch::Alarm").values():
        for metric in _alarm_metrics(alarm):
            if metric["Namespace"] == "ZellifyTikTok":
                # Powertools' one dimension: POWERTOOLS_SERVICE_NAME.
                service = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
                assert metric["Dimensions"] == [{"Name": "service", "Value": service}]


def dashboard_widgets(template) -> list[dict]:
    """The Dashboard's widgets, its Fn::Sub variables replaced by their names."""
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(re.sub(r"\$\{([^}]+)\}", r"\1", body))["widgets"]


def widget_metrics(widget: dict) -> list[tuple[str, str, dict]]:
    """(namespace, metric name, options) of each line, CloudWatch's "." and "..." shorthands expanded."""
    lines, previous = [], []
    for line in widget["properties"].get("metrics", []):
        options = line[-1] if isinstance(line[-1], dict) else {}
        parts = [p for p in line if not isinstance(p, dict)]
        if parts[:1] == ["..."]:
            parts = previous[:len(previous) - len(parts) + 1] + parts[1:]
        parts = [previous[i] if part == "." else part for i, part in enumerate(parts)]
        previous = parts
        lines.append((parts[0], parts[1], options))
    return lines


def test_the_dashboard_shows_totals_of_metrics_the_layer_emits(template):
    layer = ROOT / "layers" / "shared" / "zellify_tiktok"
    source = "\n".join(path.read_text() for path in layer.rglob("*.py"))
    emitted = set(re.findall(r'\b(?:count|average|milliseconds)\("(\w+)"', source))
    widgets = dashboard_widgets(template)
    custom = {name for widget in widgets for namespace, name, _ in widget_metrics(widget)
              if namespace == "ZellifyTikTok"}
    assert custom and custom <= emitted, custom - emitted
    # The health figures' totals, stack-wide, over the dashboard's time range (docs/design.md §9).
    (totals,) = [w for w in widgets if w["properties"].get("view") == "singleValue"]
    assert totals["properties"]["setPeriodToTimeRange"] is True
    lines = {name: options for _, name, options in widget_metrics(totals)}
    assert list(lines) == ["EventsSent", "EventsDeduplicated", "TikTokTransientFailures", "TikTokPermanentFailures",
                           "MatchKeysPerEvent"]
    assert totals["properties"]["stat"] == "Sum" and lines["MatchKeysPerEvent"]["stat"] == "Average"
    assert [lines[name]["label"] for name in ("TikTokTransientFailures", "TikTokPermanentFailures")] == [
        "queued for retry", "dead-lettered (refused by TikTok)"]
    # Per campaign there is the health route: the metrics have no campaign dimension, and the dashboard says so.
    (note,) = [w for w in widgets if w["type"] == "text"]
    assert "/v1/campaigns/{campaign_id}/tiktok/health" in note["properties"]["markdown"]
    assert "no campaign dimension" in note["properties"]["markdown"]
    for widget in widgets:
        for namespace, _, _ in widget_metrics(widget):
            assert namespace in ("ZellifyTikTok", "AWS/SQS"), namespace


def test_permanent_failures_are_alarmed_as_a_rate_of_answered_events(template):
    (alarm,) = _alarms_reading(template, "TikTokPermanentFailures").values()
    props = alarm["Properties"]
    (expression,) = [q["Expression"] for q in props["Metrics"] if q.get("ReturnData")]
    assert "permanent" in expression and "sent" in expression and "/" in expression
    assert {m["MetricName"] for m in _alarm_metrics(alarm)} == {"TikTokPermanentFailures", "EventsSent"}
    assert 0 < props["Threshold"] < 100


def test_the_age_of_the_oldest_message_is_alarmed_on_both_queues(template):
    alarms = _alarms_reading(template, "ApproximateAgeOfOldestMessage")
    queues = {_alarm_metrics(a)[0]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: a for a in alarms.values()}
    assert set(queues) == {"DeliveryQueue", "DeadLetterQueue"}
    retention = template["Resources"]["DeadLetterQueue"]["Properties"]["MessageRetentionPeriod"]
    assert queues["DeadLetterQueue"]["Properties"]["Threshold"] < retention


def test_the_dead_letter_alarm_fires_on_new_arrivals_not_on_a_count_above_zero(template):
    alarms = _alarms_reading(template, "NumberOfMessagesSent", {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]})
    (alarm,) = alarms.values()
    (expression,) = [q["Expression"] for q in alarm["Properties"]["Metrics"] if q.get("ReturnData")]
    # Moved by the redrive policy, a message is not "sent": the rise of the visible count catches it.
    assert "DIFF(visible)" in expression and "sent" in expression
    assert not [a for a in resources_of(template, "AWS::CloudWatch::Alarm").values()
                if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"]


def test_retries_outlast_a_day_before_the_delivery_function_dead_letters_them_itself(template):
    queue = template["Resources"]["DeliveryQueue"]["Properties"]
    config = Config(**{f.name: "x" for f in dataclasses.fields(Config) if f.default is dataclasses.MISSING})
    deliveries = config.retry_max_receives
    # After the n-th failed delivery the message stays hidden for its backoff; on the last allowed one the
    # DeliveryFunction dead-letters it with TikTok's last answer.
    retrying_s = sum(backoff_seconds(n, base_s=config.retry_backoff_base_s, cap_s=config.retry_backoff_cap_s)
                     for n in range(1, deliveries))
    assert retrying_s >= 24 * 3600, retrying_s
    assert deliveries == 32  # the arithmetic written in template.yaml
    # SQS's own redrive is a last resort only (crashes, timeouts): above what the function counts.
    assert queue["RedrivePolicy"]["maxReceiveCount"] > deliveries
    # The DeliveryQueue keeps a message longer than its retries take, the DeadLetterQueue longer still.
    dead_letter = template["Resources"]["DeadLetterQueue"]["Properties"]
    assert retrying_s < queue["MessageRetentionPeriod"] < dead_letter["MessageRetentionPeriod"] == SQS_MAX_RETENTION_S


def test_delivery_queue_visibility_covers_six_function_timeouts_within_sqs_limits(template):
    function = template["Resources"]["DeliveryFunction"]["Properties"]
    source = function["Events"]["Deliveries"]["Properties"]
    visibility = template["Resources"]["DeliveryQueue"]["Properties"]["VisibilityTimeout"]
    assert 6 * function["Timeout"] + source["MaximumBatchingWindowInSeconds"] <= visibility <= SQS_MAX_VISIBILITY_S
    assert source["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "DeliveryMaxConcurrency"}}
    assert template["Parameters"]["DeliveryMaxConcurrency"]["MinValue"] >= 2  # SQS's own minimum


def test_the_delivery_function_takes_large_batches_within_two_seconds_and_settles_each_record(template):
    source = template["Resources"]["DeliveryFunction"]["Properties"]["Events"]["Deliveries"]["Properties"]
    assert source["BatchSize"] == 1000 and source["MaximumBatchingWindowInSeconds"] <= 2
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_tables_are_retained_and_protected(template):
    resources = template["Resources"]
    for table in ("CampaignsTable", "SessionsTable", "SentEventsTable"):
        assert resources[table]["DeletionPolicy"] == resources[table]["UpdateReplacePolicy"] == "Retain", table
    for table in ("CampaignsTable", "SentEventsTable"):
        assert resources[table]["Properties"]["DeletionProtectionEnabled"] is True, table
    pitr = resources["CampaignsTable"]["Properties"]["PointInTimeRecoverySpecification"]
    assert pitr == {"PointInTimeRecoveryEnabled": True}


def test_queues_are_encrypted(template):
    for name, queue in resources_of(template, "AWS::SQS::Queue").items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, name


def test_every_function_and_the_api_log_to_a_group_with_the_retention_parameter(template):
    groups = resources_of(template, "AWS::Logs::LogGroup")
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    assert template["Parameters"]["LogRetentionDays"]["Default"] == 30
    used = set()
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert group in groups, name
        used.add(group)
    access = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    assert access["DestinationArn"]["Fn::GetAtt"] == ["ApiAccessLogGroup", "Arn"]
    record = json.loads(access["Format"])
    assert {"requestId", "routeKey", "status"} <= set(record)
    assert not [v for v in record.values() if "sourceIp" in v or "userAgent" in v], "no visitor data in access logs"
    assert record["sub"] == "$context.authorizer.claims.sub", "who called an operator route"
    assert used | {"ApiAccessLogGroup"} == set(groups)


def test_outputs_name_everything_the_cli_and_an_operator_need(template):
    outputs = template["Outputs"]
    for name, value in REQUIRED_OUTPUTS.items():
        assert outputs[name]["Value"] == value, name
        assert outputs[name]["Description"], name
    # The same values the functions get, so the CLI configured from the outputs reads what they write.
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for output, variable in (("CampaignsTableName", "CAMPAIGNS_TABLE"), ("SessionsTableName", "SESSIONS_TABLE"),
                             ("SentEventsTableName", "SENT_EVENTS_TABLE"), ("DeliveryQueueUrl", "DELIVERY_QUEUE_URL"),
                             ("DeadLetterQueueUrl", "DEAD_LETTER_QUEUE_URL"), ("CampaignSecretPrefix", "SECRET_PREFIX"),
                             ("StripeSecretName", "STRIPE_SECRET_NAME"), ("HealthTableName", "HEALTH_TABLE"),
                             ("AuditTableName", "AUDIT_TABLE")):
        assert outputs[output]["Value"] == variables[variable], output
    assert {"ApiUrl", "BeaconUrl", "TrackerUrlPattern", "PublicBaseUrl", "StripeWebhookUrl"} <= set(outputs)


def test_cloudfront_proves_itself_to_the_collector_with_a_generated_secret(template):
    from zellify_tiktok.api import ORIGIN_VERIFY_HEADER

    resources = template["Resources"]
    secret = resources["OriginVerifySecret"]
    assert secret["Condition"] == "UseCloudFront" and "GenerateSecretString" in secret["Properties"]
    reference = {"Fn::Sub": "{{resolve:secretsmanager:${OriginVerifySecret}:SecretString}}"}
    (origin,) = resources["Distribution"]["Properties"]["DistributionConfig"]["Origins"]
    assert origin["OriginCustomHeaders"] == [{"HeaderName": "X-Origin-Verify", "HeaderValue": reference}]
    assert ORIGIN_VERIFY_HEADER == "x-origin-verify"
    variables = resources["CollectFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["ORIGIN_VERIFY_SECRET"] == {"Fn::If": ["UseCloudFront", reference, ""]}
    # Never forwarded from the viewer: CloudFront sets it itself.
    policy = resources["ViewerAddressPolicy"]["Properties"]["OriginRequestPolicyConfig"]
    assert "X-Origin-Verify" not in policy["HeadersConfig"]["Headers"]


def layer_build_dry_run(path: str, **env: str) -> subprocess.CompletedProcess:
    """The layer's build recipe as make would run it (-n: nothing runs but the python3.13 lookup)."""
    return subprocess.run([shutil.which("make"), "-n", "-f", "Makefile", "build-SharedLayer", "ARTIFACTS_DIR=/nowhere"],
                          cwd=ROOT / "layers" / "shared", env={"PATH": path, **env}, capture_output=True, text=True,
                          timeout=60)


def test_the_layer_finds_python313_whatever_pyenv_version_says():
    # A caller started through a pyenv shim exports PYENV_VERSION without 3.13 (pyenv's python3.13 shim exits 127).
    # Without the Makefile's .python3.13 link (make test puts it on PATH), so pyenv itself is asked.
    path = ":".join(p for p in os.environ["PATH"].split(":") if not p.endswith(".python3.13"))
    result = layer_build_dry_run(path, PYENV_VERSION="3.11.7", HOME=os.environ.get("HOME", "/root"))
    assert result.returncode == 0, result.stderr
    compile_lines = [line for line in result.stdout.splitlines() if "compileall" in line]
    assert compile_lines and all("python3.13" in line and "-m compileall" in line for line in compile_lines)


def test_without_python313_the_layer_build_stops_with_one_line(tmp_path):
    result = layer_build_dry_run(str(tmp_path))  # no python3.13 and no pyenv on this PATH
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert "sam build needs Python 3.13" in line and "pyenv install 3.13" in line
