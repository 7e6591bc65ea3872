"""The router's index over control's routing snapshot: who wants which event."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from eventstreams.v1 import control_pb2
from runtime import ordering
from runtime.filters import FilterError, Predicate, compile_filter

log = logging.getLogger(__name__)


def never(_data: Any) -> bool:
    return False


def _merge(
    by_sink: dict[str, Target],
    sink_sid: str,
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


@dataclass(frozen=True)
class Target:
    sink_sid: str
    schema_version: int
    # The filters of the subscriptions that route this type to the sink: an event goes if
    # any matches. Empty: no subscription filters (every event goes).
    filters: tuple[Predicate, ...] = ()
    # The field path events are ordered by for this sink (runtime/ordering.py); None: unordered.
    ordering_key: tuple[str, ...] | None = None

    def wants(self, data: Any) -> bool:
        return not self.filters or any(matches(data) for matches in self.filters)


class RoutingTable:
    def __init__(self) -> None:
        self._targets: dict[tuple[str, str], list[Target]] = {}
        # Subscriptions that also take their account's subaccounts' events, by (owner, type).
        self._rollup: dict[tuple[str, str], list[Target]] = {}
        self._owners: dict[str, str] = {}
        self._sinks: dict[str, control_pb2.RoutedSink] = {}
        self._accounts: set[str] = set()
        self.revision = 0
        # Compiled once per filter text: snapshots repeat the same filters every time.
        self._compiled: dict[str, Predicate] = {}

    def load(self, snapshot: control_pb2.RoutingSnapshot) -> None:
        sinks = {s.sid: s for s in snapshot.sinks}
        targets: dict[tuple[str, str], dict[str, Target]] = defaultdict(dict)
        rollup: dict[tuple[str, str], dict[str, Target]] = defaultdict(dict)
        compiled: dict[str, Predicate] = {}
        for subscription in snapshot.subscriptions:
            sink = sinks.get(subscription.sink_sid)
            if sink is None or sink.status not in RECEIVING_STATUSES:
                continue
            predicate = self._predicate(subscription.filter, compiled)
            path = _ordering_path(subscription.ordering_key)
            for selector in subscription.types:
                key = (subscription.account_sid, selector.type)
                _merge(targets[key], sink.sid, selector.schema_version, predicate, path)
                if subscription.receive_events_from_subaccounts:
                    _merge(rollup[key], sink.sid, selector.schema_version, predicate, path)
        self._compiled = compiled
        self._rollup = {key: list(by_sink.values()) for key, by_sink in rollup.items()}
        # A suspended subaccount's events roll up to no sink (the snapshot already holds no
        # subscription of a suspended account's own): accepted, routed nowhere.
        self._owners = {
            a.sid: a.owner_account_sid for a in snapshot.accounts if a.owner_account_sid and not a.suspended
        }
        self._targets = {key: list(by_sink.values()) for key, by_sink in targets.items()}
        self._sinks = sinks
        self._accounts = {a.sid for a in snapshot.accounts}
        self.revision = snapshot.revision

    def _predicate(self, text: str, compiled: dict[str, Predicate]) -> Predicate | None:
        if not text:
            return None
        predicate = compiled.get(text) or self._compiled.get(text)
        if predicate is None:
            try:
                predicate = compile_filter(text)
            except FilterError:
                # Control checks filters before storing them; one that fails here matches
                # nothing rather than everything.
                log.warning("subscription filter does not compile: %r", text)
                predicate = never
        compiled[text] = predicate
        return predicate

    def has_account(self, account_sid: str) -> bool:
        return account_sid in self._accounts

    def targets(self, account_sid: str, type_name: str) -> list[Target]:
        """The account's own subscriptions' targets, and its owner's that roll subaccounts up
        (a sink already a target of the account's own keeps that one)."""
        own = self._targets.get((account_sid, type_name), [])
        owner = self._owners.get(account_sid)
        rolled = self._rollup.get((owner, type_name), []) if owner else []
        if not rolled:
            return own
        taken = {t.sink_sid for t in own}
        return [*own, *(t for t in rolled if t.sink_sid not in taken)]

    def sink(self, sink_sid: str) -> control_pb2.RoutedSink | None:
        return self._sinks.get(sink_sid)
