"""The command line's pure parts: where credentials come from, and the progress bar as a
log reads it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from evs.errors import CliError, NoCredentials
from evs.profiles import Profile, Profiles
from evs.progress import Progress

pytestmark = pytest.mark.unit

SID = "AC" + "1" * 32


def test_a_named_profile_then_the_environment_then_the_active_one(tmp_path: Path) -> None:
    profiles = Profiles(tmp_path / "config.json")
    with pytest.raises(NoCredentials, match="no credentials"):
        profiles.resolve(None, {})
    profiles.add("one", Profile("http://a", SID, SID, "t1"), activate=True)
    profiles.add("two", Profile("http://b", SID, "SK1", "s2"), activate=False)
    assert profiles.resolve(None, {}).url == "http://a"  # the active one
    assert profiles.resolve("two", {}).username == "SK1"
    env = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "tok", "EVS_URL": "http://env"}
    assert profiles.resolve(None, env) == Profile("http://env", SID, SID, "tok")
    keyed = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_API_KEY": "SK9", "TWILIO_API_SECRET": "sec"}
    assert profiles.resolve(None, keyed).username == "SK9"
    assert profiles.resolve("one", env).url == "http://a"  # named beats the environment
    with pytest.raises(NoCredentials):
        profiles.resolve("three", {})
    profiles.remove("one")
    assert profiles.names()[0] == "two"  # another becomes active
    with pytest.raises(CliError):
        profiles.use("one")
    assert (tmp_path / "config.json").stat().st_mode & 0o077 == 0


def test_the_credentials_file_is_never_readable_by_others(tmp_path: Path) -> None:
    folder = tmp_path / "evs"
    path = folder / "config.json"
    folder.mkdir(mode=0o755)
    # Another user's foothold: a file at a guessable temporary name, held open to read it.
    planted = folder / "config.tmp"
    planted.write_text("")
    planted.chmod(0o644)
    with planted.open() as watcher:
        Profiles(path).add("one", Profile("http://a", SID, SID, "the-token"), activate=True)
        assert "the-token" not in watcher.read()
    assert path.stat().st_mode & 0o777 == 0o600
    assert "the-token" in path.read_text()


def test_a_new_credentials_folder_is_its_owners_alone(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "evs" / "config.json"
    Profiles(path).add("one", Profile("http://a", SID, SID, "t1"), activate=True)
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]  # no temporary left


def test_a_broken_config_file_is_said_not_crashed_on(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CliError, match="not valid JSON"):
        Profiles(tmp_path / "config.json").names()


def test_the_progress_bar_writes_a_line_per_change_into_a_pipe() -> None:
    out = io.StringIO()
    bar = Progress("replay RY1", out, width=10)
    bar.show(0, 4, "running")
    bar.show(0, 4, "running")  # unchanged: not repeated
    bar.show(2, 4, "running")
    bar.show(5, 4, "completed")  # more than the estimate: the total follows
    bar.close()
    assert out.getvalue().splitlines() == [
        "replay RY1 [----------] 0/4   0% running",
        "replay RY1 [#####-----] 2/4  50% running",
        "replay RY1 [##########] 5/5 100% completed",
    ]
