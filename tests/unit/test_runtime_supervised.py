"""A service's background task that fails or ends is started again (with a growing pause),
never ends the process and never leaves its work undone."""

from __future__ import annotations

import asyncio

import pytest

from runtime.grpc_server import supervised

pytestmark = pytest.mark.unit


async def test_a_failing_background_task_is_started_again() -> None:
    runs: list[int] = []
    healthy = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("database is locked")
        if len(runs) == 2:
            return  # ended by itself: also a fault
        healthy.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(supervised("test", flaky, first_delay=0.01, max_delay=0.05))
    await asyncio.wait_for(healthy.wait(), timeout=5)
    assert len(runs) == 3
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_task_that_ends_while_the_service_stops_is_not_started_again() -> None:
    runs: list[int] = []
    stopping = asyncio.Event()

    async def drained() -> None:  # a worker's intake ends when it is drained
        runs.append(1)
        stopping.set()

    await asyncio.wait_for(supervised("test", drained, first_delay=0.01, stopping=stopping), timeout=5)
    assert runs == [1]
