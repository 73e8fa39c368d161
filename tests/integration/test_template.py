"""The SAM template lints, builds for arm64, and keeps DESIGN §2's shape."""

import os
import shutil
import struct
import subprocess
import tomllib
from pathlib import Path

import pytest
from cfnlint.decode import decode

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
    assert (layer / "aws_xray_sdk").exists() and (tmp_path / "build" / "StripeWebhookFunction" / "stripe").exists()
    # Browsers get the minified script; the readable source and its build files stay behind.
    collect = tmp_path / "build" / "CollectFunction"
    assert sorted(p.name for p in collect.iterdir()) == ["collect_app.py", "tracker.min.js"]
    assert (collect / "tracker.min.js").read_bytes() == (ROOT / "functions/collect/tracker.min.js").read_bytes()


def test_http_api_shape(template):
    api = template["Resources"]["HttpApi"]["Properties"]
    assert "CorsConfiguration" not in api, "the collector answers CORS itself (DESIGN §2)"
    assert "StageName" not in api, "$default stage only: rawPath carries no stage prefix"
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"]


def test_settings_routes_use_iam_and_public_routes_do_not(template):
    resources = template["Resources"]
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            path = event["Properties"]["Path"]
            auth = event["Properties"].get("Auth", {}).get("Authorizer")
            assert (auth == "AWS_IAM") == path.endswith("/tiktok"), (name, path)


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
