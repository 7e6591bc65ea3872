"""A client of control's routing feed, for the services that route (router) and deliver
(delivery). It follows routing by revision — the accounts changed since the revision it
holds, or every account in pages when it starts cold — reconnects forever, and hands each
message to its owner through a callback; the owner keeps the index it needs by account."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from eventstreams.v1 import control_pb2, control_pb2_grpc
from runtime.feed_watcher import FeedWatcher

OnChanges = Callable[[control_pb2.RoutingChanges], None]


class RoutingWatcher(FeedWatcher[control_pb2.RoutingChanges]):
    def __init__(
        self,
        control: control_pb2_grpc.ControlAsyncStub,
        on_changes: OnChanges,
        with_auth_tokens: bool = False,
    ) -> None:
        # Only a watcher that signs deliveries needs the accounts' auth tokens.
        super().__init__(
            "routing feed",
            lambda known: control.WatchRouting(
                control_pb2.WatchRoutingRequest(known_revision=known, with_auth_tokens=with_auth_tokens)
            ),
            on_changes,
            lambda changes: changes.revision,
        )


def whole_table(
    revision: int = 0,
    accounts: Iterable[control_pb2.RoutedAccount] = (),
    sinks: Iterable[control_pb2.RoutedSink] = (),
    subscriptions: Iterable[control_pb2.RoutedSubscription] = (),
) -> control_pb2.RoutingChanges:
    """A whole table as one cold start message (tests and benches build tables this way):
    the rows grouped by account, an account named only by a sink or subscription included."""
    by_account: dict[str, control_pb2.AccountRouting] = {}

    def of(sid: str) -> control_pb2.AccountRouting:
        found = by_account.get(sid)
        if found is None:
            found = by_account[sid] = control_pb2.AccountRouting(account=control_pb2.RoutedAccount(sid=sid))
        return found

    for account in accounts:
        of(account.sid).account.CopyFrom(account)
    for sink in sinks:
        of(sink.account_sid).sinks.append(sink)
    for subscription in subscriptions:
        of(subscription.account_sid).subscriptions.append(subscription)
    return control_pb2.RoutingChanges(revision=revision, accounts=list(by_account.values()), reset=True)
