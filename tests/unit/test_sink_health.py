"""Merging the workers' views of one sink: the worst state wins, throttle caps add up (each
worker throttles its own calls), the earliest outage start; and nearest-rank percentiles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.delivery.health import merge, percentile
from services.delivery.models import SinkHealthRow

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
