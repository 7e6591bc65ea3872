"""A client of control's routing feed, for the services that route (router) and deliver
(delivery). It keeps the newest snapshot, reconnects forever, and tells each owner about
every new snapshot through a callback; the owner builds the index it needs."""

from __future__ import annotations

from collections.abc import Callable

from eventstreams.v1 import control_pb2, control_pb2_grpc
from runtime.feed_watcher import FeedWatcher

OnSnapshot = Callable[[control_pb2.RoutingSnapshot], None]


class RoutingWatcher(FeedWatcher[control_pb2.RoutingSnapshot]):
    def __init__(
        self,
        control: control_pb2_grpc.ControlAsyncStub,
        on_snapshot: OnSnapshot,
        with_auth_tokens: bool = False,
    ) -> None:
        # Only a watcher that signs deliveries needs the accounts' auth tokens.
        super().__init__(
            "routing feed",
            lambda known: control.WatchRouting(
                control_pb2.WatchRoutingRequest(known_revision=known, with_auth_tokens=with_auth_tokens)
            ),
            on_snapshot,
            lambda snapshot: snapshot.revision,
        )
