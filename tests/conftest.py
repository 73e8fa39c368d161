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


def pytest_sessionstart(session):
    """The collector serves the minified tracker.js: a missing or stale build would test old code."""
    collect = ROOT / "functions" / "collect"
    built = collect / "tracker.min.js"
    sources = (collect / "tracker.js", collect / "minify.mjs")
    if not built.exists() or any(source.stat().st_mtime > built.stat().st_mtime for source in sources):
        pytest.exit("functions/collect/tracker.min.js is missing or older than its source: run `make tracker`",
                    returncode=2)
