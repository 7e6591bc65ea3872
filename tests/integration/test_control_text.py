"""Text control stores or looks up, on SQLite and on a real PostgreSQL: a control character
(a NUL above all, which PostgreSQL's text cannot hold) is INVALID_ARGUMENT — Twilio's 400 at
the REST edge — never a failed write (a 500), and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.errors import InvalidArgument, NotFound, Unauthenticated
from services.control.accounts import AccountStore
from services.control.sinks import SinkStore
from services.control.subscriptions import Selector, SubscriptionStore

pytestmark = pytest.mark.integration

WEBHOOK = json.dumps({"destination": "https://example.com/hook", "method": "POST", "batch_events": False})
BAD = ["nul\x00here", "bell\x07", "c1\x85"]


class NoTestsExpected:
    async def publish_test(self, account_sid: str, sink_sid: str, test_id: str) -> None:
        raise AssertionError("these tests send no sink test")


class NoTypesExpected:
    """The refusals come before any type is looked up in the catalog."""

    async def pin(self, type_name: str, schema_version: int) -> int:
        raise AssertionError(f"no type looked up: {type_name!r}")

    async def document(self, type_name: str, schema_version: int) -> dict[str, Any]:
        raise AssertionError(f"no type looked up: {type_name!r}")


@pytest.mark.parametrize("bad", BAD)
async def test_sink_and_subscription_text_with_a_control_character_is_refused(
    control_sessions: async_sessionmaker[AsyncSession], bad: str
) -> None:
    owner = await AccountStore(control_sessions).create("owner")
    sinks = SinkStore(control_sessions, 10, NoTestsExpected())
    with pytest.raises(InvalidArgument) as refused:
        await sinks.create(owner.sid, f"sink {bad}", "webhook", WEBHOOK)
    assert refused.value.twilio_code == 91000
    assert "control characters" in refused.value.message
    sink = await sinks.create(owner.sid, "good", "webhook", WEBHOOK)
    with pytest.raises(InvalidArgument):
        await sinks.update(owner.sid, sink.sid, bad)
    assert (await sinks.get(owner.sid, sink.sid)).description == "good"

    subscriptions = SubscriptionStore(control_sessions, 10, NoTypesExpected())
    selectors = [Selector("com.example.thing", 1)]
    attempts = [
        subscriptions.create(owner.sid, bad, sink.sid, selectors),
        subscriptions.create(owner.sid, "good", sink.sid, selectors, filter_text=f"data.name == '{bad}'"),
        subscriptions.create(owner.sid, "good", sink.sid, [Selector(f"com.{bad}", 1)]),
        subscriptions.update(owner.sid, "DF" + "0" * 32, bad),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidArgument):
            await attempt
    with pytest.raises(InvalidArgument):
        await subscriptions.find(owner.sid, f"DG{bad}", 50, "")
    page, _ = await subscriptions.find(owner.sid, "", 50, "")
    assert page.items == []


async def test_a_filter_may_be_laid_out_over_lines(
    control_sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner = await AccountStore(control_sessions).create("owner")
    sink = await SinkStore(control_sessions, 10, NoTestsExpected()).create(
        owner.sid, "good", "webhook", WEBHOOK
    )
    subscriptions = SubscriptionStore(control_sessions, 10, NoTypesExpected())
    with pytest.raises(AssertionError, match="no type looked up"):  # past the text checks
        await subscriptions.create(
            owner.sid, "good", sink.sid, [Selector("com.example.thing", 1)], filter_text="a == 1\n\tor b == 2"
        )


@pytest.mark.parametrize("bad", BAD)
async def test_account_and_key_names_with_a_control_character_are_refused(
    control_sessions: async_sessionmaker[AsyncSession], bad: str
) -> None:
    accounts = AccountStore(control_sessions)
    with pytest.raises(InvalidArgument):
        await accounts.create(bad)
    owner = await accounts.create("owner")
    with pytest.raises(InvalidArgument):
        await accounts.create(bad, owner_sid=owner.sid)
    with pytest.raises(InvalidArgument):
        await accounts.create_key(owner.sid, bad)
    with pytest.raises(InvalidArgument):
        await accounts.list_visible(owner.sid, bad, 50, "")
    assert [row.sid for row in (await accounts.list_visible(owner.sid, "", 50, "")).items] == [owner.sid]
    assert (await accounts.list_keys(owner.sid, 50, "")).items == []


async def test_a_username_no_account_can_have_is_refused_as_a_bad_credential(
    control_sessions: async_sessionmaker[AsyncSession],
) -> None:
    accounts = AccountStore(control_sessions)
    for username in ("AC\x00" + "0" * 31, "SK\x00" + "0" * 31):
        with pytest.raises(Unauthenticated):
            await accounts.authenticate(username, "secret")


async def test_a_subscribed_type_with_a_control_character_is_not_found(
    control_sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner = await AccountStore(control_sessions).create("owner")
    subscriptions = SubscriptionStore(control_sessions, 10, NoTypesExpected())
    with pytest.raises(NotFound):
        await subscriptions.get_event(owner.sid, "DF" + "0" * 32, "com.\x00")
