"""Per-key ordering's pure parts: key paths (runtime/ordering.py) and the per-key queues a
worker holds (services/delivery/ordered/key_order.py)."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.ordering import OrderingKeyError, key_of, parse_path, path_in_schema
from services.delivery.ordered.key_order import KeyQueues

pytestmark = pytest.mark.unit

SCHEMA = {
    "type": "object",
    "properties": {
        "messageSid": {"type": "string"},
        "count": {"type": "integer"},
        "flag": {"type": ["boolean", "null"]},
        "payload": {"type": "object", "properties": {"task_sid": {"type": "string"}}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "free": {},
    },
}


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("messageSid", ("messageSid",)),
        ("payload.task_sid", ("payload", "task_sid")),
        ("a-b.$c.@d", ("a-b", "$c", "@d")),
    ],
)
def test_paths_parse(text: str, path: tuple[str, ...]) -> None:
    assert parse_path(text) == path


@pytest.mark.parametrize("text", ["", "a..b", ".a", "a.", "a b", "a[0]", "x" * 201])
def test_malformed_paths_are_refused(text: str) -> None:
    with pytest.raises(OrderingKeyError):
        parse_path(text)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("messageSid", True),
        ("count", True),
        ("flag", True),
        ("payload.task_sid", True),
        ("payload", False),  # an object: no single value
        ("tags", False),  # an array
        ("free", False),  # no type: nothing known to order by
        ("missing", False),
        ("payload.missing", False),
        ("messageSid.deeper", False),
    ],
)
def test_a_path_must_name_a_scalar_field_of_the_schema(text: str, found: bool) -> None:
    assert path_in_schema(SCHEMA, parse_path(text)) is found


@pytest.mark.parametrize(
    ("data", "text", "key"),
    [
        ({"messageSid": "SM1"}, "messageSid", "SM1"),
        ({"count": 7}, "count", "7"),
        ({"flag": True}, "flag", "true"),
        ({"payload": {"task_sid": "WT1"}}, "payload.task_sid", "WT1"),
        ({}, "messageSid", ""),
        ({"messageSid": None}, "messageSid", ""),
        ({"payload": "text"}, "payload.task_sid", ""),
        ({"messageSid": {"a": 1}}, "messageSid", ""),
        ({"messageSid": "x" * 300}, "messageSid", "x" * 256),
    ],
)
def test_an_events_key_is_the_value_at_the_path(data: Any, text: str, key: str) -> None:
    assert key_of(data, parse_path(text)) == key


def test_one_event_per_key_goes_at_a_time_in_stream_order() -> None:
    queues: KeyQueues[str] = KeyQueues()
    for seq, key in [(3, "a"), (1, "a"), (2, "b"), (5, "b"), (4, "a")]:
        assert queues.add(key, seq, f"{key}{seq}")
    assert not queues.add("a", 3, "again")  # a redelivery of one held
    assert queues.held == 5
    first = queues.take(10)
    assert [(k, s) for k, s, _ in first] == [("a", 1), ("b", 2)]
    assert queues.take(10) == []  # both keys busy
    queues.done("b", 2)
    assert [(k, s) for k, s, _ in queues.take(10)] == [("b", 5)]
    queues.release("a")  # a failed: tried again, still first
    assert [(k, s) for k, s, _ in queues.take(10)] == [("a", 1)]
    queues.done("a", 1)
    assert [(k, s) for k, s, _ in queues.take(10)] == [("a", 3)]
    queues.done("a", 3)
    queues.done("b", 5)
    assert [(k, s) for k, s, _ in queues.take(10)] == [("a", 4)]
    queues.done("a", 4)
    assert queues.held == 0 and queues.take(10) == []


def test_a_failing_key_blocks_only_itself() -> None:
    queues: KeyQueues[int] = KeyQueues()
    for seq in range(1, 7):
        queues.add("bad" if seq % 2 else f"good{seq}", seq, seq)
    out = queues.take(10)
    assert [s for _, s, _ in out] == [1, 2, 4, 6]
    for key, seq, _ in out[1:]:
        queues.done(key, seq)
    # "bad" is still out (failing): its next waits, the others are through.
    assert queues.take(10) == []
    assert queues.held == 3
    queues.done("bad", 1)
    assert [s for _, s, _ in queues.take(10)] == [3]


def test_take_honours_the_limit_and_clear_hands_everything_back() -> None:
    queues: KeyQueues[int] = KeyQueues()
    for seq in range(10):
        queues.add(str(seq), seq, seq)
    assert len(queues.take(3)) == 3
    assert queues.busy() == 3
    assert sorted(queues.clear()) == list(range(10))
    assert queues.held == 0
