"""A client of control's routing feed, for the services that route (router) and deliver
(delivery). It follows routing by revision — the accounts changed since the revision it
holds, or every account in pages when it starts cold — reconnects forever, and hands each
message to its owner through a callback; the owner keeps the index it needs by account."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from eventstreams.v1 import control_pb2, control_pb2_grpc
from runtime.config import setting
from runtime.feed_watcher import FeedWatcher
from runtime.metrics import Metrics
from runtime.routing_demand import AccountsOnDemand, Holder

OnChanges = Callable[[control_pb2.RoutingChanges], None]
FETCH_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class RoutingSettings:
    """The settings of the services that hold routing (router, delivery; a base of theirs)."""

    routing_on_demand: bool = setting(
        True,
        "router and delivery: hold the routing of the accounts a process needs, each read from "
        "control when first needed (false: every account's, read whole at start)",
    )


def follow_routing(
    control: control_pb2_grpc.ControlAsyncStub,
    holder: Holder,
    on_demand: bool,
    with_auth_tokens: bool = False,
) -> tuple[RoutingWatcher, AccountsOnDemand | None]:
    """The feed that keeps `holder` current and, on demand, what fetches its accounts."""
    if not on_demand:
        return RoutingWatcher(control, holder.apply, with_auth_tokens), None

    async def fetch(sids: Sequence[str]) -> control_pb2.RoutingChanges:
        request = control_pb2.GetRoutingRequest(account_sids=sids, with_auth_tokens=with_auth_tokens)
        return await control.GetRouting(request, timeout=FETCH_TIMEOUT_SECONDS)

    accounts = AccountsOnDemand(holder, fetch)
    return RoutingWatcher(control, accounts.apply, with_auth_tokens, on_demand=True), accounts


class RoutingWatcher(FeedWatcher[control_pb2.RoutingChanges]):
    def __init__(
        self,
        control: control_pb2_grpc.ControlAsyncStub,
        on_changes: OnChanges,
        with_auth_tokens: bool = False,
        on_demand: bool = False,
    ) -> None:
        # Only a watcher that signs deliveries needs the accounts' auth tokens.
        super().__init__(
            "routing feed",
            lambda known: control.WatchRouting(
                control_pb2.WatchRoutingRequest(
                    known_revision=known, with_auth_tokens=with_auth_tokens, on_demand=on_demand
                )
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


DIGEST_BITS = 48  # exact in a float: a Prometheus gauge carries it unchanged


def account_digest(routing: control_pb2.AccountRouting) -> int:
    """A fingerprint of one account's routing state (0: gone). Held states combine by XOR,
    so a holder keeps its table's digest as it replaces accounts, and two holders of the
    same states — a router and control — have the same digest whatever the order."""
    if routing.gone:
        return 0
    raw = hashlib.blake2b(routing.SerializeToString(deterministic=True), digest_size=8).digest()
    return int.from_bytes(raw, "big") >> (64 - DIGEST_BITS)


def table_digest(accounts: Iterable[control_pb2.AccountRouting]) -> int:
    combined = 0
    for routing in accounts:
        combined ^= account_digest(routing)
    return combined


class HeldRouting(Protocol):
    revision: int
    digest: int


def report_held_routing(
    metrics: Metrics, service: str, held: HeldRouting, accounts: AccountsOnDemand | None = None
) -> None:
    """The revision and digest of the routing a process holds, as gauges: a process whose
    pair equals control's (runtime.routing.table_digest of its feed, or of the accounts it
    holds on demand) missed no change."""
    if accounts is not None:
        metrics.readings.gauge(
            f"es_{service}_routing_accounts",
            "the accounts whose routing this process holds (read on demand)",
            lambda: [({}, float(accounts.held))],
        )
    metrics.readings.gauge(
        f"es_{service}_routing_revision",
        "the routing revision this process holds",
        lambda: [({}, float(held.revision))],
    )
    metrics.readings.gauge(
        f"es_{service}_routing_digest",
        "the XOR of the held accounts' routing digests (48 bits)",
        lambda: [({}, float(held.digest))],
    )
