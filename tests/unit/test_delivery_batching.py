"""Batching, table-driven: as many ready events as fit a 64 kB JSON array, never more."""

from __future__ import annotations

import json

import pytest

from services.delivery.batching import MAX_BATCH_BYTES, array_size, take

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("sizes", "limit", "expected"),
    [
        ([], 100, 0),
        ([10], 100, 1),
        ([10, 10, 10], 100, 3),  # 2 + 30 + 2 commas = 34
        ([40, 40, 40], 100, 2),  # 2 + 80 + 1 = 83; a third would be 124
        ([48, 49], 100, 2),  # exactly 100
        ([48, 50], 100, 1),  # 101: one too many
        ([500], 100, 1),  # too large alone still goes, alone
        ([500, 1], 100, 1),
        ([1] * 5000, 100_000, 1000),  # at most max_events
    ],
)
def test_take(sizes: list[int], limit: int, expected: int) -> None:
    assert take(sizes, limit) == expected
    if expected > 1:
        assert array_size(sizes[:expected]) <= limit


def test_the_real_body_never_exceeds_64_kb() -> None:
    events = [json.dumps({"id": f"EZ{i}", "data": {"pad": "x" * (i % 3000)}}).encode() for i in range(400)]
    remaining = events
    while remaining:
        count = take([len(e) for e in remaining])
        body = b"[" + b",".join(remaining[:count]) + b"]"
        assert len(body) <= MAX_BATCH_BYTES or count == 1
        assert len(json.loads(body)) == count
        if count < len(remaining):
            grown = b"[" + b",".join(remaining[: count + 1]) + b"]"
            assert len(grown) > MAX_BATCH_BYTES  # the batch was as full as it could be
        remaining = remaining[count:]


@pytest.mark.parametrize(("sizes", "expected"), [([], 2), ([5], 7), ([5, 5], 13), ([1, 2, 3], 10)])
def test_array_size(sizes: list[int], expected: int) -> None:
    assert array_size(sizes) == expected
