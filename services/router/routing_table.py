"""The router's index over control's routing snapshot: who wants which event."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from eventstreams.v1 import control_pb2
from runtime.filters import FilterError, Predicate, compile_filter

log = logging.getLogger(__name__)


def never(_data: Any) -> bool:
    return False


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

    def wants(self, data: Any) -> bool:
        return not self.filters or any(matches(data) for matches in self.filters)


class RoutingTable:
    def __init__(self) -> None:
        self._targets: dict[tuple[str, str], list[Target]] = {}
        self._sinks: dict[str, control_pb2.RoutedSink] = {}
        self._accounts: set[str] = set()
        self.revision = 0
        # Compiled once per filter text: snapshots repeat the same filters every time.
        self._compiled: dict[str, Predicate] = {}

    def load(self, snapshot: control_pb2.RoutingSnapshot) -> None:
        sinks = {s.sid: s for s in snapshot.sinks}
        targets: dict[tuple[str, str], dict[str, Target]] = defaultdict(dict)
        compiled: dict[str, Predicate] = {}
        for subscription in snapshot.subscriptions:
            sink = sinks.get(subscription.sink_sid)
            if sink is None or sink.status not in RECEIVING_STATUSES:
                continue
            predicate = self._predicate(subscription.filter, compiled)
            for selector in subscription.types:
                by_sink = targets[(subscription.account_sid, selector.type)]
                known = by_sink.get(sink.sid)
                # One message per (event, sink) even when two subscriptions overlap: the
                # first one's version, and the event goes if any of their filters matches.
                if known is None:
                    by_sink[sink.sid] = Target(
                        sink.sid, selector.schema_version, (predicate,) if predicate else ()
                    )
                elif known.filters:
                    widened = (*known.filters, predicate) if predicate else ()
                    by_sink[sink.sid] = Target(sink.sid, known.schema_version, widened)
        self._compiled = compiled
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
        return self._targets.get((account_sid, type_name), [])

    def sink(self, sink_sid: str) -> control_pb2.RoutedSink | None:
        return self._sinks.get(sink_sid)
