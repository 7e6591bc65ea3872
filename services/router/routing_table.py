"""The router's index over control's routing snapshot: who wants which event."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from eventstreams.v1 import control_pb2

# Sinks that receive subscribed events. A sink under re-validation keeps receiving: only
# an active sink can gain a subscription, so a validating one with subscriptions was active.
RECEIVING_STATUSES = frozenset({"active", "validating"})


@dataclass(frozen=True)
class Target:
    sink_sid: str
    schema_version: int


class RoutingTable:
    def __init__(self) -> None:
        self._targets: dict[tuple[str, str], list[Target]] = {}
        self._sinks: dict[str, control_pb2.RoutedSink] = {}
        self._accounts: set[str] = set()
        self.revision = 0

    def load(self, snapshot: control_pb2.RoutingSnapshot) -> None:
        sinks = {s.sid: s for s in snapshot.sinks}
        targets: dict[tuple[str, str], dict[str, Target]] = defaultdict(dict)
        for subscription in snapshot.subscriptions:
            sink = sinks.get(subscription.sink_sid)
            if sink is None or sink.status not in RECEIVING_STATUSES:
                continue
            for selector in subscription.types:
                # One message per (event, sink) even when two subscriptions overlap.
                targets[(subscription.account_sid, selector.type)].setdefault(
                    sink.sid, Target(sink.sid, selector.schema_version)
                )
        self._targets = {key: list(by_sink.values()) for key, by_sink in targets.items()}
        self._sinks = sinks
        self._accounts = {a.sid for a in snapshot.accounts}
        self.revision = snapshot.revision

    def has_account(self, account_sid: str) -> bool:
        return account_sid in self._accounts

    def targets(self, account_sid: str, type_name: str) -> list[Target]:
        return self._targets.get((account_sid, type_name), [])

    def sink(self, sink_sid: str) -> control_pb2.RoutedSink | None:
        return self._sinks.get(sink_sid)
