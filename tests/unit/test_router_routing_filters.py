"""How subscription filters combine in the routing table: one target per sink, wanted when
any of its subscriptions' filters matches; an unfiltered subscription wants everything."""

from __future__ import annotations

import pytest

from eventstreams.v1 import control_pb2
from runtime.routing import whole_table
from services.router.routing_table import RoutingTable

pytestmark = pytest.mark.unit

ACCOUNT = "AC" + "1" * 32
SINK = "DG" + "1" * 32
TYPE = "com.twilio.messaging.message.failed"


def table(*filters: str) -> RoutingTable:
    routing = RoutingTable()
    routing.apply(
        whole_table(
            revision=1,
            accounts=[control_pb2.RoutedAccount(sid=ACCOUNT, auth_token="t")],
            sinks=[
                control_pb2.RoutedSink(sid=SINK, account_sid=ACCOUNT, sink_type="webhook", status="active")
            ],
            subscriptions=[
                control_pb2.RoutedSubscription(
                    sid=f"DF{index:032d}",
                    account_sid=ACCOUNT,
                    sink_sid=SINK,
                    types=[control_pb2.TypeSelector(type=TYPE, schema_version=7)],
                    filter=text,
                )
                for index, text in enumerate(filters)
            ],
        )
    )
    return routing


@pytest.mark.parametrize(
    ("filters", "data", "wanted"),
    [
        (("",), {"errorCode": 1}, True),
        (("errorCode == 30004",), {"errorCode": 30004}, True),
        (("errorCode == 30004",), {"errorCode": 1}, False),
        (("errorCode == 30004", "errorCode == 1"), {"errorCode": 1}, True),  # any of them
        (("errorCode == 30004", ""), {"errorCode": 1}, True),  # an unfiltered one wants all
        (("", "errorCode == 30004"), {"errorCode": 1}, True),
        (("errorCode ==",), {"errorCode": 1}, False),  # cannot compile: matches nothing
    ],
)
def test_filters_combine_per_sink(filters: tuple[str, ...], data: dict[str, int], wanted: bool) -> None:
    [target] = table(*filters).targets(ACCOUNT, TYPE)
    assert target.sink_sid == SINK
    assert target.wants(data) is wanted


def rollup_table(from_subaccounts: bool) -> RoutingTable:
    child, other = "AC" + "2" * 32, "AC" + "3" * 32
    routing = RoutingTable()
    routing.apply(
        whole_table(
            revision=1,
            accounts=[
                control_pb2.RoutedAccount(sid=ACCOUNT, auth_token="t"),
                control_pb2.RoutedAccount(sid=child, auth_token="c", owner_account_sid=ACCOUNT),
                control_pb2.RoutedAccount(sid=other, auth_token="o"),
            ],
            sinks=[
                control_pb2.RoutedSink(sid=SINK, account_sid=ACCOUNT, sink_type="webhook", status="active"),
                control_pb2.RoutedSink(
                    sid="DG" + "2" * 32, account_sid=child, sink_type="webhook", status="active"
                ),
            ],
            subscriptions=[
                control_pb2.RoutedSubscription(
                    sid="DF" + "1" * 32,
                    account_sid=ACCOUNT,
                    sink_sid=SINK,
                    types=[control_pb2.TypeSelector(type=TYPE, schema_version=7)],
                    receive_events_from_subaccounts=from_subaccounts,
                ),
                control_pb2.RoutedSubscription(
                    sid="DF" + "2" * 32,
                    account_sid=child,
                    sink_sid="DG" + "2" * 32,
                    types=[control_pb2.TypeSelector(type=TYPE, schema_version=7)],
                ),
            ],
        )
    )
    return routing


@pytest.mark.parametrize(
    ("from_subaccounts", "account", "sinks"),
    [
        (True, "AC" + "2" * 32, {SINK, "DG" + "2" * 32}),  # the child's own sink and the parent's
        (False, "AC" + "2" * 32, {"DG" + "2" * 32}),  # roll-up off: only its own
        (True, ACCOUNT, {SINK}),  # the parent's own events: unchanged
        (True, "AC" + "3" * 32, set()),  # another main account: nothing
    ],
)
def test_subaccount_events_roll_up_to_a_parent_that_asks(
    from_subaccounts: bool, account: str, sinks: set[str]
) -> None:
    assert {t.sink_sid for t in rollup_table(from_subaccounts).targets(account, TYPE)} == sinks
