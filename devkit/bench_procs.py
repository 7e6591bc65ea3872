"""What every process the bench runs costs, read from /proc: resident memory sampled through
the whole bench (the highest VmRSS seen, and the kernel's high-water mark VmHWM), and CPU
time, so that each measurement can say which process was busy — and how busy the rest of
the machine was (other work on a shared machine skews every figure)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KIB_PER_MB = 1024.0
TICKS = os.sysconf("SC_CLK_TCK")
OTHER = "other processes (not the bench's)"


def proc_status_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid` in KiB (empty once the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def _stat_fields(pid: int) -> list[str] | None:
    """`/proc/<pid>/stat` after the command name (which may hold spaces), or None once gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds `pid` has used (None once it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime: fields 14 and 15


def proc_system_seconds(pid: int) -> float | None:
    """The part of `pid`'s CPU spent in the kernel on its behalf: system calls, and on
    loopback the receiving side's network stack too (None once it is gone)."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[12]) / TICKS  # stime: field 15


def proc_wakeups(pid: int) -> int | None:
    """Voluntary context switches of all `pid`'s threads so far: each is a thread that went to
    sleep waiting (for a socket, a timer, a lock) and had to be woken again — at low rates the
    thing every message costs (None once it is gone)."""
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return None
    for task in tasks:
        try:
            text = (task / "status").read_text()
        except OSError:
            continue  # a thread that ended meanwhile
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                total += int(line.split()[1])
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    return (user + nice + system + irq + softirq + steal) / TICKS


@dataclass
class Peak:
    pid: int
    max_rss_kib: int = 0
    hwm_kib: int = 0
    last_rss_kib: int = 0
    cpu_seconds: float = 0.0
    samples: int = 0

    def report(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "max_rss_mb": round(self.max_rss_kib / KIB_PER_MB, 1),
            "hwm_mb": round(self.hwm_kib / KIB_PER_MB, 1),
            "last_rss_mb": round(self.last_rss_kib / KIB_PER_MB, 1),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "samples": self.samples,
        }


@dataclass
class CpuWindow:
    """CPU used per process during one measurement, in cores (CPU seconds / wall seconds),
    and the events it delivered (set by the measurement: CPU per event is the figure that
    survives a noisy machine)."""

    wall_seconds: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)
    events: int = 0


class ProcessWatch:
    """A daemon thread sampling every watched process each `interval` seconds; processes can
    be added while it runs (e.g. a floor consumer)."""

    def __init__(self, interval: float = 0.5) -> None:
        self._interval = interval
        self._peaks: dict[str, Peak] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proc-sampler", daemon=True)
        self.windows: dict[str, CpuWindow] = {}

    def watch(self, name: str, pid: int) -> None:
        with self._lock:
            self._peaks[name] = Peak(pid)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, dict[str, Any]]:
        self.sample()
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            return {name: peak.report() for name, peak in self._peaks.items()}

    def sample(self) -> None:
        with self._lock:
            peaks = list(self._peaks.values())
        for peak in peaks:
            status = proc_status_kib(peak.pid)
            cpu = proc_cpu_seconds(peak.pid)
            if not status or cpu is None:
                continue
            peak.samples += 1
            peak.cpu_seconds = cpu
            peak.last_rss_kib = status.get("VmRSS", 0)
            peak.max_rss_kib = max(peak.max_rss_kib, peak.last_rss_kib)
            peak.hwm_kib = max(peak.hwm_kib, status.get("VmHWM", 0))

    def cpu_now(self) -> dict[str, float]:
        with self._lock:
            pids = {name: peak.pid for name, peak in self._peaks.items()}
        found = {name: proc_cpu_seconds(pid) for name, pid in pids.items()}
        return {name: seconds for name, seconds in found.items() if seconds is not None}

    @contextmanager
    def window(self, name: str) -> Iterator[CpuWindow]:
        """Record the cores each process (and the rest of the machine) used meanwhile; the
        caller sets the window's `events` (delivered) when it knows them."""
        measured = CpuWindow()
        before, busy_before, started = self.cpu_now(), machine_busy_seconds(), time.monotonic()
        try:
            yield measured
        finally:
            after, busy_after = self.cpu_now(), machine_busy_seconds()
            wall = max(time.monotonic() - started, 1e-9)
            cores = {n: (after[n] - before.get(n, 0.0)) / wall for n in after}
            ours = sum(after[n] - before.get(n, 0.0) for n in after)
            cores[OTHER] = max(0.0, (busy_after - busy_before) - ours) / wall
            measured.wall_seconds = wall
            measured.cores = {n: round(c, 3) for n, c in cores.items()}
            self.windows[name] = measured

    def take_windows(self) -> dict[str, dict[str, Any]]:
        """The windows recorded since the last call, as reported (and forgotten here)."""
        taken, self.windows = self.windows, {}
        return {
            name: {"wall_seconds": round(w.wall_seconds, 3), "cores": w.cores, "events": w.events}
            for name, w in taken.items()
        }

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()
