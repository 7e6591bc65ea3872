"""A usage list makes only the records of the page asked for, whatever the length of the
list: memory and time follow the page size, not the range."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest

from gateway.paging import PageRequest
from gateway.usage import legacy_list

pytestmark = pytest.mark.unit

PATH = "/2010-04-01/Accounts/AC1/Usage/Records/Daily.json"


def nth(index: int) -> dict[str, Any]:
    return {"index": index, "padding": "x" * 200}


@pytest.mark.parametrize(
    ("total", "page", "size", "shown", "more"),
    [
        (0, 0, 50, [], False),
        (5, 0, 2, [0, 1], True),
        (5, 2, 2, [4], False),  # the last, partial page
        (5, 3, 2, [], False),  # past the end
        (10**15, 10**9, 3, [3 * 10**9, 3 * 10**9 + 1, 3 * 10**9 + 2], True),
    ],
)
def test_the_page_asked_for(total: int, page: int, size: int, shown: list[int], more: bool) -> None:
    found = legacy_list(nth, total, PATH, {"Category": "event-streams"}, PageRequest(size, page, ""))
    assert [r["index"] for r in found["usage_records"]] == shown
    assert (found["next_page_uri"] is not None) == more
    assert (found["previous_page_uri"] is not None) == (page > 0)
    assert found["start"] == page * size


def test_a_huge_list_costs_what_its_page_costs() -> None:
    tracemalloc.start()
    began = time.monotonic()
    try:
        legacy_list(nth, 10**15, PATH, {}, PageRequest(1000, 5, ""))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20  # a thousand small records, not 10**15
    assert time.monotonic() - began < 2
