"""Every function of template.yaml imports its Handler from its CodeUri the way Lambda does.

A typo in a Handler or a CodeUri would otherwise go green everywhere and fail only on Lambda
(Runtime.ImportModuleError). Each function is imported in a fresh interpreter whose only extra
path is its CodeUri (Lambda's task root); the layer's package is on the path as /opt/python is.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.template import FunctionSpec, Template

ROOT = Path(__file__).resolve().parents[2]
SPECS = Template(ROOT / "template.yaml").functions()
IMPORT_AS_LAMBDA = """
import importlib, sys
from pathlib import Path
task_root = Path(sys.argv[1]).resolve()
module_name, attribute = sys.argv[2].rsplit(".", 1)
sys.path.insert(0, str(task_root))
module = importlib.import_module(module_name)
assert Path(module.__file__).resolve().is_relative_to(task_root), f"{module_name} came from {module.__file__}"
assert callable(getattr(module, attribute)), f"{sys.argv[2]} is not callable"
"""


def import_as_lambda(spec: FunctionSpec) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    return subprocess.run([sys.executable, "-c", IMPORT_AS_LAMBDA, str(spec.code_uri), spec.handler],
                          cwd=spec.code_uri if spec.code_uri.is_dir() else ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_template_has_its_six_functions():
    assert {spec.name for spec in SPECS} == {"CollectFunction", "CampaignSettingsFunction", "RetryFunction",
                                             "PaymentWebhookFunction", "HealthFunction", "ConsoleFunction"}


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_handler_imports_from_its_code_uri(spec):
    assert spec.code_uri.is_dir(), f"{spec.name}: CodeUri {spec.code_uri} is not a folder"
    result = import_as_lambda(spec)
    assert result.returncode == 0, f"{spec.name}: {spec.handler} from {spec.code_uri}:\n{result.stderr[-3000:]}"


@pytest.mark.parametrize(("field", "broken"), [("handler", "collect_app.lambda_handlr"),
                                               ("handler", "colect_app.lambda_handler"),
                                               ("code_uri", ROOT / "functions" / "colect")])
def test_a_typo_in_handler_or_code_uri_fails_the_import(field, broken):
    spec = next(s for s in SPECS if s.name == "CollectFunction")
    typo = FunctionSpec(**{**spec.__dict__, field: broken})
    assert import_as_lambda(typo).returncode != 0
