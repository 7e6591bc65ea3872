"""Merging the workers' views of one sink: the worst state wins, throttle caps add up (each
worker throttles its own calls), the earliest outage start; judging it with the last hour's
outcomes (permanent failures are not healthy); and nearest-rank percentiles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.delivery.models import SinkHealthRow
from services.delivery.reads.health import judge, merge, percentile

pytestmark = pytest.mark.unit

T1, T2 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC), datetime(2026, 12, 2, 3, 5, tzinfo=UTC)


def row(
    state: str, cap: float | None = None, since: datetime | None = None, queued: int = 0
) -> SinkHealthRow:
    return SinkHealthRow(
        sink_sid="DG1",
        worker="w",
        state=state,
        throttle_cap=cap,
        failing_since=since,
        queued=queued,
        date_updated=T2,
    )


@pytest.mark.parametrize(
    ("rows", "state", "cap", "since", "queued"),
    [
        ([], "idle", None, None, 0),
        ([row("healthy", queued=3)], "healthy", None, None, 3),
        ([row("healthy"), row("throttled", 40.0), row("throttled", 60.0)], "throttled", 100.0, None, 0),
        (
            [row("throttled", 40.0), row("failing", since=T2), row("failing", since=T1)],
            "failing",
            None,
            T1,
            0,
        ),
        ([row("healthy", queued=2), row("failing", since=T2, queued=5)], "failing", None, T2, 7),
    ],
)
def test_the_worst_state_wins(
    rows: list[SinkHealthRow], state: str, cap: float | None, since: datetime | None, queued: int
) -> None:
    merged = merge(rows)
    assert (merged.state, merged.throttle_cap, merged.failing_since, merged.queued) == (
        state,
        cap,
        since,
        queued,
    )
    assert merged.workers == len(rows)


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [([], 50, 0), ([7], 99, 7), ([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 95, 4), (list(range(1, 101)), 99, 99)],
)
def test_percentiles_by_nearest_rank(values: list[int], pct: float, expected: int) -> None:
    assert percentile(values, pct) == expected


@pytest.mark.parametrize(
    ("lanes", "outcomes", "state"),
    [
        ("healthy", {}, "healthy"),
        ("idle", {}, "idle"),
        ("healthy", {"delivered": 9, "retrying": 4}, "healthy"),  # retried, then delivered
        ("healthy", {"failed": 17}, "rejecting"),  # every event a 400: not healthy
        ("idle", {"failed": 17}, "rejecting"),  # its lanes drained: still the last hour's news
        ("healthy", {"failed": 17, "retrying": 3}, "rejecting"),
        ("healthy", {"failed": 1, "delivered": 500}, "degraded"),
        ("idle", {"failed": 2, "delivered": 5}, "degraded"),
        ("throttled", {"failed": 3}, "rejecting"),  # refusing outranks a cap
        ("throttled", {"failed": 3, "delivered": 5}, "throttled"),
        ("throttled", {"delivered": 5}, "throttled"),
        ("failing", {"failed": 3}, "failing"),  # an outage outranks all
        ("failing", {}, "failing"),
    ],
)
def test_permanent_failures_are_not_healthy(lanes: str, outcomes: dict[str, int], state: str) -> None:
    assert judge(lanes, outcomes) == state
