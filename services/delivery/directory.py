"""The workers' index over control's routing feed, held by account: each sink opened by its
driver, bound to its configuration parsed once — and closed when the sink is deleted or
changed, or its account is gone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from eventstreams.v1 import control_pb2
from runtime import sink_configs
from runtime.errors import InvalidArgument
from runtime.routing import account_digest
from runtime.sids import AccountSid, SinkSid
from services.delivery.errors import DeliveryError, Misconfigured
from services.delivery.sinks.base import Sink, SinkDriver, SinkSpec

log = logging.getLogger(__name__)

MAX_REMEMBERED_REMOVALS = 100_000


@dataclass(frozen=True)
class Route:
    sid: SinkSid
    account_sid: AccountSid
    sink_type: str
    sink: Sink | None
    problem: DeliveryError | None  # set when sink is None: why nothing can be delivered to it
    # Type, configuration, account token, the sink's own signing secrets: what `sink` is bound to.
    opened_from: tuple[object, ...]


def bound_to(routed: control_pb2.RoutedSink, token: str) -> tuple[object, ...]:
    """What an open sink is bound to: a change of any of it opens the sink anew."""
    return (
        routed.sink_type,
        routed.configuration_json,
        token,
        routed.signing_secret,
        routed.previous_signing_secret,
        routed.previous_signing_secret_expires,
    )


class SinkDirectory:
    def __init__(self, drivers: Mapping[str, SinkDriver]) -> None:
        self._drivers = drivers
        self._routes: dict[str, Route] = {}
        self._closing: set[asyncio.Task[None]] = set()
        # Sinks the feed took away (deleted, or their account gone), latest last: their
        # events are dead letters at once, not asked about again like a sink not seen yet.
        self._removed: dict[str, None] = {}
        self.revision = 0
        self._sinks_of: dict[str, tuple[str, ...]] = {}  # by account
        self._ordered_of: dict[str, frozenset[str]] = {}  # by account
        self._ordered: set[str] = set()
        self._paused_of: dict[str, frozenset[str]] = {}  # by account
        self._paused: set[str] = set()
        self._unconfirmed: set[str] = set()
        # The XOR of the held accounts' digests: equal to control's when the directory is.
        self.digest = 0
        self._digests: dict[str, int] = {}

    def apply(self, changes: control_pb2.RoutingChanges) -> None:
        """Replace the accounts the message carries: their sinks opened anew where their
        type, configuration, account token or signing secret changed, closed where they are
        gone."""
        if changes.reset:
            # Accounts held before a cold start stay until its last page: those it did not
            # bring back are gone then, never in between (their sinks would look deleted).
            self._unconfirmed = set(self._sinks_of)
        for routing in changes.accounts:
            self._unconfirmed.discard(routing.account.sid)
            self._replace(routing)
        while len(self._removed) > MAX_REMEMBERED_REMOVALS:
            del self._removed[next(iter(self._removed))]
        if changes.revision:
            for sid in self._unconfirmed:
                self._replace(
                    control_pb2.AccountRouting(account=control_pb2.RoutedAccount(sid=sid), gone=True)
                )
            self._unconfirmed = set()
            self.revision = changes.revision

    def _replace(self, routing: control_pb2.AccountRouting) -> None:
        sid = routing.account.sid
        token = routing.account.auth_token
        sinks = {} if routing.gone else {s.sid: s for s in routing.sinks}
        for sink_sid in self._sinks_of.pop(sid, ()):
            route = self._routes[sink_sid]
            routed = sinks.get(sink_sid)
            if routed is not None and route.opened_from == bound_to(routed, token):
                continue
            del self._routes[sink_sid]
            if route.sink is not None:
                self._close_later(route.sink)
            if routed is None:
                self._removed[sink_sid] = None
        for sink_sid, routed in sinks.items():
            if sink_sid not in self._routes:
                self._routes[sink_sid] = self._open(routed, token, bound_to(routed, token))
            self._removed.pop(sink_sid, None)
        self._ordered.difference_update(self._ordered_of.pop(sid, ()))
        self._paused.difference_update(self._paused_of.pop(sid, ()))
        self.digest ^= self._digests.pop(sid, 0)
        if routing.gone:
            return
        self._digests[sid] = account_digest(routing)
        self.digest ^= self._digests[sid]
        self._sinks_of[sid] = tuple(sinks)
        # Pausing a sink leaves it open: its events wait (parked), its connections with them.
        paused = frozenset(s.sid for s in routing.sinks if s.paused)
        if paused:
            self._paused_of[sid] = paused
            self._paused.update(paused)
        ordered = frozenset(s.sink_sid for s in routing.subscriptions if s.ordering_key)
        if ordered:
            self._ordered_of[sid] = ordered
            self._ordered.update(ordered)

    @property
    def ordered(self) -> AbstractSet[str]:
        """Sinks with a subscription ordered by key (their events come by the ordered stream)."""
        return self._ordered

    def paused(self, sink_sid: str) -> bool:
        """Its owner paused it: nothing is delivered to it, its events wait parked."""
        return sink_sid in self._paused

    def _open(self, routed: control_pb2.RoutedSink, token: str, key: tuple[object, ...]) -> Route:
        sid, account_sid = SinkSid(routed.sid), AccountSid(routed.account_sid)

        def unusable(problem: DeliveryError) -> Route:
            return Route(sid, account_sid, routed.sink_type, None, problem, key)

        driver = self._drivers.get(routed.sink_type)
        if driver is None:
            return unusable(Misconfigured(f"sink type {routed.sink_type} is not delivered by this worker"))
        try:
            config = sink_configs.parse(routed.sink_type, routed.configuration_json)
        except InvalidArgument as exc:
            return unusable(Misconfigured(f"sink configuration unusable: {exc.message}"))
        sink = driver.open(
            SinkSpec(
                routed.sid,
                routed.account_sid,
                config,
                token,
                routed.signing_secret,
                routed.previous_signing_secret,
                float(routed.previous_signing_secret_expires),
            )
        )
        return Route(sid, account_sid, routed.sink_type, sink, None, key)

    def _close_later(self, sink: Sink) -> None:
        try:
            task = asyncio.get_running_loop().create_task(sink.close())
        except RuntimeError:  # no loop (a test applying changes synchronously): nothing held
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def account_digest(self, account_sid: str) -> int:
        """runtime.routing.account_digest of the account's state held (0: none, or gone)."""
        return self._digests.get(account_sid, 0)

    def route(self, sink_sid: str) -> Route | None:
        return self._routes.get(sink_sid)

    def sink_type(self, sink_sid: str) -> str | None:
        route = self._routes.get(sink_sid)
        return route.sink_type if route is not None else None

    def owner(self, sink_sid: str) -> AccountSid | None:
        """The account that owns the sink (subaccounts' events may roll up to it)."""
        route = self._routes.get(sink_sid)
        return route.account_sid if route is not None else None

    def removed(self, sink_sid: str) -> bool:
        """The sink was routed before and is no more (deleted, or its account gone)."""
        return sink_sid in self._removed

    async def close(self) -> None:
        for route in self._routes.values():
            if route.sink is not None:
                await route.sink.close()
        self._routes = {}
        if self._closing:
            await asyncio.wait(set(self._closing))
