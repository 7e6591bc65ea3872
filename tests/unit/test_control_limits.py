"""Aggregate limits per account tree: the pure policy (services/control/limits.py)."""

from __future__ import annotations

import pytest

from eventstreams.v1 import control_pb2
from runtime import sids
from runtime.errors import InvalidArgument, LimitExceeded
from services.control import limits
from services.control.limits import TreeLimits, TreeUsage

pytestmark = pytest.mark.unit

SMALL = TreeLimits(
    subaccounts=2, sinks=3, subscriptions=4, types_per_subscription=2, filter_chars=10, routing_bytes=1000
)
TYPE = "com.twilio.messaging.message.delivered"


@pytest.mark.parametrize(
    ("types", "filter_text", "ordering_key", "expected"),
    [
        ([], None, None, 128),
        (["a"], None, None, 128 + 17),
        (["a", "bb"], "", "", 128 + 17 + 18),
        ([TYPE], "x == 1", None, 128 + 16 + len(TYPE) + 6),
        ([TYPE], None, "data.to", 128 + 16 + len(TYPE) + 7),
        (["a"], "é", None, 128 + 17 + 2),  # bytes, as they travel, not characters
        ([TYPE] * 159, "f" * 1000, None, 128 + 159 * (16 + len(TYPE)) + 1000),
    ],
)
def test_routing_bytes(
    types: list[str], filter_text: str | None, ordering_key: str | None, expected: int
) -> None:
    assert limits.routing_bytes(types, filter_text, ordering_key) == expected


@pytest.mark.parametrize(
    ("types", "filter_text", "ordering_key"),
    [
        ([TYPE], "", ""),
        ([f"{TYPE}.{i}" for i in range(200)], "é" * 1024, "data.a.b.c"),
        (["x" * 200] * 300, "f" * 20000, "k" * 200),  # lengths past one-byte varints
    ],
)
def test_the_estimate_bounds_the_serialized_subscription(
    types: list[str], filter_text: str, ordering_key: str
) -> None:
    routed = control_pb2.RoutedSubscription(
        sid=sids.new(sids.SUBSCRIPTION),
        account_sid=sids.new(sids.ACCOUNT),
        sink_sid=sids.new(sids.SINK),
        types=[control_pb2.TypeSelector(type=t, schema_version=2**31 - 1) for t in types],
        filter=filter_text,
        receive_events_from_subaccounts=True,
        ordering_key=ordering_key,
    )
    # In a list the message also carries its field tag and its length.
    framed = 1 + len(_varint(routed.ByteSize())) + routed.ByteSize()
    estimate = limits.routing_bytes(types, filter_text, ordering_key)
    assert framed <= estimate <= framed * 1.2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


@pytest.mark.parametrize(("count", "refused"), [(1, False), (2, False), (3, True), (200, True)])
def test_types_per_subscription(count: int, refused: bool) -> None:
    refusal = limits.types_refusal(SMALL, count)
    assert (refusal is not None) == refused
    if refusal is not None:
        assert isinstance(refusal, InvalidArgument)
        assert (refusal.http_status, refusal.twilio_code) == (400, 91101)


@pytest.mark.parametrize(
    ("text", "refused"), [(None, False), ("", False), ("x" * 10, False), ("x" * 11, True)]
)
def test_filter_length(text: str | None, refused: bool) -> None:
    refusal = limits.filter_refusal(SMALL, text)
    assert (refusal is not None) == refused
    if refusal is not None:
        assert (refusal.http_status, refusal.twilio_code) == (400, 91101)


@pytest.mark.parametrize(
    ("before", "after", "refused_for"),
    [
        (TreeUsage(), TreeUsage(subaccounts=2, sinks=3, subscriptions=4, routing_bytes=1000), None),
        (TreeUsage(subaccounts=2), TreeUsage(subaccounts=3), "subaccounts"),
        (TreeUsage(sinks=3), TreeUsage(sinks=4), "sinks"),
        (TreeUsage(subscriptions=4), TreeUsage(subscriptions=5), "subscriptions"),
        (TreeUsage(routing_bytes=999), TreeUsage(routing_bytes=1001), "bytes of routing state"),
        # Past a limit lowered since, a tree may still shrink or stay as it is.
        (TreeUsage(subscriptions=9), TreeUsage(subscriptions=8), None),
        (
            TreeUsage(subscriptions=9, routing_bytes=5000),
            TreeUsage(subscriptions=9, routing_bytes=5000),
            None,
        ),
        # ... and grow what is within its limit.
        (TreeUsage(subscriptions=9, sinks=0), TreeUsage(subscriptions=9, sinks=1), None),
    ],
)
def test_tree_refusal(before: TreeUsage, after: TreeUsage, refused_for: str | None) -> None:
    refusal = limits.tree_refusal(SMALL, before, after)
    if refused_for is None:
        assert refusal is None
        return
    assert isinstance(refusal, LimitExceeded)
    assert (refusal.http_status, refusal.twilio_code) == (400, 91003)
    assert f"maximum number of {refused_for} across the account and its subaccounts" in refusal.message


def test_the_defaults_keep_a_full_tree_within_one_grpc_message() -> None:
    assert TreeLimits().routing_bytes < 64 * 1024 * 1024 // 8
    assert TreeLimits().subaccounts == 1000  # Twilio's
