"""`devkit.bench_router_python` measures the router's real per-event path: its event is
routed to its one sink, and each trial gives a CPU time per event."""

from __future__ import annotations

import pytest

from devkit.bench_router_python import measure

pytestmark = pytest.mark.unit


async def test_each_trial_gives_the_cpu_time_per_routed_event() -> None:
    per_event = await measure(trials=2, calls=3, batch=5)
    assert len(per_event) == 2 and all(us > 0 for us in per_event)
