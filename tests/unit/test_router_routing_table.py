"""Unit tests for services.router.routing_table, fed whole tables (runtime.routing.whole_table)."""

from __future__ import annotations

import pytest

from eventstreams.v1 import control_pb2
from runtime.routing import table_digest, whole_table
from services.router.routing_table import RECEIVING_STATUSES, RoutingTable, Target

pytestmark = pytest.mark.unit

AC1 = "AC" + "1" * 32
AC2 = "AC" + "2" * 32
SENT = "com.twilio.messaging.message.sent"
DELIVERED = "com.twilio.messaging.message.delivered"
CALL = "com.twilio.voice.status-callback.call.completed"


def _sink(sid: str, status: str = "active", account: str = AC1) -> control_pb2.RoutedSink:
    return control_pb2.RoutedSink(
        sid=sid,
        account_sid=account,
        sink_type="webhook",
        configuration_json='{"destination":"https://example.com","method":"POST"}',
        status=status,
    )


def _sub(
    sid: str, sink: str, types: list[tuple[str, int]], account: str = AC1
) -> control_pb2.RoutedSubscription:
    return control_pb2.RoutedSubscription(
        sid=sid,
        account_sid=account,
        sink_sid=sink,
        types=[control_pb2.TypeSelector(type=t, schema_version=v) for t, v in types],
    )


def _table(**fields: object) -> RoutingTable:
    table = RoutingTable()
    table.apply(whole_table(**fields))  # type: ignore[arg-type]
    return table


def test_empty_table() -> None:
    table = RoutingTable()
    assert table.revision == 0
    assert table.targets(AC1, SENT) == []
    assert table.has_account(AC1) is False
    assert table.sink("DG1") is None


def test_targets_by_account_and_type() -> None:
    table = _table(
        revision=7,
        accounts=[control_pb2.RoutedAccount(sid=AC1, auth_token="t1")],
        sinks=[_sink("DG1"), _sink("DG2")],
        subscriptions=[
            _sub("DF1", "DG1", [(SENT, 1), (DELIVERED, 2)]),
            _sub("DF2", "DG2", [(SENT, 3)]),
        ],
    )
    assert table.targets(AC1, SENT) == [Target("DG1", 1), Target("DG2", 3)]
    assert table.targets(AC1, DELIVERED) == [Target("DG1", 2)]
    assert table.targets(AC1, CALL) == []
    assert table.revision == 7


@pytest.mark.parametrize(
    ("status", "receives"),
    [
        ("active", True),
        ("validating", True),
        ("initialized", False),
        ("failed", False),
        ("", False),
        ("ACTIVE", False),
    ],
)
def test_only_receiving_statuses_are_targets(status: str, receives: bool) -> None:
    table = _table(sinks=[_sink("DG1", status)], subscriptions=[_sub("DF1", "DG1", [(SENT, 1)])])
    assert table.targets(AC1, SENT) == ([Target("DG1", 1)] if receives else [])
    assert table.sink("DG1") is not None  # known either way
    assert table.sink("DG1").status == status  # type: ignore[union-attr]


def test_receiving_statuses() -> None:
    assert frozenset({"active", "validating"}) == RECEIVING_STATUSES


def test_mixed_statuses_only_receivers_listed() -> None:
    table = _table(
        sinks=[
            _sink("DG1", "active"),
            _sink("DG2", "failed"),
            _sink("DG3", "validating"),
            _sink("DG4", "initialized"),
        ],
        subscriptions=[_sub(f"DF{n}", f"DG{n}", [(SENT, 1)]) for n in range(1, 5)],
    )
    assert [t.sink_sid for t in table.targets(AC1, SENT)] == ["DG1", "DG3"]


def test_two_subscriptions_same_sink_same_type_give_one_target() -> None:
    table = _table(
        sinks=[_sink("DG1")],
        subscriptions=[_sub("DF1", "DG1", [(SENT, 1)]), _sub("DF2", "DG1", [(SENT, 2), (DELIVERED, 1)])],
    )
    assert table.targets(AC1, SENT) == [Target("DG1", 1)]  # the first subscription's version wins
    assert table.targets(AC1, DELIVERED) == [Target("DG1", 1)]


def test_same_type_twice_in_one_subscription_gives_one_target() -> None:
    table = _table(sinks=[_sink("DG1")], subscriptions=[_sub("DF1", "DG1", [(SENT, 2), (SENT, 5)])])
    assert table.targets(AC1, SENT) == [Target("DG1", 2)]


def test_subscription_for_unknown_sink_is_skipped() -> None:
    table = _table(sinks=[_sink("DG1")], subscriptions=[_sub("DF1", "DGmissing", [(SENT, 1)])])
    assert table.targets(AC1, SENT) == []
    assert table.sink("DGmissing") is None


def test_other_accounts_see_nothing() -> None:
    table = _table(
        accounts=[control_pb2.RoutedAccount(sid=AC1), control_pb2.RoutedAccount(sid=AC2)],
        sinks=[_sink("DG1"), _sink("DG2", account=AC2)],
        subscriptions=[_sub("DF1", "DG1", [(SENT, 1)]), _sub("DF2", "DG2", [(CALL, 1)], account=AC2)],
    )
    assert table.targets(AC1, SENT) == [Target("DG1", 1)]
    assert table.targets(AC2, SENT) == []
    assert table.targets(AC2, CALL) == [Target("DG2", 1)]
    assert table.targets(AC1, CALL) == []
    assert table.targets("AC" + "3" * 32, SENT) == []


@pytest.mark.parametrize(
    ("account", "expected"),
    [(AC1, True), (AC2, True), ("AC" + "3" * 32, False), ("", False), (AC1.lower(), False)],
)
def test_has_account(account: str, expected: bool) -> None:
    table = _table(accounts=[control_pb2.RoutedAccount(sid=AC1), control_pb2.RoutedAccount(sid=AC2)])
    assert table.has_account(account) is expected


def test_account_without_subscriptions_is_known() -> None:
    table = _table(accounts=[control_pb2.RoutedAccount(sid=AC1)])
    assert table.has_account(AC1)
    assert table.targets(AC1, SENT) == []


def test_sink_lookup_returns_routed_sink() -> None:
    table = _table(sinks=[_sink("DG1", account=AC2)])
    sink = table.sink("DG1")
    assert sink is not None
    assert (sink.sid, sink.account_sid, sink.sink_type) == ("DG1", AC2, "webhook")


def test_reload_replaces_everything() -> None:
    table = _table(
        revision=1,
        accounts=[control_pb2.RoutedAccount(sid=AC1)],
        sinks=[_sink("DG1")],
        subscriptions=[_sub("DF1", "DG1", [(SENT, 1)])],
    )
    table.apply(
        whole_table(
            revision=2,
            accounts=[control_pb2.RoutedAccount(sid=AC2)],
            sinks=[_sink("DG2", account=AC2)],
            subscriptions=[_sub("DF2", "DG2", [(DELIVERED, 4)], account=AC2)],
        )
    )
    assert table.revision == 2
    assert table.targets(AC1, SENT) == []
    assert table.has_account(AC1) is False
    assert table.sink("DG1") is None
    assert table.has_account(AC2) is True
    assert table.targets(AC2, DELIVERED) == [Target("DG2", 4)]


def test_reload_sink_status_change_stops_routing() -> None:
    snapshot = whole_table(revision=1, sinks=[_sink("DG1")], subscriptions=[_sub("DF1", "DG1", [(SENT, 1)])])
    table = RoutingTable()
    table.apply(snapshot)
    assert table.targets(AC1, SENT) == [Target("DG1", 1)]
    snapshot.revision = 2
    snapshot.accounts[0].sinks[0].status = "failed"
    table.apply(snapshot)
    assert table.targets(AC1, SENT) == []
    assert table.revision == 2


def test_a_suspended_subaccounts_events_roll_up_nowhere() -> None:
    """Known (its events are accepted) but routed to no sink, not its parent's either."""
    rollup = _sub("DF1", "DG1", [(SENT, 1)])
    rollup.receive_events_from_subaccounts = True
    snapshot = whole_table(
        revision=1,
        accounts=[
            control_pb2.RoutedAccount(sid=AC1),
            control_pb2.RoutedAccount(sid=AC2, owner_account_sid=AC1),
        ],
        sinks=[_sink("DG1")],
        subscriptions=[rollup],
    )
    table = RoutingTable()
    table.apply(snapshot)
    assert table.targets(AC2, SENT) == [Target("DG1", 1)]
    snapshot.revision = 2
    snapshot.accounts[1].account.suspended = True
    table.apply(snapshot)
    assert table.has_account(AC2) is True
    assert table.targets(AC2, SENT) == []
    assert table.targets(AC1, SENT) == [Target("DG1", 1)]


def _account(
    sid: str, *subscriptions: control_pb2.RoutedSubscription, owner: str = ""
) -> control_pb2.AccountRouting:
    sinks = [_sink(s.sink_sid, account=sid) for s in subscriptions]
    return control_pb2.AccountRouting(
        account=control_pb2.RoutedAccount(sid=sid, owner_account_sid=owner),
        sinks=sinks,
        subscriptions=subscriptions,
    )


def test_a_change_replaces_only_the_accounts_it_carries() -> None:
    table = RoutingTable()
    table.apply(
        control_pb2.RoutingChanges(
            revision=1,
            reset=True,
            accounts=[
                _account(AC1, _sub("DF1", "DG1", [(SENT, 1)])),
                _account(AC2, _sub("DF2", "DG2", [(SENT, 1)], account=AC2)),
            ],
        )
    )
    table.apply(
        control_pb2.RoutingChanges(revision=2, accounts=[_account(AC1, _sub("DF3", "DG3", [(SENT, 2)]))])
    )
    assert table.revision == 2
    assert table.targets(AC1, SENT) == [Target("DG3", 2)]
    assert table.sink("DG1") is None
    assert table.targets(AC2, SENT) == [Target("DG2", 1)]
    table.apply(
        control_pb2.RoutingChanges(
            revision=3,
            accounts=[control_pb2.AccountRouting(account=control_pb2.RoutedAccount(sid=AC1), gone=True)],
        )
    )
    assert table.has_account(AC1) is False
    assert table.sink("DG3") is None
    assert table.has_account(AC2) is True
    assert table.digest == table_digest([_account(AC2, _sub("DF2", "DG2", [(SENT, 1)], account=AC2))])


def test_an_owners_change_reaches_its_subaccounts_roll_up() -> None:
    rollup = _sub("DF1", "DG1", [(SENT, 1)])
    rollup.receive_events_from_subaccounts = True
    table = RoutingTable()
    table.apply(
        control_pb2.RoutingChanges(revision=1, reset=True, accounts=[_account(AC1), _account(AC2, owner=AC1)])
    )
    assert table.targets(AC2, SENT) == []
    table.apply(control_pb2.RoutingChanges(revision=2, accounts=[_account(AC1, rollup)]))
    assert table.targets(AC2, SENT) == [Target("DG1", 1)]


def test_a_cold_starts_pages_keep_held_accounts_until_the_last() -> None:
    table = RoutingTable()
    table.apply(control_pb2.RoutingChanges(revision=5, reset=True, accounts=[_account(AC1), _account(AC2)]))
    table.apply(control_pb2.RoutingChanges(revision=0, reset=True, accounts=[_account(AC2)]))
    assert table.has_account(AC1) is True  # a later page may bring it back
    assert table.revision == 5
    table.apply(control_pb2.RoutingChanges(revision=7, accounts=[]))
    assert table.has_account(AC1) is False
    assert table.has_account(AC2) is True
    assert table.revision == 7
