"""What a new user meets first: `make run`'s banner points at the console and `evs`, and
`evs` finds make run's development account with no profile added."""

from __future__ import annotations

import ast
import builtins
import json
from pathlib import Path

import pytest

from evs.doctor import dev_account_profile
from evs.profiles import DEFAULT_URL, Profile
from launcher.run import banner
from launcher.suite import Ports, Suite

pytestmark = pytest.mark.unit

SID, TOKEN = "AC" + "1" * 32, "t" * 32


def write_dev_account(data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    (data / "dev-account.json").write_text(json.dumps({"account_sid": SID, "auth_token": TOKEN}))


def test_the_banner_names_the_console_and_evs(tmp_path: Path) -> None:
    write_dev_account(tmp_path)
    suite = Suite(data_dir=tmp_path, catalog_db="", control_db="", ports=Ports.defaults(), log_dir=tmp_path)
    text = banner(suite)
    assert "http://127.0.0.1:8080/console/" in text
    assert "evs doctor" in text and "evs deliveries tail" in text
    assert f"TWILIO_ACCOUNT_SID={SID}" in text


def test_evs_finds_make_runs_development_account(tmp_path: Path) -> None:
    assert dev_account_profile(tmp_path, {}) is None  # no make run here
    write_dev_account(tmp_path / "data")
    assert dev_account_profile(tmp_path, {}) == Profile(DEFAULT_URL, SID, SID, TOKEN)
    found = dev_account_profile(tmp_path, {"EVS_URL": "http://127.0.0.1:9999"})
    assert found is not None and found.url == "http://127.0.0.1:9999"
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{not json")
    assert dev_account_profile(Path("/nonexistent"), {"ES_DEV_ACCOUNT_FILE": str(elsewhere)}) is None


def test_the_readmes_twilio_python_snippet_defines_what_it_uses() -> None:
    """Pasted into a Python prompt, the snippet runs: every name it uses is imported,
    assigned or built in."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### With twilio-python", 1)[1]
    snippet = section.split("```python", 1)[1].split("```", 1)[0]
    tree = ast.parse(snippet)
    defined = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    assert used - defined == set()
