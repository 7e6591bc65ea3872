"""The secrets of a local suite, generated once into the data folder: the service token
(runtime/service_auth.py), where `make produce`, `make demo` and the tests find it
(ES_SERVICE_TOKEN wins), and the key sealing auth tokens at rest (runtime/token_cipher.py)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from runtime import token_cipher

FILE = "service-token"
KEY_FILE = "token-key"
DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data"


def ensure(
    data_dir: Path, name: str = FILE, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)
) -> str:
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    value = make()
    path.touch(mode=0o600)
    path.write_text(value)
    return value


def ensure_token_key(data_dir: Path) -> str:
    return ensure(data_dir, KEY_FILE, token_cipher.new_key)


def find(data_dir: Path = DEFAULT_DATA) -> str:
    """The token a client of `make run` sends: ES_SERVICE_TOKEN, else the suite's file."""
    from_env = os.environ.get("ES_SERVICE_TOKEN", "")
    if from_env:
        return from_env
    path = data_dir / FILE
    return path.read_text().strip() if path.exists() else ""
