"""Routing held on demand: which states of an account a holder keeps, from fetches and the
feed racing each other, and which accounts it holds at all."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
import pytest

from eventstreams.v1 import control_pb2
from runtime.routing_demand import FAILED_READ_SECONDS, AccountsOnDemand

pytestmark = pytest.mark.unit

AC1 = "AC" + "1" * 32
AC2 = "AC" + "2" * 32
OWNER = "AC" + "0" * 32


def state(
    sid: str, sinks: Sequence[str] = (), owner: str = "", ordered: bool = False
) -> control_pb2.AccountRouting:
    return control_pb2.AccountRouting(
        account=control_pb2.RoutedAccount(sid=sid, owner_account_sid=owner),
        sinks=[control_pb2.RoutedSink(sid=s, account_sid=sid, status="active") for s in sinks],
        subscriptions=[
            control_pb2.RoutedSubscription(
                sid="DF" + "9" * 32, account_sid=sid, ordering_key="to" if ordered else ""
            )
        ],
    )


class Holder:
    """What the router's table and the workers' directory do with a message: replace the
    accounts it carries."""

    def __init__(self) -> None:
        self.revision = 0
        self.accounts: dict[str, control_pb2.AccountRouting] = {}

    def apply(self, changes: control_pb2.RoutingChanges) -> None:
        for routing in changes.accounts:
            self.accounts[routing.account.sid] = routing
        if changes.revision:
            self.revision = changes.revision

    def sinks(self, sid: str) -> list[str]:
        return [s.sid for s in self.accounts[sid].sinks] if sid in self.accounts else []


class Control:
    """Answers fetches with what it is told to, when it is told to."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.answers: dict[str, tuple[int, control_pb2.AccountRouting]] = {}
        self.gate: asyncio.Event | None = None
        self.down = False

    async def fetch(self, sids: Sequence[str]) -> control_pb2.RoutingChanges:
        self.asked.append(list(sids))
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata())
        found = [self.answers[sid] for sid in sids if sid in self.answers]
        as_of = min((at for at, _ in found), default=0)
        gone = [
            control_pb2.AccountRouting(account=control_pb2.RoutedAccount(sid=s), gone=True)
            for s in sids
            if s not in self.answers
        ]
        return control_pb2.RoutingChanges(accounts=[s for _, s in found] + gone, as_of=as_of)


def feed(
    as_of: int, *accounts: control_pb2.AccountRouting, reset: bool = False
) -> control_pb2.RoutingChanges:
    return control_pb2.RoutingChanges(revision=as_of, accounts=accounts, as_of=as_of, reset=reset)


async def test_an_account_is_read_once_however_many_ask_for_it_at_once() -> None:
    holder, control = Holder(), Control()
    control.answers[AC1] = (5, state(AC1, ["DG1"]))
    control.gate = asyncio.Event()
    accounts = AccountsOnDemand(holder, control.fetch)
    waiting = [asyncio.ensure_future(accounts.ensure([AC1])) for _ in range(10)]
    await asyncio.sleep(0)
    control.gate.set()
    assert await asyncio.gather(*waiting) == [True] * 10
    assert control.asked == [[AC1]]
    assert holder.sinks(AC1) == ["DG1"]
    assert await accounts.ensure([AC1]) and control.asked == [[AC1]]  # held: not asked again


async def test_the_feed_keeps_only_the_accounts_held() -> None:
    holder, control = Holder(), Control()
    control.answers[AC1] = (5, state(AC1, ["DG1"]))
    accounts = AccountsOnDemand(holder, control.fetch)
    await accounts.ensure([AC1])
    accounts.apply(feed(6, state(AC1, ["DG1", "DG2"]), state(AC2, ["DG3"])))
    assert holder.sinks(AC1) == ["DG1", "DG2"]
    assert AC2 not in holder.accounts and not accounts.holds(AC2)
    assert holder.revision == 6


async def test_an_account_with_an_ordered_subscription_is_kept_unasked() -> None:
    """A worker hears of an ordered sink only from the routing: its events never reach the
    shared consumer that would make it ask."""
    holder = Holder()
    accounts = AccountsOnDemand(holder, Control().fetch)
    accounts.apply(feed(3, state(AC2, ["DG3"], ordered=True), reset=True))
    assert accounts.holds(AC2) and holder.sinks(AC2) == ["DG3"]


@pytest.mark.parametrize(
    ("fetched_at", "changed_at", "kept"),
    [
        (5, 7, ["DG2"]),  # a change newer than the fetch wins, whichever arrives last
        (7, 5, ["DG1"]),  # a fetch newer than the change wins
        # The same revision: both hold every change up to it (one after it comes by the
        # feed), so the one applied last stays.
        (6, 6, ["DG1"]),
    ],
)
async def test_of_a_fetch_and_a_change_racing_the_later_read_stays(
    fetched_at: int, changed_at: int, kept: list[str]
) -> None:
    holder, control = Holder(), Control()
    control.answers[AC1] = (fetched_at, state(AC1, ["DG1"]))
    control.gate = asyncio.Event()
    accounts = AccountsOnDemand(holder, control.fetch)
    fetching = asyncio.ensure_future(accounts.ensure([AC1]))
    await asyncio.sleep(0)
    # The change arrives while the fetch is out: kept, though the account is not held yet.
    accounts.apply(feed(changed_at, state(AC1, ["DG2"])))
    control.gate.set()
    assert await fetching
    assert holder.sinks(AC1) == kept


async def test_a_change_after_the_fetch_replaces_it() -> None:
    holder, control = Holder(), Control()
    control.answers[AC1] = (5, state(AC1, ["DG1"]))
    accounts = AccountsOnDemand(holder, control.fetch)
    await accounts.ensure([AC1])
    accounts.apply(feed(4, state(AC1, ["DG0"])))  # read before the fetch: older
    assert holder.sinks(AC1) == ["DG1"]
    accounts.apply(feed(9, state(AC1, ["DG9"])))
    assert holder.sinks(AC1) == ["DG9"]


async def test_an_unknown_account_is_held_as_gone_and_not_asked_about_again() -> None:
    holder, control = Holder(), Control()
    accounts = AccountsOnDemand(holder, control.fetch)
    assert await accounts.ensure([AC2])
    assert await accounts.ensure([AC2])
    assert control.asked == [[AC2]]
    assert holder.accounts[AC2].gone
    # Created later: its change reaches the holder, which asked about it.
    accounts.apply(feed(8, state(AC2, ["DG3"])))
    assert holder.sinks(AC2) == ["DG3"]


async def test_control_unreachable_is_said_and_asked_again_next_time() -> None:
    holder, control = Holder(), Control()
    control.answers[AC1] = (5, state(AC1, ["DG1"]))
    control.down = True
    accounts = AccountsOnDemand(holder, control.fetch)
    assert not await accounts.ensure([AC1])
    assert not accounts.holds(AC1)
    control.down = False
    await asyncio.sleep(FAILED_READ_SECONDS)
    assert await accounts.ensure([AC1])
    assert holder.sinks(AC1) == ["DG1"]


async def test_a_cold_start_of_the_feed_reads_the_held_accounts_again() -> None:
    """Control lost this watcher's revision (a restore, a new database): changes may have
    been missed, so what is held is read again."""
    holder, control = Holder(), Control()
    control.answers[AC1] = (5, state(AC1, ["DG1"]))
    accounts = AccountsOnDemand(holder, control.fetch)
    await accounts.ensure([AC1])
    control.answers[AC1] = (20, state(AC1, ["DG7"]))
    accounts.apply(feed(20, reset=True))
    for _ in range(100):
        if holder.sinks(AC1) == ["DG7"]:
            break
        await asyncio.sleep(0.01)
    assert holder.sinks(AC1) == ["DG7"]
    assert control.asked == [[AC1], [AC1]]


async def test_an_owner_control_sends_with_its_subaccount_is_held() -> None:
    holder, control = Holder(), Control()
    accounts = AccountsOnDemand(holder, control.fetch)

    async def with_owner(sids: Sequence[str]) -> control_pb2.RoutingChanges:
        return control_pb2.RoutingChanges(accounts=[state(AC1, owner=OWNER), state(OWNER, ["DG0"])], as_of=4)

    accounts = AccountsOnDemand(holder, with_owner)
    await accounts.ensure([AC1])
    assert accounts.holds(OWNER)
    accounts.apply(feed(5, state(OWNER, ["DG0", "DG5"])))
    assert holder.sinks(OWNER) == ["DG0", "DG5"]


async def test_after_a_failed_read_its_accounts_are_not_asked_for_again_at_once() -> None:
    holder, control = Holder(), Control()
    control.answers[AC1] = (5, state(AC1, ["DG1"]))
    control.down = True
    accounts = AccountsOnDemand(holder, control.fetch)
    assert not await accounts.ensure([AC1])
    control.down = False
    assert not await accounts.ensure([AC1])  # within FAILED_READ_SECONDS: not asked
    assert control.asked == [[AC1]]
    assert await accounts.ensure([AC2])  # other accounts are
