"""The producer's batching on a simulated clock: a batch is complete at its size or when its
first event has lingered long enough, whichever comes first."""

from __future__ import annotations

import pytest

from eventstreams_producer.batching import Batcher

pytestmark = pytest.mark.unit

# Steps: ("add", item, now) or ("tick", now) or ("flush", now); every batch that comes out.
Step = tuple[str, float] | tuple[str, str, float]


def run(max_size: int, linger: float, steps: list[Step]) -> list[tuple[float, list[str]]]:
    batcher: Batcher[str] = Batcher(max_size, linger)
    out: list[tuple[float, list[str]]] = []
    for step in steps:
        if step[0] == "add":
            _, item, now = step  # type: ignore[misc]
            batch = batcher.add(str(item), float(now))
        elif step[0] == "tick":
            now = float(step[1])
            batch = batcher.due(now)
        else:
            now = float(step[1])
            batch = batcher.take() or None
        if batch:
            out.append((now, batch))
    return out


@pytest.mark.parametrize(
    ("max_size", "linger", "steps", "expected"),
    [
        # Full at its size, at once, whatever the linger.
        (2, 10.0, [("add", "a", 0), ("add", "b", 0.1)], [(0.1, ["a", "b"])]),
        (2, 10.0, [("add", "a", 0), ("add", "b", 0), ("add", "c", 0)], [(0, ["a", "b"])]),
        # Not full: out when its FIRST item has lingered, not the last.
        (
            10,
            0.5,
            [("add", "a", 0), ("tick", 0.4), ("add", "b", 0.45), ("tick", 0.5)],
            [(0.5, ["a", "b"])],
        ),
        # Nothing waits: a tick gives nothing.
        (10, 0.5, [("tick", 5.0)], []),
        # After a batch went out, the next one's linger starts with its own first item.
        (
            2,
            1.0,
            [("add", "a", 0), ("add", "b", 0.2), ("add", "c", 0.9), ("tick", 1.0), ("tick", 1.9)],
            [(0.2, ["a", "b"]), (1.9, ["c"])],
        ),
        # A flush takes whatever waits, early.
        (10, 5.0, [("add", "a", 0), ("add", "b", 1), ("flush", 1.5), ("flush", 2)], [(1.5, ["a", "b"])]),
        # Linger 0: every tick after an add sends it (the size still caps a batch).
        (
            3,
            0.0,
            [("add", "a", 0), ("tick", 0), ("add", "b", 1), ("add", "c", 1), ("tick", 1)],
            [(0, ["a"]), (1, ["b", "c"])],
        ),
        # The router's most per call.
        (1000, 1.0, [("add", str(i), 0) for i in range(1000)], [(0, [str(i) for i in range(1000)])]),
    ],
)
def test_batches_close_at_size_or_after_linger(
    max_size: int, linger: float, steps: list[Step], expected: list[tuple[float, list[str]]]
) -> None:
    assert run(max_size, linger, steps) == expected


@pytest.mark.parametrize(("size", "linger"), [(0, 1.0), (1001, 1.0), (10, -1.0)])
def test_a_batch_size_or_linger_out_of_range_is_refused(size: int, linger: float) -> None:
    with pytest.raises(ValueError):
        Batcher(size, linger)


def test_deadline_names_when_the_batch_under_way_is_due() -> None:
    batcher: Batcher[int] = Batcher(10, 0.25)
    assert batcher.deadline() is None
    batcher.add(1, 100.0)
    batcher.add(2, 100.2)
    assert batcher.deadline() == 100.25
    assert len(batcher) == 2
