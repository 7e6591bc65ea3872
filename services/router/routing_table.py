"""The router's index over control's routing feed: who wants which event."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from eventstreams.v1 import control_pb2
from runtime import ordering
from runtime.filters import FilterError, Predicate, compile_filter
from runtime.routing import account_digest
from runtime.sids import SinkSid

log = logging.getLogger(__name__)


def never(_data: Any) -> bool:
    return False


def _merge(
    by_sink: dict[SinkSid, Target],
    sink_sid: SinkSid,
    version: int,
    predicate: Predicate | None,
    ordering_key: tuple[str, ...] | None,
) -> None:
    """One message per (event, sink) even when two subscriptions overlap: the first one's
    version and ordering key, and the event goes if any of their filters matches (or one
    has none)."""
    known = by_sink.get(sink_sid)
    if known is None:
        by_sink[sink_sid] = Target(sink_sid, version, (predicate,) if predicate else (), ordering_key)
    elif known.filters:
        by_sink[sink_sid] = Target(
            sink_sid,
            known.schema_version,
            (*known.filters, predicate) if predicate else (),
            known.ordering_key,
        )


def _ordering_path(text: str) -> tuple[str, ...] | None:
    if not text:
        return None
    try:
        return ordering.parse_path(text)
    except ordering.OrderingKeyError:
        # Control checks keys before storing them; one that fails here orders every event
        # of the subscription as one key rather than not at all.
        log.warning("subscription ordering key does not parse: %r", text)
        return ()


# Sinks that receive subscribed events. A sink under re-validation keeps receiving: only
# an active sink can gain a subscription, so a validating one with subscriptions was active.
RECEIVING_STATUSES = frozenset({"active", "validating"})
MAX_COMPILED_FILTERS = 100_000


@dataclass(frozen=True)
class Target:
    sink_sid: SinkSid
    schema_version: int
    # The filters of the subscriptions that route this type to the sink: an event goes if
    # any matches. Empty: no subscription filters (every event goes).
    filters: tuple[Predicate, ...] = ()
    # The field path events are ordered by for this sink (runtime/ordering.py); None: unordered.
    ordering_key: tuple[str, ...] | None = None

    def wants(self, data: Any) -> bool:
        return not self.filters or any(matches(data) for matches in self.filters)


@dataclass(frozen=True)
class AccountRoutes:
    """One account's part of the table, rebuilt whole when the account changes."""

    owner: str  # empty for a main account, and for a suspended subaccount (nothing rolls up)
    targets: dict[str, list[Target]]  # by type: the account's own subscriptions
    rollup: dict[str, list[Target]]  # by type: those that also take its subaccounts' events
    sinks: tuple[control_pb2.RoutedSink, ...]
    digest: int  # runtime.routing.account_digest of the state it was built from


class RoutingTable:
    """Held by account: a message of the routing feed replaces the accounts it carries, so
    applying a change costs that account's size, whatever the number of accounts."""

    def __init__(self) -> None:
        self._accounts: dict[str, AccountRoutes] = {}
        self._sinks: dict[str, control_pb2.RoutedSink] = {}
        self.revision = 0
        # The XOR of the held accounts' digests: equal to control's when the table is.
        self.digest = 0
        # Compiled once per filter text, shared by the accounts that use it.
        self._compiled: dict[str, Predicate] = {}
        self._unconfirmed: set[str] = set()

    def apply(self, changes: control_pb2.RoutingChanges) -> None:
        if changes.reset:
            # Accounts held before a cold start stay until its last page: those it did not
            # bring back are gone then, never in between.
            self._unconfirmed = set(self._accounts)
        for routing in changes.accounts:
            self._unconfirmed.discard(routing.account.sid)
            self._replace(routing)
        if changes.revision:
            for sid in self._unconfirmed:
                self._replace(
                    control_pb2.AccountRouting(account=control_pb2.RoutedAccount(sid=sid), gone=True)
                )
            self._unconfirmed = set()
            self.revision = changes.revision

    def _replace(self, routing: control_pb2.AccountRouting) -> None:
        sid = routing.account.sid
        held = self._accounts.pop(sid, None)
        if held is not None:
            self.digest ^= held.digest
            for gone in held.sinks:
                self._sinks.pop(gone.sid, None)
        if routing.gone:
            return
        sinks = {s.sid: s for s in routing.sinks}
        targets: dict[str, dict[SinkSid, Target]] = defaultdict(dict)
        rollup: dict[str, dict[SinkSid, Target]] = defaultdict(dict)
        for subscription in routing.subscriptions:
            sink = sinks.get(subscription.sink_sid)
            if sink is None or sink.status not in RECEIVING_STATUSES:
                continue
            sink_sid = SinkSid(sink.sid)
            predicate = self._predicate(subscription.filter)
            path = _ordering_path(subscription.ordering_key)
            for selector in subscription.types:
                _merge(targets[selector.type], sink_sid, selector.schema_version, predicate, path)
                if subscription.receive_events_from_subaccounts:
                    _merge(rollup[selector.type], sink_sid, selector.schema_version, predicate, path)
        account = routing.account
        self._accounts[sid] = AccountRoutes(
            # A suspended subaccount's events roll up to no sink (its own subscriptions are
            # already left out): accepted, routed nowhere.
            owner="" if account.suspended else account.owner_account_sid,
            targets={t: list(by_sink.values()) for t, by_sink in targets.items()},
            rollup={t: list(by_sink.values()) for t, by_sink in rollup.items()},
            sinks=tuple(routing.sinks),
            digest=account_digest(routing),
        )
        self.digest ^= self._accounts[sid].digest
        self._sinks.update(sinks)

    def _predicate(self, text: str) -> Predicate | None:
        if not text:
            return None
        predicate = self._compiled.get(text)
        if predicate is None:
            try:
                predicate = compile_filter(text)
            except FilterError:
                # Control checks filters before storing them; one that fails here matches
                # nothing rather than everything.
                log.warning("subscription filter does not compile: %r", text)
                predicate = never
            if len(self._compiled) >= MAX_COMPILED_FILTERS:
                # Filters edited away are never pruned one by one; starting over is cheap.
                self._compiled = {}
            self._compiled[text] = predicate
        return predicate

    def account_digest(self, account_sid: str) -> int:
        """runtime.routing.account_digest of the account's state held (0: none, or gone)."""
        held = self._accounts.get(account_sid)
        return held.digest if held is not None else 0

    def has_account(self, account_sid: str) -> bool:
        return account_sid in self._accounts

    def targets(self, account_sid: str, type_name: str) -> list[Target]:
        """The account's own subscriptions' targets, and its owner's that roll subaccounts up
        (a sink already a target of the account's own keeps that one)."""
        account = self._accounts.get(account_sid)
        if account is None:
            return []
        own = account.targets.get(type_name, [])
        owner = self._accounts.get(account.owner) if account.owner else None
        rolled = owner.rollup.get(type_name, []) if owner is not None else []
        if not rolled:
            return own
        taken = {t.sink_sid for t in own}
        return [*own, *(t for t in rolled if t.sink_sid not in taken)]

    def sink(self, sink_sid: str) -> control_pb2.RoutedSink | None:
        return self._sinks.get(sink_sid)
