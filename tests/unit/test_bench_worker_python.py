"""`devkit.bench_worker_python` measures the worker's real per-event path: every message
read is delivered, acknowledged and recorded, and each trial gives a CPU time per event."""

from __future__ import annotations

import pytest

from devkit.bench_worker_python import measure

pytestmark = pytest.mark.unit


async def test_each_trial_gives_the_cpu_time_per_delivered_event() -> None:
    per_event = await measure(trials=2, events=300, read=48, write_every=100)
    assert len(per_event) == 2 and all(us > 0 for us in per_event)
