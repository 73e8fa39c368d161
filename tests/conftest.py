"""Shared test setup: the function folders on sys.path, fake AWS credentials, no real network."""

import os
import sys
from pathlib import Path

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
