"""`devkit.instructions` reads valgrind's instruction count and takes the window's share per
event: the difference of two runs that differ only by trials of the same events."""

from __future__ import annotations

import pytest

from devkit import instructions

pytestmark = pytest.mark.unit

CACHEGRIND = """==14087== Cachegrind, a high-precision tracing profiler
==14087== Command: python -m devkit.bench_router_python --trials 1 --calls 40
==14087==
==14087== I   refs:      2,732,639,114
"""


def test_the_count_is_read_from_valgrinds_summary() -> None:
    found = instructions.REFS.search(CACHEGRIND)
    assert found is not None and found.group(1) == "2,732,639,114"


def test_start_up_and_input_are_left_out_of_the_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = instructions.Bench("devkit.bench_router_python", ["--calls", "40"], 4_000)
    start_up, per_trial = 2_000_000_000, 4_000 * 100_000
    monkeypatch.setattr(instructions, "instructions", lambda b, trials: start_up + trials * per_trial)
    assert instructions.per_event(bench) == 100_000
