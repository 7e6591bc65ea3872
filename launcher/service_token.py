"""The secrets of a local suite, generated once into the data folder.

Each caller's own credential (runtime/service_auth.py) is a file `data/credentials/<name>`:
one per process that calls another (control, router, delivery, gateway), `producer` for
`make produce`, `make demo`, `evs publish` and the SDK's examples, and `admin` for the
operator's commands (services.control.admin) and the tests' setup. The servers get only the
hashes (`callers_entries`). The key sealing auth tokens at rest (runtime/token_cipher.py) is
`data/token-key`, given to control alone.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from runtime import service_auth, token_cipher

KEY_FILE = "token-key"
CREDENTIALS = "credentials"
# Where `make run` keeps them: data/ where it was started (the checkout, under make).
DEFAULT_DATA = Path("data")

# Each credential of a suite and its role (the name is the role but for extra producers).
ROLES: Mapping[str, str] = {
    "control": "control",
    "router": "router",
    "delivery": "delivery",
    "gateway": "gateway",
    "producer": "producer",
    "admin": "admin",
}


def ensure(data_dir: Path, name: str, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> str:
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    path.touch(mode=0o600)
    path.write_text(value)
    return value


def ensure_token_key(data_dir: Path) -> str:
    return ensure(data_dir, KEY_FILE, token_cipher.new_key)


def credential_path(data_dir: Path, name: str) -> Path:
    return data_dir / CREDENTIALS / name


def ensure_credentials(data_dir: Path, roles: Mapping[str, str] = ROLES) -> dict[str, str]:
    """Every caller's credential, by name: read from the data folder, made the first time."""
    return {name: ensure(data_dir, f"{CREDENTIALS}/{name}", _maker(name)) for name in roles}


def _maker(name: str) -> Callable[[], str]:
    return lambda: service_auth.new_credential(name)


def callers_entries(credentials: Mapping[str, str], roles: Mapping[str, str] = ROLES) -> str:
    """ES_SERVICE_CALLERS for these credentials: names, roles and hashes — no secret."""
    return ",".join(service_auth.caller_entry(credentials[name], roles[name]) for name in credentials)


def find(data_dir: Path = DEFAULT_DATA, name: str = "producer") -> str:
    """The credential a client of `make run` sends: ES_SERVICE_TOKEN, else the suite's file
    for `name` (the producer's, unless told)."""
    from_env = os.environ.get("ES_SERVICE_TOKEN", "")
    if from_env:
        return from_env
    path = credential_path(data_dir, name)
    return path.read_text().strip() if path.exists() else ""
