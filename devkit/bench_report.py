"""The bench's outputs: a printed table, bench-results/results.json and the latency chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devkit.bench_procs import OTHER

WIDTH = 44


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _row(label: str, *cells: Any, widths: tuple[int, ...] = (10, 10, 12, 12)) -> str:
    parts = [f"{_num(c):>{w}}" for c, w in zip(cells, widths, strict=False)]
    return f"  {label:<{WIDTH}}" + "".join(parts)


def _throughput_row(label: str, figures: dict[str, Any]) -> str:
    received = figures.get("received", figures.get("events"))
    note = "" if figures.get("complete", True) else f"  (incomplete: {received:,}/{figures['target']:,})"
    return (
        _row(
            label,
            received,
            figures["seconds"],
            figures["events_per_second"],
            figures.get("events_per_request"),
        )
        + note
    )


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    single = results.get("throughput", {}).get("one_per_request", {}).get("events_per_second")
    floors = results.get("floor", [])
    slow = results.get("slow_sink", {})
    alone = slow.get("without", {}).get("events_per_second")
    figures: dict[str, float | None] = {
        f"one_per_request_over_floor_{f['in_flight']}": _ratio(single, f["events_per_second"]) for f in floors
    }
    figures["healthy_with_timing_out_over_alone"] = _ratio(
        slow.get("with", {}).get("events_per_second"), alone
    )
    figures["healthy_with_timing_out_own_traffic_over_alone"] = _ratio(
        slow.get("with_own_traffic", {}).get("events_per_second"), alone
    )
    figures["healthy_with_second_healthy_over_alone"] = _ratio(
        slow.get("with_healthy", {}).get("events_per_second"), alone
    )
    figures["healthy_with_timing_out_over_with_second_healthy"] = _ratio(
        slow.get("with", {}).get("events_per_second"),
        slow.get("with_healthy", {}).get("events_per_second"),
    )
    return figures


def throughput_lines(results: dict[str, Any]) -> list[str]:
    lines = ["End-to-end throughput (first publish → last receipt)"]
    lines.append(_row("", "events", "seconds", "events/s", "events/req"))
    throughput = results.get("throughput", {})
    if "batched" in throughput:
        lines.append(_throughput_row("webhook sink, batch_events=true", throughput["batched"]))
    if "one_per_request" in throughput:
        lines.append(_throughput_row("webhook sink, batch_events=false", throughput["one_per_request"]))
    for floor in results.get("floor", []):
        label = f"floor: nats-py→fetch→aiohttp, {floor['in_flight']} in flight"
        lines.append(_row(label, floor["received"], floor["seconds"], floor["events_per_second"], 1.0))
    for floor in results.get("floor", []):
        ratio = results.get("ratios", {}).get(f"one_per_request_over_floor_{floor['in_flight']}")
        label = f"batch_events=false / floor ({floor['in_flight']} in flight)"
        lines.append(_row(label, "", "", _fmt_ratio(ratio)))
    publish = [(name, t["publish"]) for name, t in throughput.items()]
    if publish:
        lines.append("")
        lines.append("Router gRPC Publish during those runs (every event acknowledged by JetStream)")
        lines.append(_row("", "events", "seconds", "events/s", "call p99 ms"))
        for name, figures in publish:
            lines.append(
                _row(
                    f"{name}",
                    figures["events"],
                    figures["seconds"],
                    figures["events_per_second"],
                    figures["call_p99_ms"],
                )
            )
    return lines


def latency_lines(results: dict[str, Any]) -> list[str]:
    latency = results.get("latency")
    if not latency:
        return []
    overall = latency["overall"]
    offered = latency["publish"]
    return [
        f"First-attempt latency, {latency['rate']:,.0f} events/s offered for {latency['seconds']:.0f} s "
        "(producer send time → receiver, ms)",
        _row("", "p50", "p95", "p99", "max"),
        _row(
            "webhook sink, batch_events=false",
            overall["p50_ms"],
            overall["p95_ms"],
            overall["p99_ms"],
            overall["max_ms"],
        ),
        f"  offered {offered['events_per_second']:,.1f} events/s, received {latency['received']:,}/"
        f"{offered['events']:,} (duplicates {latency['duplicates']}), "
        f"Publish call p50/p99 {offered['call_p50_ms']}/{offered['call_p99_ms']} ms",
    ]


def slow_lines(results: dict[str, Any]) -> list[str]:
    slow = results.get("slow_sink")
    if not slow:
        return []
    found = results.get("ratios", {})
    own = slow.get("with_own_traffic")
    isolation = []
    if own:
        rate = own.get("timing_out_rate", 0)
        isolation = [
            _throughput_row(f"+ a timing-out sink fed {rate:.0f}/s of its own", own),
            _row(
                "ISOLATION: with timing-out (own traffic) / alone",
                "",
                "",
                _fmt_ratio(found.get("healthy_with_timing_out_own_traffic_over_alone")),
            ),
        ]
    return [
        "Healthy sink throughput beside a sink that always times out (same account)",
        _row("", "events", "seconds", "events/s", "events/req"),
        _throughput_row("healthy sink alone", slow["without"]),
        *isolation,
        "  the same type to both sinks (every event delivered twice: fan-out costs CPU):",
        _throughput_row("+ a second healthy sink (fan-out cost)", slow["with_healthy"]),
        _throughput_row("+ a timing-out sink instead", slow["with"]),
        _row("with timing-out / alone", "", "", _fmt_ratio(found.get("healthy_with_timing_out_over_alone"))),
        _row(
            "with timing-out / with second healthy",
            "",
            "",
            _fmt_ratio(found.get("healthy_with_timing_out_over_with_second_healthy")),
        ),
        f"  requests the timing-out sink received: {slow.get('slow_requests', 0):,}",
    ]


def memory_lines(results: dict[str, Any]) -> list[str]:
    memory = results.get("memory", {})
    if not memory:
        return []
    lines = [
        "Memory through the whole bench (MB), and CPU time",
        _row("", "max RSS", "VmHWM", "last RSS", "CPU s"),
    ]
    for name, figures in memory.items():
        lines.append(
            _row(
                name, figures["max_rss_mb"], figures["hwm_mb"], figures["last_rss_mb"], figures["cpu_seconds"]
            )
        )
    total = sum(f["max_rss_mb"] for f in memory.values())
    lines.append(_row("sum of maxima", round(total, 1), "", "", ""))
    return lines


CPU_COLUMNS = {
    "batched": "batched",
    "one_per_request": "1/req",
    "latency": "latency",
    "alone": "alone",
    "with_second_healthy": "+healthy",
    "with_timing_out": "+timeout",
    "with_timing_out_own": "+to own",
}


def cpu_lines(results: dict[str, Any]) -> list[str]:
    """Cores each process used during each measurement (CPU seconds / wall seconds)."""
    cpu = results.get("cpu", {})
    if not cpu:
        return []
    columns = [(key, CPU_COLUMNS.get(key, key.replace("floor_", "floor"))) for key in cpu]
    widths = tuple(9 for _ in columns)
    names: list[str] = []
    for window in cpu.values():
        names += [n for n in window["cores"] if n not in names]
    names.sort(key=lambda n: n == OTHER)  # the rest of the machine last
    lines = [
        f"CPU during each measurement (cores busy; {results['config']['cpus']} cores in all)",
        _row("", *(label for _, label in columns), widths=widths),
    ]
    for name in names:
        cells = [cpu[key]["cores"].get(name) for key, _ in columns]
        if any(cells):
            lines.append(_row(name, *(_cores(c) for c in cells), widths=widths))
    totals = [sum(cpu[key]["cores"].values()) for key, _ in columns]
    lines.append(_row("all", *(_cores(t) for t in totals), widths=widths))
    lines.append(_row("seconds measured", *(cpu[key]["wall_seconds"] for key, _ in columns), widths=widths))
    return lines


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(results: dict[str, Any]) -> str:
    config = results["config"]
    head = (
        f"Event Streams bench — {config['workers']} delivery worker(s), {config['cpus']} CPUs, "
        f"{'quick' if config['quick'] else 'full'} run, {results.get('duration_seconds', 0):.0f} s"
    )
    load = f"load average at start {config.get('loadavg_start')}, at end {results.get('loadavg_end')}"
    sections = [
        [head, "=" * len(head), load],
        throughput_lines(results),
        latency_lines(results),
        slow_lines(results),
        cpu_lines(results),
        memory_lines(results),
    ]
    return "\n\n".join("\n".join(s) for s in sections if s)


def write_json(results: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "results.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def write_chart(latency: dict[str, Any], directory: Path) -> Path | None:
    """p50/p95/p99 per second of the paced run, and events received per second."""
    series = latency.get("per_second", [])
    if not series:
        return None
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no chart (pip install matplotlib)")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = series[0]["second"]
    seconds = [row["second"] - first for row in series]
    figure, axis = plt.subplots(figsize=(10, 5))
    counts = axis.twinx()
    counts.bar(seconds, [row["count"] for row in series], color="#dddddd", width=0.8, label="events/s")
    counts.set_ylabel("events received per second")
    for pct, color in (("p50", "tab:blue"), ("p95", "tab:orange"), ("p99", "tab:red")):
        axis.plot(seconds, [row[f"{pct}_ms"] for row in series], marker=".", color=color, label=pct)
    axis.set_zorder(counts.get_zorder() + 1)
    axis.patch.set_visible(False)
    axis.set_xlabel("seconds into the run")
    axis.set_ylabel("latency, producer send → receiver (ms)")
    axis.set_title(f"First-attempt latency per second at {latency['rate']:,.0f} events/s offered")
    axis.set_ylim(bottom=0)
    axis.grid(True, alpha=0.3)
    axis.legend(loc="upper left")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "latency.png"
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
