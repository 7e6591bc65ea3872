"""The workers' index over control's routing snapshot: each sink opened by its driver, bound
to its configuration parsed once — and closed when the sink is deleted or changed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from eventstreams.v1 import control_pb2
from runtime import sink_configs
from runtime.errors import InvalidArgument
from services.delivery.errors import DeliveryError, Misconfigured
from services.delivery.sinks.base import Sink, SinkDriver, SinkSpec

log = logging.getLogger(__name__)

MAX_REMEMBERED_REMOVALS = 100_000


@dataclass(frozen=True)
class Route:
    sid: str
    account_sid: str
    sink_type: str
    sink: Sink | None
    problem: DeliveryError | None  # set when sink is None: why nothing can be delivered to it
    opened_from: tuple[str, str, str]  # type, configuration, token: what `sink` is bound to


class SinkDirectory:
    def __init__(self, drivers: Mapping[str, SinkDriver]) -> None:
        self._drivers = drivers
        self._routes: dict[str, Route] = {}
        self._closing: set[asyncio.Task[None]] = set()
        # Sinks a snapshot took away (deleted, or their account gone), latest last: their
        # events are dead letters at once, not asked about again like a sink not seen yet.
        self._removed: dict[str, None] = {}
        self.revision = 0
        # Sinks with a subscription ordered by key (their events come by the ordered stream).
        self.ordered: frozenset[str] = frozenset()

    def load(self, snapshot: control_pb2.RoutingSnapshot) -> None:
        tokens = {a.sid: a.auth_token for a in snapshot.accounts}
        routes: dict[str, Route] = {}
        for routed in snapshot.sinks:
            token = tokens.get(routed.account_sid)
            if token is None:
                continue
            key = (routed.sink_type, routed.configuration_json, token)
            known = self._routes.get(routed.sid)
            routes[routed.sid] = (
                known if known is not None and known.opened_from == key else self._open(routed, token, key)
            )
        for sid, route in self._routes.items():
            if routes.get(sid) is not route and route.sink is not None:
                self._close_later(route.sink)
            if sid not in routes:
                self._removed[sid] = None
        for sid in routes:
            self._removed.pop(sid, None)
        while len(self._removed) > MAX_REMEMBERED_REMOVALS:
            del self._removed[next(iter(self._removed))]
        self._routes = routes
        self.ordered = frozenset(s.sink_sid for s in snapshot.subscriptions if s.ordering_key)
        self.revision = snapshot.revision

    def _open(self, routed: control_pb2.RoutedSink, token: str, key: tuple[str, str, str]) -> Route:
        def unusable(problem: DeliveryError) -> Route:
            return Route(routed.sid, routed.account_sid, routed.sink_type, None, problem, key)

        driver = self._drivers.get(routed.sink_type)
        if driver is None:
            return unusable(Misconfigured(f"sink type {routed.sink_type} is not delivered by this worker"))
        try:
            config = sink_configs.parse(routed.sink_type, routed.configuration_json)
        except InvalidArgument as exc:
            return unusable(Misconfigured(f"sink configuration unusable: {exc.message}"))
        sink = driver.open(SinkSpec(routed.sid, routed.account_sid, config, token))
        return Route(routed.sid, routed.account_sid, routed.sink_type, sink, None, key)

    def _close_later(self, sink: Sink) -> None:
        try:
            task = asyncio.get_running_loop().create_task(sink.close())
        except RuntimeError:  # no loop (a test loading snapshots synchronously): nothing held
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def route(self, sink_sid: str) -> Route | None:
        return self._routes.get(sink_sid)

    def sink_type(self, sink_sid: str) -> str | None:
        route = self._routes.get(sink_sid)
        return route.sink_type if route is not None else None

    def owner(self, sink_sid: str) -> str | None:
        """The account that owns the sink (subaccounts' events may roll up to it)."""
        route = self._routes.get(sink_sid)
        return route.account_sid if route is not None else None

    def removed(self, sink_sid: str) -> bool:
        """The sink was in an earlier snapshot and is in this one no more."""
        return sink_sid in self._removed

    async def close(self) -> None:
        for route in self._routes.values():
            if route.sink is not None:
                await route.sink.close()
        self._routes = {}
        if self._closing:
            await asyncio.wait(set(self._closing))
