"""Under CI and `make test` a skipped test fails: a missing prerequisite is never a green run."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPING = '''
import pytest

def test_needs_something_missing():
    pytest.skip("/usr/bin/nothing is not installed")
'''


def run_pytest(tmp_path, **env) -> subprocess.CompletedProcess:
    test = tmp_path / "test_skipping.py"
    test.write_text(SKIPPING)
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    # tests/conftest.py as a plugin: the test file lies outside tests/, so it would not be picked up.
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
                           "--rootdir", str(tmp_path), str(test)],
                          cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("env", [{"CI": "true"}, {"REQUIRE_TEST_PREREQUISITES": "1"}])
def test_a_skip_fails_under_ci_and_make_test(tmp_path, env):
    result = run_pytest(tmp_path, **env)
    assert result.returncode == 1, result.stdout
    assert "1 failed" in result.stdout and "/usr/bin/nothing is not installed" in result.stdout


def test_a_skip_stays_a_skip_while_developing(tmp_path):
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
