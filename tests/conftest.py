"""Shared test setup: the function folders on sys.path, fake AWS credentials, no real network."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
for folder in sorted((ROOT / "functions").iterdir()):
    if folder.is_dir():
        sys.path.insert(0, str(folder))
sys.path.insert(0, str(ROOT))

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "zellify-tiktok")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ZellifyTikTok")
# The functions refuse to import without their settings (docs/design.md §2); tests that use AWS set the
# real names per test (tests/integration/conftest.py), these only let the handler modules import.
for _name in ("CAMPAIGNS_TABLE", "SESSIONS_TABLE", "SENT_EVENTS_TABLE", "HEALTH_TABLE", "RETRY_QUEUE_URL",
              "DEAD_LETTER_QUEUE_URL", "SECRET_PREFIX", "STRIPE_SECRET_NAME", "AUDIT_TABLE"):
    os.environ.setdefault(_name, f"unset-{_name.lower()}")


def strict_prerequisites() -> bool:
    """Under CI (CI=true) and `make test` (REQUIRE_TEST_PREREQUISITES=1) nothing may be skipped."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or os.environ.get("REQUIRE_TEST_PREREQUISITES") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skip is a missing prerequisite (Chromium, a module, a handler): while developing it may skip,
    under CI and `make test` it fails, so a green run means every test ran."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and strict_prerequisites() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped where a prerequisite is required (CI / make test): {reason}"




def pytest_sessionstart(session):
    """The collector serves the minified tracker.js: a missing or stale build would test old code."""
    collect = ROOT / "functions" / "collect"
    built = collect / "tracker.min.js"
    sources = (collect / "tracker.js", collect / "minify.mjs")
    if not built.exists() or any(source.stat().st_mtime > built.stat().st_mtime for source in sources):
        pytest.exit("functions/collect/tracker.min.js is missing or older than its source: run `make tracker`",
                    returncode=2)
