"""layers/shared/requirements.lock: the layer's pins, resolved for cp313/aarch64, each with its hashes."""

import re
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "shared"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)")
CONTINUATION = " \\"


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def locked() -> dict[str, list[str]]:
    """Package==version → its hashes, from the lock's `name==version \\ --hash=...` blocks."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in (LAYER / "requirements.lock").read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = f"{match.group(1).lower()}=={match.group(2)}"
            entries[current] = []
        elif current and line.strip().startswith("--hash=sha256:"):
            entries[current].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\\\"))
        elif not line.startswith(" "):
            current = None
    return entries


def test_every_top_level_pin_is_locked_at_its_version():
    lock = locked()
    for source in ("requirements.txt", "requirements-no-deps.txt"):
        for name, version in pins(LAYER / source).items():
            assert f"{name}=={version}" in lock, f"{source}: {name}=={version} is not in requirements.lock (make lock)"


def test_every_locked_package_has_hashes():
    lock = locked()
    assert len(lock) >= 8
    for package, hashes in lock.items():
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), package


def test_the_runtime_provided_packages_are_not_shipped():
    names = {package.split("==")[0] for package in locked()}
    assert not names & {"boto3", "botocore", "urllib3", "python-dateutil", "six", "s3transfer"}
    assert {"pydantic-core", "aws-lambda-powertools", "aws-xray-sdk", "wrapt"} <= names


def test_the_layer_build_installs_the_lock_with_hashes_only():
    makefile = (LAYER / "Makefile").read_text()
    installs = [line for line in makefile.splitlines() if "pip install" in line]
    assert installs and all("--require-hashes -r requirements.lock" in line for line in installs), installs
