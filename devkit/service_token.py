"""The service token of a local suite (runtime/service_auth.py): generated once into the data
folder, where `make produce`, `make demo` and the tests find it; ES_SERVICE_TOKEN wins."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE = "service-token"
DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data"


def ensure(data_dir: Path) -> str:
    path = data_dir / FILE
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token)
    return token


def find(data_dir: Path = DEFAULT_DATA) -> str:
    """The token a client of `make run` sends: ES_SERVICE_TOKEN, else the suite's file."""
    from_env = os.environ.get("ES_SERVICE_TOKEN", "")
    if from_env:
        return from_env
    path = data_dir / FILE
    return path.read_text().strip() if path.exists() else ""
