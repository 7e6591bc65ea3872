"""When a sink's errors become an error-log event (errorlog/grouping.py): the first error,
the 10th, 100th, 1,000th …, and otherwise at most one per interval."""

from __future__ import annotations

import pytest

from services.delivery.errorlog.grouping import Group, milestone, publish

pytestmark = pytest.mark.unit

INTERVAL = 1200.0
NOW = 10_000.0


@pytest.mark.parametrize(
    ("before", "after", "crossed"),
    [
        (0, 1, True),
        (1, 2, False),
        (1, 9, False),
        (9, 10, True),
        (5, 15, True),
        (10, 11, False),
        (10, 99, False),
        (99, 100, True),
        (11, 1_000, True),
        (1_000, 9_999, False),
        (9_999, 10_000, True),
        (0, 0, False),
    ],
)
def test_milestones_are_the_first_error_and_each_power_of_ten(before: int, after: int, crossed: bool) -> None:
    assert milestone(before, after) is crossed


@pytest.mark.parametrize(
    ("group", "added", "now", "published"),
    [
        # The first error ever: at once.
        (Group(1, 0, None), 1, NOW, True),
        # A first call of several errors: one entry for them all.
        (Group(7, 0, None), 7, NOW, True),
        # The 2nd error a second after the first: grouped.
        (Group(2, 1, NOW - 1), 1, NOW, False),
        # The 10th: at once, however soon after the last entry.
        (Group(10, 1, NOW - 1), 1, NOW, True),
        (Group(12, 1, NOW - 1), 5, NOW, True),  # 8..12 holds the 10th
        (Group(11, 10, NOW - 1), 1, NOW, False),
        (Group(100, 10, NOW - 60), 1, NOW, True),
        (Group(1_000, 100, NOW - 60), 1, NOW, True),
        # Between milestones, once the interval has passed since the last entry.
        (Group(57, 10, NOW - INTERVAL + 1), 1, NOW, False),
        (Group(57, 10, NOW - INTERVAL), 1, NOW, True),
        # A sink failing again after a quiet day: at once (the interval is long past).
        (Group(58, 57, NOW - 86_400), 1, NOW, True),
        # The sweep (nothing added): the untold errors once the interval has passed.
        (Group(57, 10, NOW - INTERVAL), 0, NOW, True),
        (Group(57, 10, NOW - 5), 0, NOW, False),
        (Group(57, 57, NOW - 86_400), 0, NOW, False),  # all told already
        # Another worker published these errors a moment ago: nothing is untold.
        (Group(10, 10, NOW), 1, NOW, False),
    ],
)
def test_when_an_entry_is_published(group: Group, added: int, now: float, published: bool) -> None:
    assert publish(group, added, now, INTERVAL) is published


def test_a_sink_failing_for_an_hour_is_heard_of_a_handful_of_times() -> None:
    """One error a second for an hour: the 1st, 10th, 100th and 1,000th errors, and one entry
    per 20 minutes besides — not 3,600."""
    group = Group(0, 0, None)
    entries = []
    for second in range(3_600):
        group = Group(group.errors + 1, group.published_errors, group.published_at)
        if publish(group, 1, float(second), INTERVAL):
            entries.append(group.errors)
            group = Group(group.errors, group.errors, float(second))
    assert entries == [1, 10, 100, 1_000, 2_200, 3_400]
