"""The development account: from TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN when set (twilio-python's
own variables), otherwise generated once, persisted, and the same at every later start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime import config, db
from services.control.accounts import AccountStore
from services.control.app import MIGRATIONS, ensure_dev_account
from services.control.settings import Settings

pytestmark = pytest.mark.integration


async def accounts_in(tmp_path: Path) -> AccountStore:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'control.db'}")
    await db.migrate(engine, MIGRATIONS, "control_alembic_version")
    return AccountStore(db.sessionmaker(engine))


async def test_from_twilio_environment_variables(tmp_path: Path) -> None:
    accounts = await accounts_in(tmp_path)
    sid, token = "AC" + "ab" * 16, "cd" * 16
    settings = config.load(
        Settings,
        {
            "TWILIO_ACCOUNT_SID": sid,
            "TWILIO_AUTH_TOKEN": token,
            "ES_DEV_ACCOUNT_FILE": str(tmp_path / "dev.json"),
        },
    )
    for _ in range(2):  # idempotent: a second start finds it
        await ensure_dev_account(accounts, settings)
    account, _ = await accounts.authenticate(sid, token)
    assert account.sid == sid
    assert len(await accounts.all_accounts()) == 1
    assert json.loads((tmp_path / "dev.json").read_text()) == {"account_sid": sid, "auth_token": token}


async def test_generated_once_and_kept(tmp_path: Path) -> None:
    accounts = await accounts_in(tmp_path)
    settings = config.load(Settings, {"ES_DEV_ACCOUNT_FILE": str(tmp_path / "dev.json")})
    await ensure_dev_account(accounts, settings)
    first = json.loads((tmp_path / "dev.json").read_text())
    await ensure_dev_account(accounts, settings)
    assert json.loads((tmp_path / "dev.json").read_text()) == first
    assert [a.sid for a in await accounts.all_accounts()] == [first["account_sid"]]
    assert (tmp_path / "dev.json").stat().st_mode & 0o777 == 0o600
    account, _ = await accounts.authenticate(first["account_sid"], first["auth_token"])
    assert account.friendly_name == "Development account"
