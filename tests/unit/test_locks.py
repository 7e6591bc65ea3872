"""The locks `make` installs from: exact versions, the runtime set free of test tools, and
the same version of every package in both."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\],]+)==([^\s;]+)(\s*;.*)?$")


def pins(name: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{name}: not an exact pin: {line}"
        found[match.group(1).lower().split("[")[0]] = match.group(2)
    return found


def test_the_runtime_lock_is_the_runtime_set() -> None:
    runtime = pins("requirements.lock")
    for needed in ("grpcio", "nats-py", "sqlalchemy", "aiohttp", "boto3", "grpcio-tools"):
        assert needed in runtime
    for tool in ("pytest", "mypy", "ruff", "schemathesis", "moto", "matplotlib"):
        assert tool not in runtime, f"make run would install {tool}"


def test_both_locks_agree() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime
    assert "pytest" in dev and "pytest-timeout" in dev
