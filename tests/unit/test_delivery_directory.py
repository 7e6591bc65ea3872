"""Unit tests for services.delivery.directory: the workers' sinks held by account, following
the routing feed's changes."""

from __future__ import annotations

import json

import pytest

from eventstreams.v1 import control_pb2
from services.delivery.directory import SinkDirectory
from services.delivery.sinks.webhook import WebhookDriver

pytestmark = pytest.mark.unit

AC1, AC2 = "AC" + "1" * 32, "AC" + "2" * 32


def _account(sid: str, token: str, *sinks: str, ordered: str = "") -> control_pb2.AccountRouting:
    config = json.dumps({"destination": "https://example.com/", "method": "POST"})
    return control_pb2.AccountRouting(
        account=control_pb2.RoutedAccount(sid=sid, auth_token=token),
        sinks=[
            control_pb2.RoutedSink(
                sid=s, account_sid=sid, sink_type="webhook", configuration_json=config, status="active"
            )
            for s in sinks
        ],
        subscriptions=[
            control_pb2.RoutedSubscription(sid="DF1", account_sid=sid, sink_sid=ordered, ordering_key="/a")
        ]
        if ordered
        else [],
    )


def _directory() -> SinkDirectory:
    return SinkDirectory({"webhook": WebhookDriver(5.0, True, "test")})


def test_a_change_reopens_only_the_changed_accounts_sinks() -> None:
    directory = _directory()
    directory.apply(
        control_pb2.RoutingChanges(
            revision=1,
            reset=True,
            accounts=[_account(AC1, "t1", "DG1", ordered="DG1"), _account(AC2, "t2", "DG2")],
        )
    )
    first, other = directory.route("DG1"), directory.route("DG2")
    assert directory.ordered == {"DG1"}
    directory.apply(control_pb2.RoutingChanges(revision=2, accounts=[_account(AC1, "t1", "DG1", "DG3")]))
    assert directory.route("DG1") is first  # same type, configuration and token: kept open
    assert directory.route("DG2") is other
    assert directory.route("DG3") is not None and directory.revision == 2
    assert directory.ordered == set()
    directory.apply(control_pb2.RoutingChanges(revision=3, accounts=[_account(AC1, "rotated", "DG1", "DG3")]))
    assert directory.route("DG1") is not first  # signs with the new token


def test_a_gone_account_takes_its_sinks_away() -> None:
    directory = _directory()
    directory.apply(control_pb2.RoutingChanges(revision=1, reset=True, accounts=[_account(AC1, "t", "DG1")]))
    gone = control_pb2.AccountRouting(account=control_pb2.RoutedAccount(sid=AC1), gone=True)
    directory.apply(control_pb2.RoutingChanges(revision=2, accounts=[gone]))
    assert directory.route("DG1") is None and directory.removed("DG1")
    assert directory.digest == 0


def test_a_cold_starts_pages_keep_held_sinks_until_the_last() -> None:
    directory = _directory()
    directory.apply(
        control_pb2.RoutingChanges(
            revision=4, reset=True, accounts=[_account(AC1, "t", "DG1"), _account(AC2, "t", "DG2")]
        )
    )
    directory.apply(control_pb2.RoutingChanges(revision=0, reset=True, accounts=[_account(AC2, "t", "DG2")]))
    assert directory.route("DG1") is not None and not directory.removed("DG1")
    directory.apply(control_pb2.RoutingChanges(revision=6))
    assert directory.route("DG1") is None and directory.removed("DG1")
    assert directory.route("DG2") is not None and directory.revision == 6
