"""The local stack's payment secrets (docs/design.md §8) and what loading them costs the stack's process."""

import subprocess
import sys

from local.payment_secrets import LocalPaymentSecrets
from tests.conftest import ROOT


def test_defaults_and_overrides_follow_the_documented_variables():
    assert LocalPaymentSecrets.from_environ({}).by_setting() == {
        "PADDLE_SECRET_NAME": ("Paddle", ["pdl_dev_live"], ["pdl_dev_test"]),
        "SOLIDGATE_SECRET_NAME": ("Solidgate", ["wh_pk_dev_live:wh_sk_dev_live"], ["wh_pk_dev_test:wh_sk_dev_test"]),
    }
    custom = LocalPaymentSecrets.from_environ({"PADDLE_WEBHOOK_SECRET": "pdl_a", "PADDLE_TEST_WEBHOOK_SECRET": "pdl_b",
                                               "SOLIDGATE_WEBHOOK_KEYS": "wh_pk_a:wh_sk_a"})
    assert custom.by_setting()["PADDLE_SECRET_NAME"] == ("Paddle", ["pdl_a"], ["pdl_b"])
    assert custom.by_setting()["SOLIDGATE_SECRET_NAME"] == ("Solidgate", ["wh_pk_a:wh_sk_a"], [])
    banner = "\n".join(custom.banner_lines("http://127.0.0.1:3000"))
    assert "pdl_a" in banner and "wh_pk_a / wh_sk_a" in banner and "/v1/webhooks/solidgate" in banner


def test_the_stack_process_loads_no_layer_logging_before_the_handlers_environment():
    # The layer's loggers must first see POWERTOOLS_SERVICE_NAME, which the stack sets only when it starts:
    # importing them earlier (as `make dev` once did through the demo) broke every handler's logging.
    # Pure layer modules (errors, access rules, the URL scrubber) may load; none that brings Powertools in.
    code = ("import sys; import local.stack; "
            "loaded = [m for m in sys.modules if m.startswith('aws_lambda_powertools')]; assert not loaded, loaded")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'shared'}"})
    assert result.returncode == 0, result.stderr
