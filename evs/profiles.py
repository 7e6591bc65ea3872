"""Profiles: named sets of where and who (gateway URL, Account SID, and an auth token or an
API key and secret), kept in one JSON file (EVS_CONFIG, default ~/.config/evs/config.json,
readable by its owner only). The environment can stand in for a profile, as twilio-cli's:
TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN (or TWILIO_API_KEY + TWILIO_API_SECRET), EVS_URL."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evs.errors import CliError, NoCredentials

DEFAULT_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Profile:
    url: str
    account_sid: str
    username: str  # the Account SID, or an API key's SID
    password: str  # the auth token, or the API key's secret

    def public(self) -> dict[str, str]:
        """What `profiles list` shows: never the secret."""
        return {"url": self.url, "account_sid": self.account_sid, "username": self.username}


def config_path(env: Mapping[str, str]) -> Path:
    found = env.get("EVS_CONFIG")
    return Path(found) if found else Path.home() / ".config" / "evs" / "config.json"


class Profiles:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"active": None, "profiles": {}}
        try:
            data = json.loads(self.path.read_text())
        except ValueError as exc:
            raise CliError(f"{self.path} is not valid JSON: {exc}", "fix or remove the file") from None
        return {"active": data.get("active"), "profiles": dict(data.get("profiles", {}))}

    def _write(self, data: dict[str, Any]) -> None:
        # Credentials inside: the folder is made the owner's alone, and the file is born
        # 0600 under a fresh name (O_EXCL: never a file someone planted at a guessable one)
        # and then renamed into place, so no moment exists where others may read it.
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(json.dumps(data, indent=2))
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def names(self) -> tuple[str | None, dict[str, Profile]]:
        data = self._read()
        return data["active"], {name: Profile(**p) for name, p in data["profiles"].items()}

    def add(self, name: str, profile: Profile, activate: bool) -> None:
        data = self._read()
        data["profiles"][name] = asdict(profile)
        if activate or data["active"] is None:
            data["active"] = name
        self._write(data)

    def remove(self, name: str) -> None:
        data = self._read()
        if name not in data["profiles"]:
            raise CliError(f"no profile named {name!r}", "evs profiles list")
        del data["profiles"][name]
        if data["active"] == name:
            data["active"] = next(iter(data["profiles"]), None)
        self._write(data)

    def use(self, name: str) -> None:
        data = self._read()
        if name not in data["profiles"]:
            raise CliError(f"no profile named {name!r}", "evs profiles list")
        data["active"] = name
        self._write(data)

    def resolve(self, name: str | None, env: Mapping[str, str]) -> Profile:
        """The profile named, else the environment's credentials, else the active profile."""
        active, known = self.names()
        if name:
            if name not in known:
                raise NoCredentials(f"no profile named {name!r}", "evs profiles list")
            return known[name]
        from_env = _from_environment(env)
        if from_env is not None:
            return from_env
        if active and active in known:
            return known[active]
        raise NoCredentials(
            "no credentials: no profile and no TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN in the environment",
            "evs profiles add NAME --account-sid AC… --auth-token …  (make run prints both)",
        )


def _from_environment(env: Mapping[str, str]) -> Profile | None:
    sid = env.get("TWILIO_ACCOUNT_SID", "")
    if not sid:
        return None
    url = env.get("EVS_URL", DEFAULT_URL)
    if env.get("TWILIO_API_KEY") and env.get("TWILIO_API_SECRET"):
        return Profile(url, sid, env["TWILIO_API_KEY"], env["TWILIO_API_SECRET"])
    if env.get("TWILIO_AUTH_TOKEN"):
        return Profile(url, sid, sid, env["TWILIO_AUTH_TOKEN"])
    return None


def default_profiles() -> Profiles:
    return Profiles(config_path(os.environ))
