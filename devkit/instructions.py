"""Instructions per event of the no-I/O benches, counted by valgrind: for a machine whose
CPU time is too noisy to compare two versions of the code by (this project's 2-core machine
switches between two speeds within seconds, and its CPU-µs per event moves ±30 % with it).

A bench runs twice under `valgrind --tool=cachegrind --cache-sim=no`, with one trial and with
three of the same events (each bench builds its input once, before its trials), and the
difference of the instructions the two executed, divided by two trials' events, leaves out
start-up, imports and building the input: the instructions per event of the measured
window, repeatable to well under 1 %. Instructions are not time (a C call, a cache miss, a branch
cost what they cost), but a change to Python per event shows in them.

    python -m devkit.instructions [router|worker ...]

Needs valgrind (not installed by the project: `apt install valgrind`). Slow: each bench runs
~30 times slower under it, about a minute a bench.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Bench:
    module: str
    size: list[str]  # the options that set one trial's size
    events: int  # a trial's events at that size


BENCHES = {
    "router": Bench("devkit.bench_router_python", ["--calls", "40"], 40 * 100),
    "worker": Bench("devkit.bench_worker_python", ["--events", "4000"], 4_000),
}
FEW, MORE = 1, 3  # trials

REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def instructions(bench: Bench, trials: int) -> int:
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    command += [sys.executable, "-m", bench.module, "--trials", str(trials), *bench.size]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = REFS.search(done.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no instruction count:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_event(bench: Bench) -> float:
    few, more = instructions(bench, FEW), instructions(bench, MORE)
    return (more - few) / ((MORE - FEW) * bench.events)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("benches", nargs="*", metavar="|".join(BENCHES), help="default: all")
    args = parser.parse_args()
    unknown = set(args.benches) - set(BENCHES)
    if unknown:
        parser.error(f"no bench {', '.join(sorted(unknown))}: {', '.join(BENCHES)}")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt install valgrind")
    for name in args.benches or BENCHES:
        print(f"{BENCHES[name].module}: {per_event(BENCHES[name]):,.0f} instructions per event", flush=True)


if __name__ == "__main__":
    main()
