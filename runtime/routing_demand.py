"""Routing held on demand: a router or worker holds the accounts it has needed — those that
send events, or whose events it delivers — not every account control knows.

`AccountsOnDemand` stands between the routing feed and the holder (the router's table, the
workers' directory). An account is fetched from control (GetRouting) the first time it is
needed, with its owner; from then on the feed keeps it current. Of the feed's changes only
held accounts pass (and any with an ordered subscription: a worker learns of those sinks
without an event of theirs reaching it). A cold start of the feed is one message with no
accounts — held ones may have missed changes, so they are read again.

Two states of an account race — a fetch and a change from the feed. Each carries the
revision it was read at (`as_of`): every change up to it is in it. The later one stays."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

import grpc

from eventstreams.v1 import control_pb2

log = logging.getLogger(__name__)

Fetch = Callable[[Sequence[str]], Awaitable[control_pb2.RoutingChanges]]
# The most accounts one GetRouting call names: control refuses more, its readers ask no more.
FETCH_ACCOUNTS = 500
# After a read that failed, its accounts are not asked for again for this long: a call of
# many events of an account control cannot answer for waits for one read, not one per event.
FAILED_READ_SECONDS = 1.0


class Holder(Protocol):
    revision: int

    def apply(self, changes: control_pb2.RoutingChanges) -> None: ...


def has_ordered(routing: control_pb2.AccountRouting) -> bool:
    return any(s.ordering_key for s in routing.subscriptions)


class AccountsOnDemand:
    def __init__(self, holder: Holder, fetch: Fetch) -> None:
        self._holder = holder
        self._fetch = fetch
        self._as_of: dict[str, int] = {}  # held accounts (gone ones too: asked, not there)
        self._fetching: dict[str, asyncio.Future[bool]] = {}
        self._refresh: asyncio.Task[None] | None = None
        self._reads: set[asyncio.Task[None]] = set()
        self._failed_until: dict[str, float] = {}

    @property
    def held(self) -> int:
        return len(self._as_of)

    def holds(self, account_sid: str) -> bool:
        return account_sid in self._as_of

    def known_at(self, account_sid: str) -> int:
        """The revision the account's held state was read at (0: not held); the feed keeps it
        current after that."""
        return self._as_of.get(account_sid, 0)

    def _admit(self, routing: control_pb2.AccountRouting, as_of: int, fetched: bool) -> bool:
        sid = routing.account.sid
        if not (fetched or sid in self._as_of or sid in self._fetching or has_ordered(routing)):
            return False
        if as_of and as_of < self._as_of.get(sid, 0):
            return False  # older than the state held
        self._as_of[sid] = as_of
        return True

    def _pass(
        self, accounts: Iterable[control_pb2.AccountRouting], as_of: int, fetched: bool
    ) -> list[control_pb2.AccountRouting]:
        return [a for a in accounts if self._admit(a, as_of, fetched)]

    def apply(self, changes: control_pb2.RoutingChanges) -> None:
        """A message of the routing feed (asked for `on_demand`)."""
        kept = self._pass(changes.accounts, changes.as_of, fetched=False)
        self._holder.apply(control_pb2.RoutingChanges(revision=changes.revision, accounts=kept))
        if changes.reset and self._as_of:
            # Changes may have been missed (control lost track of this watcher's revision):
            # whatever is held is read again; the older states serve meanwhile.
            stale = [sid for sid, at in self._as_of.items() if at < changes.as_of]
            if stale and (self._refresh is None or self._refresh.done()):
                self._refresh = asyncio.get_running_loop().create_task(self._read_again(stale))

    async def _read_again(self, sids: list[str]) -> None:
        for start in range(0, len(sids), FETCH_ACCOUNTS):
            chunk = sids[start : start + FETCH_ACCOUNTS]
            while not await self._read(chunk):
                await asyncio.sleep(1.0)

    async def ensure(self, account_sids: Sequence[str]) -> bool:
        """Whether these accounts are held — fetched first when they are not. False: control
        could not be asked (the caller retries later)."""
        missing = [sid for sid in dict.fromkeys(account_sids) if sid not in self._as_of]
        if not missing:
            return True
        if self._failed_until:
            now = time.monotonic()
            if any(self._failed_until.get(sid, 0.0) > now for sid in missing):
                return False
        waits = [self._fetching[sid] for sid in missing if sid in self._fetching]
        asked = [sid for sid in missing if sid not in self._fetching]
        loop = asyncio.get_running_loop()
        for start in range(0, len(asked), FETCH_ACCOUNTS):
            chunk = asked[start : start + FETCH_ACCOUNTS]
            # Registered before the first await: a caller a moment later waits for this read.
            future: asyncio.Future[bool] = loop.create_future()
            for sid in chunk:
                self._fetching[sid] = future
            task = loop.create_task(self._read_into(chunk, future))
            self._reads.add(task)
            task.add_done_callback(self._reads.discard)
            waits.append(future)
        return all(await asyncio.gather(*waits))

    async def _read_into(self, sids: list[str], future: asyncio.Future[bool]) -> None:
        try:
            found = await self._read(sids)
        except Exception:
            log.exception("routing of %d account(s) could not be applied", len(sids))
            found = False
        finally:
            for sid in sids:
                if self._fetching.get(sid) is future:
                    del self._fetching[sid]
        future.set_result(found)

    async def _read(self, sids: list[str]) -> bool:
        try:
            fetched = await self._fetch(sids)
        except grpc.aio.AioRpcError as exc:
            log.warning("routing of %d account(s) could not be read: %s", len(sids), exc.code().name)
            if len(self._failed_until) > 100_000:
                self._failed_until.clear()
            until = time.monotonic() + FAILED_READ_SECONDS
            self._failed_until.update(dict.fromkeys(sids, until))
            return False
        kept = self._pass(fetched.accounts, fetched.as_of, fetched=True)
        self._holder.apply(control_pb2.RoutingChanges(accounts=kept))
        for sid in sids:
            self._failed_until.pop(sid, None)
        return True


class AccountReach(Protocol):
    """What a consumer of held routing asks of it (AccountsOnDemand, or EveryAccountHeld)."""

    def holds(self, account_sid: str) -> bool: ...

    async def ensure(self, account_sids: Sequence[str]) -> bool: ...

    def known_at(self, account_sid: str) -> int: ...


class EveryAccountHeld:
    """A holder of every account (the whole feed): nothing to read on demand."""

    def holds(self, account_sid: str) -> bool:
        return True

    async def ensure(self, account_sids: Sequence[str]) -> bool:
        return True

    def known_at(self, account_sid: str) -> int:
        return 0  # the feed's revision says it all
