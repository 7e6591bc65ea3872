"""The bench's outputs: a printed table, bench-results/results.json and the latency chart.

Every figure in the table is the median of its trials with their min–max (`median (min–max)`,
one value alone when the trials agree or there is one); ratios are taken within each trial
first. results.json holds every trial's raw figures ("trials") and the spreads ("summary").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devkit.bench_procs import OTHER
from devkit.bench_stats import pick, show, spread, summarise

WIDTH = 44
MEMORY_WIDTHS = (10, 10, 12, 12)
THROUGHPUT_WIDTHS = (24, 20, 20, 18, 18)
SECTIONS = (
    "throughput",
    "latency",
    "floor",
    "slow_sink",
    "kinesis",
    "segment",
    "aws",
    "brokers",
    "outage",
    "ratios",
    "cpu",
)


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _row(label: str, *cells: Any, widths: tuple[int, ...] = (24, 20, 20, 12)) -> str:
    parts = [f"{_num(c):>{w}}" for c, w in zip(cells, widths, strict=False)]
    return f"  {label:<{WIDTH}}" + "".join(parts)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def ratios(trial: Mapping[str, Any]) -> dict[str, float | None]:
    """One trial's ratios: both sides from the same trial."""
    single = (trial.get("throughput") or {}).get("one_per_request", {}).get("events_per_second")
    floors = trial.get("floor") or []
    slow = trial.get("slow_sink") or {}
    alone = slow.get("without", {}).get("events_per_second")
    figures: dict[str, float | None] = {
        f"one_per_request_over_floor_{f['in_flight']}": _ratio(single, f["events_per_second"]) for f in floors
    }
    # The same comparison in CPU per delivered event (≥ 1: the pipeline costs no more than
    # the bare consumer): the floor's core-µs over ours, within the trial.
    windows = trial.get("cpu") or {}
    ours = per_event_us(windows["one_per_request"]) if "one_per_request" in windows else None
    for f in floors:
        window = windows.get(f"floor_{f['in_flight']}")
        bare = per_event_us(window) if window is not None else None
        figures[f"floor_{f['in_flight']}_cpu_over_one_per_request"] = _ratio(bare, ours)
    if slow:
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
    kinesis = trial.get("kinesis") or {}
    if kinesis:
        figures["kinesis_over_moto_ceiling"] = _ratio(
            kinesis.get("sink", {}).get("events_per_second"),
            kinesis.get("moto_ceiling", {}).get("events_per_second"),
        )
    return figures


def summary(results: Mapping[str, Any]) -> dict[str, Any]:
    trials = results.get("trials", [])
    return {section: summarise(trials, section) for section in SECTIONS if any(section in t for t in trials)}


def median_latency_trial(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """The latency run of the trial whose p99 is the median one (for the chart)."""
    runs = [t["latency"] for t in results.get("trials", []) if t.get("latency")]
    if not runs:
        return None
    runs.sort(key=lambda r: r["overall"].get("p99_ms") or 0)
    return dict(runs[(len(runs) - 1) // 2])


class Figures:
    """Lookups into results["summary"]."""

    def __init__(self, results: Mapping[str, Any]) -> None:
        self.summary: Mapping[str, Any] = results.get("summary", {})
        self.trials: list[Mapping[str, Any]] = results.get("trials", [])

    def get(self, section: str, key: str) -> dict[str, Any] | None:
        found = self.summary.get(section, {}).get(key)
        return dict(found) if found else None

    def show(self, section: str, key: str, digits: int | None = None, missing: str = "-") -> str:
        return show(self.get(section, key), digits, missing)

    def has(self, section: str, prefix: str) -> bool:
        return any(k.startswith(prefix) for k in self.summary.get(section, {}))

    def incomplete(self, section: str, *path: str) -> str:
        flags = pick(self.trials, section, *path, "complete")
        bad = sum(1 for f in flags if f is False)
        return f"  (incomplete in {bad} of {len(flags)} trials)" if bad else ""


def _throughput_row(
    figures: Figures,
    label: str,
    section: str,
    key: str,
    per_request: bool = True,
    cpu: dict[str, Any] | None = None,
) -> str:
    prefix = f"{key}." if key else ""
    cells = [
        figures.show(section, f"{prefix}events_per_second", 0),
        figures.show(section, f"{prefix}seconds", 2),
    ]
    if per_request:
        cells.append(figures.show(section, f"{prefix}events_per_request", 1))
    if cpu is not None:
        cells.append(show(cpu, 0))
    path = key.split(".") if key else []
    return _row(label, *cells, widths=THROUGHPUT_WIDTHS) + figures.incomplete(section, *path)


def throughput_lines(results: Mapping[str, Any]) -> list[str]:
    figures = Figures(results)
    has_throughput = figures.has("throughput", "")
    floors = list(results["config"].get("floor_in_flight", [])) if figures.has("floor", "") else []
    if not has_throughput and not floors:
        return []
    lines = [
        "End-to-end throughput (first publish → last receipt); CPU: core-µs per delivered event of "
        "the pipeline (router + delivery + nats-server; a floor: its consumer + nats-server)"
    ]
    lines.append(_row("", "events/s", "seconds", "events/req", "CPU µs/ev", widths=THROUGHPUT_WIDTHS))
    for name, label in (
        ("batched", "webhook sink, batch_events=true"),
        ("one_per_request", "webhook sink, batch_events=false"),
    ):
        if figures.has("throughput", f"{name}."):
            row = _throughput_row(figures, label, "throughput", name, cpu=cpu_per_event(results, name))
            lines.append(row)
    for index, in_flight in enumerate(floors):
        label = f"floor: nats-py→fetch→aiohttp, {in_flight} in flight"
        lines.append(
            _row(
                label,
                figures.show("floor", f"{index}.events_per_second", 0),
                figures.show("floor", f"{index}.seconds", 2),
                "1.0",
                show(cpu_per_event(results, f"floor_{in_flight}"), 0),
                widths=THROUGHPUT_WIDTHS,
            )
        )
    if has_throughput:
        for in_flight in floors:
            label = f"batch_events=false / floor ({in_flight} in flight)"
            lines.append(_row(label, figures.show("ratios", f"one_per_request_over_floor_{in_flight}", 2)))
        for in_flight in floors:
            label = f"CPU/event: floor / batch_events=false ({in_flight})"
            ratio = figures.show("ratios", f"floor_{in_flight}_cpu_over_one_per_request", 2)
            lines.append(_row(label, ratio))
    if has_throughput:
        lines.append("")
        lines.append("Router gRPC Publish during those runs (every event acknowledged by JetStream)")
        lines.append(_row("", "events/s", "call p99 ms"))
        for name in ("batched", "one_per_request"):
            if figures.has("throughput", f"{name}."):
                lines.append(
                    _row(
                        name,
                        figures.show("throughput", f"{name}.publish.events_per_second", 0),
                        figures.show("throughput", f"{name}.publish.call_p99_ms", 0),
                    )
                )
    return lines


def sink_type_lines(results: Mapping[str, Any]) -> list[str]:
    figures = Figures(results)
    lines: list[str] = []
    if figures.has("kinesis", "sink."):
        shards = pick(figures.trials, "kinesis", "sink", "shards")
        callers = pick(figures.trials, "kinesis", "moto_ceiling", "callers")
        shard_count = next((s for s in shards if s), "?")
        caller_count = next((c for c in callers if c), "?")
        lines += [
            _throughput_row(
                figures,
                f"kinesis sink → moto, {shard_count} shards",
                "kinesis",
                "sink",
                per_request=False,
                cpu=cpu_per_event(results, "kinesis"),
            ),
            _throughput_row(
                figures,
                f"moto alone: PutRecords ×500, {caller_count} callers",
                "kinesis",
                "moto_ceiling",
                per_request=False,
            ),
            _row("kinesis sink / moto alone", figures.show("ratios", "kinesis_over_moto_ceiling", 2)),
        ]
    if figures.has("segment", ""):
        lines.append(
            _throughput_row(
                figures,
                "segment sink → Segment API stand-in",
                "segment",
                "",
                per_request=False,
                cpu=cpu_per_event(results, "segment"),
            )
        )
    for kind, title in (("sqs", "SQS"), ("sns", "SNS"), ("eventbridge", "EventBridge"), ("s3", "S3")):
        if figures.has("aws", f"{kind}."):
            cpu = cpu_per_event(results, f"aws_{kind}")
            label = f"{kind} sink → moto's {title}"
            lines.append(_throughput_row(figures, label, "aws", kind, per_request=False, cpu=cpu))
    if not lines:
        return []
    return [
        "Kinesis, Segment and AWS sinks (first publish → last record readable in moto / last message "
        "accepted); CPU: the pipeline's core-µs per delivered event",
        _row("", "events/s", "seconds", "CPU µs/ev", widths=THROUGHPUT_WIDTHS),
        *lines,
    ]


# The broker sinks' rows: (kind, title, the broker's process in the CPU tables — never
# "nats-server…", which is the pipeline's own).
BROKERS = (
    ("rabbitmq", "RabbitMQ", "rabbitmq broker"),
    ("nats", "NATS JetStream", "customer's nats"),
    ("kafka", "Apache Kafka", "kafka broker"),
)
BROKER_WIDTHS = (24, 20, 20, 16, 16)


def broker_lines(results: Mapping[str, Any]) -> list[str]:
    figures = Figures(results)
    lines: list[str] = []
    for kind, title, process in BROKERS:
        if figures.has("brokers", f"{kind}."):
            lines.append(
                _row(
                    f"{kind} sink → {title}",
                    figures.show("brokers", f"{kind}.events_per_second", 0),
                    figures.show("brokers", f"{kind}.seconds", 2),
                    show(cpu_per_event(results, f"brokers_{kind}"), 0),
                    show(cpu_per_event(results, f"brokers_{kind}", process), 0),
                    widths=BROKER_WIDTHS,
                )
                + figures.incomplete("brokers", kind)
            )
    if not lines:
        return []
    return [
        "Broker sinks into their real servers (first publish → the broker holding the last event); "
        "CPU: core-µs per delivered event of the pipeline (router + delivery + nats-server) and "
        "of the broker's own process",
        _row("", "events/s", "seconds", "ours µs/ev", "broker µs/ev", widths=BROKER_WIDTHS),
        *lines,
    ]


def latency_lines(results: Mapping[str, Any]) -> list[str]:
    figures = Figures(results)
    if not figures.has("latency", "overall."):
        return []
    config = results["config"]
    widths = (18, 18, 18, 18)
    return [
        f"First-attempt latency, {config['rate']:,.0f} events/s offered for "
        f"{config['latency_seconds']:.0f} s (producer send time → receiver, ms; the driver's send "
        "times against the receiver's receipts, to the hundredth)",
        _row("", "p50", "p95", "p99", "max", widths=widths),
        _row(
            "webhook sink, batch_events=false",
            *(figures.show("latency", f"overall.{p}_ms", 1) for p in ("p50", "p95", "p99", "max")),
            widths=widths,
        ),
        _row(
            "  its first second (warm-up)",
            *(figures.show("latency", f"warm_up.{p}_ms", 1) for p in ("p50", "p95", "p99", "max")),
            widths=widths,
        ),
        _row(
            "  after it (steady state)",
            *(figures.show("latency", f"steady.{p}_ms", 1) for p in ("p50", "p95", "p99", "max")),
            widths=widths,
        ),
        _row(
            "  steady, the receiver's own whole-ms reading",
            *(figures.show("latency", f"whole_ms.steady.{p}_ms", 1) for p in ("p50", "p95", "p99", "max")),
            widths=widths,
        ),
        f"  offered {figures.show('latency', 'publish.events_per_second', 1)} events/s, received "
        f"{figures.show('latency', 'received', 0)} (duplicates {figures.show('latency', 'duplicates', 0)}), "
        f"Publish call p50/p99 {figures.show('latency', 'publish.call_p50_ms', 1)}/"
        f"{figures.show('latency', 'publish.call_p99_ms', 1)} ms",
    ]


def slow_lines(results: Mapping[str, Any]) -> list[str]:
    figures = Figures(results)
    if not figures.has("slow_sink", "without."):
        return []
    rate = next((r for r in pick(figures.trials, "slow_sink", "with_own_traffic", "timing_out_rate") if r), 0)

    windows = {
        "without": "alone",
        "with_healthy": "with_second_healthy",
        "with": "with_timing_out",
        "with_own_traffic": "with_timing_out_own",
    }

    def row(label: str, key: str) -> str:
        cpu = cpu_per_event(results, windows.get(key, key))
        return _throughput_row(figures, label, "slow_sink", key, cpu=cpu)

    def ratio(label: str, key: str) -> str:
        return _row(label, figures.show("ratios", key, 2))

    return [
        "Healthy sink throughput beside a sink that always times out (same account); CPU: the "
        "pipeline's core-µs per event the healthy sink received",
        _row("", "events/s", "seconds", "events/req", "CPU µs/ev", widths=THROUGHPUT_WIDTHS),
        row("healthy sink alone", "without"),
        row(f"+ a timing-out sink fed {rate:.0f}/s of its own", "with_own_traffic"),
        ratio(
            "ISOLATION: with timing-out (own traffic) / alone",
            "healthy_with_timing_out_own_traffic_over_alone",
        ),
        "  the same type to both sinks (every event delivered twice: fan-out costs CPU):",
        row("+ a second healthy sink (fan-out cost)", "with_healthy"),
        row("+ a timing-out sink instead", "with"),
        ratio("with timing-out / alone", "healthy_with_timing_out_over_alone"),
        ratio("with timing-out / with second healthy", "healthy_with_timing_out_over_with_second_healthy"),
        f"  requests the timing-out sink received: {figures.show('slow_sink', 'slow_requests', 0)}",
    ]


def outage_lines(results: Mapping[str, Any]) -> list[str]:
    figures = Figures(results)
    if not figures.has("outage", ""):
        return []
    plan = results["config"]["outage"]
    never = f">{plan['give_up']:.0f}"
    widths = (18, 18, 18, 18, 24)
    lines = [
        f"Outage recovery: {plan['rate']:,.0f} events/s throughout; the receiver answers "
        f"{plan['status']} for {plan['outage']:.0f} s after {plan['steady']:.0f} s, publishing goes on "
        f"{plan['after']:.0f} s after recovery",
        "  (seconds after recovery; backlog = published before recovery, not arrived before the outage; "
        f"waiting stops {plan['give_up']:.0f} s after recovery; target: all within 60 s)",
        _row("", "backlog drained", "backlog median", "all caught up", "fresh p50", "missing", widths=widths),
    ]
    for mode, label in (
        ("batched", "webhook sink, batch_events=true"),
        ("one_per_request", "webhook sink, batch_events=false"),
    ):
        if not figures.has("outage", f"{mode}."):
            continue
        lines.append(
            _row(
                label,
                figures.show("outage", f"{mode}.backlog_drained_seconds", 1, never),
                figures.show("outage", f"{mode}.backlog_median_delay_seconds", 1, never),
                figures.show("outage", f"{mode}.all_caught_up_seconds", 1, never),
                figures.show("outage", f"{mode}.fresh_p50_seconds", 2),
                figures.show("outage", f"{mode}.missing", 0),
                widths=widths,
            )
        )
    return lines


def memory_lines(results: Mapping[str, Any]) -> list[str]:
    memory = results.get("memory", {})
    if not memory:
        return []
    lines = [
        "Memory through the whole bench (MB), and CPU time",
        _row("", "max RSS", "VmHWM", "last RSS", "CPU s", widths=MEMORY_WIDTHS),
    ]
    for name, figures in memory.items():
        lines.append(
            _row(
                name,
                figures["max_rss_mb"],
                figures["hwm_mb"],
                figures["last_rss_mb"],
                figures["cpu_seconds"],
                widths=MEMORY_WIDTHS,
            )
        )
    total = sum(f["max_rss_mb"] for f in memory.values())
    lines.append(_row("sum of maxima", round(total, 1), "", "", "", widths=MEMORY_WIDTHS))
    return lines


CPU_COLUMNS = {
    "batched": "batched",
    "one_per_request": "1/req",
    "latency": "latency",
    "alone": "alone",
    "with_second_healthy": "+healthy",
    "with_timing_out": "+timeout",
    "with_timing_out_own": "+to own",
    "kinesis": "kinesis",
    "moto_ceiling": "moto",
    "segment": "segment",
    "aws_sqs": "sqs",
    "aws_sns": "sns",
    "aws_eventbridge": "evbridge",
    "aws_s3": "s3",
    "brokers_rabbitmq": "rabbitmq",
    "brokers_nats": "nats",
    "brokers_kafka": "kafka",
    "outage_batched": "out bat",
    "outage_one_per_request": "out 1/r",
}


def cpu_lines(results: Mapping[str, Any]) -> list[str]:
    """Cores each process used during each measurement (CPU seconds / wall seconds), the
    median over the trials."""
    trials = [t.get("cpu") or {} for t in results.get("trials", [])]
    keys: list[str] = []
    for windows in trials:
        keys += [k for k in windows if k not in keys]
    if not keys:
        return []
    columns = [(key, CPU_COLUMNS.get(key, key.replace("floor_", "floor"))) for key in keys]
    widths = tuple(9 for _ in columns)
    names: list[str] = []
    for windows in trials:
        for window in windows.values():
            names += [n for n in window["cores"] if n not in names]
    names.sort(key=lambda n: n == OTHER)  # the rest of the machine last

    def median(key: str, name: str | None) -> float | None:
        values: list[float | None] = []
        for windows in trials:
            window = windows.get(key)
            if window is None:
                continue
            cores = window["cores"]
            values.append(sum(cores.values()) if name is None else cores.get(name))
        found: float | None = spread(values)["median"]
        return found

    lines = [
        "CPU during each measurement (cores busy, median of the trials; "
        f"{results['config']['cpus']} cores in all)",
        _row("", *(label for _, label in columns), widths=widths),
    ]
    for name in names:
        cells = [median(key, name) for key, _ in columns]
        if any(cells):
            lines.append(_row(name[:WIDTH], *(_cores(c) for c in cells), widths=widths))
    lines.append(_row("all", *(_cores(median(key, None)) for key, _ in columns), widths=widths))
    walls = [
        spread(pick(results.get("trials", []), "cpu", key, "wall_seconds"))["median"] for key, _ in columns
    ]
    lines.append(_row("seconds measured", *(_cores(w, 1) for w in walls), widths=widths))
    return lines


# What the pipeline is, per measurement: our processes (the router, the delivery workers and
# the nats-server they use); for a floor run, its bare consumer and the same nats-server. The
# bench driver (the producer's side), the receiver and catalog/control/gateway are not in it.
PIPELINE_PREFIXES = ("router", "delivery", "nats-server", "floor consumer")


def pipeline_process(name: str) -> bool:
    return name.startswith(PIPELINE_PREFIXES)


def per_event_us(window: Mapping[str, Any], name: str | None = None) -> float | None:
    """Core-microseconds per delivered event in one measurement window: one process's (name),
    or the pipeline's (None). None when the window delivered nothing."""
    events = window.get("events") or 0
    if events <= 0:
        return None
    cores: Mapping[str, float] = window.get("cores", {})
    if name is not None:
        if name not in cores:
            return None
        used = cores[name]
    else:
        used = sum(c for n, c in cores.items() if pipeline_process(n))
    return round(used * float(window["wall_seconds"]) / events * 1e6, 1)


def cpu_spreads(windows: list[dict[str, Any]], apart: tuple[str, ...] = ()) -> dict[str, Any]:
    """Over the trials' windows of one row: the pipeline's core-µs per event ("us_per_event")
    and each pipeline process's (nats-server last), then each of `apart` (processes outside
    the pipeline shown beside it), by name ("us_by_process")."""
    seen = dict.fromkeys(name for window in windows for name in window["cores"])
    ours = sorted((n for n in seen if pipeline_process(n)), key=lambda n: n.startswith("nats-server"))
    names = ours + list(apart)
    return {
        "us_per_event": spread([per_event_us(w) for w in windows]),
        "us_by_process": {name: spread([per_event_us(w, name) for w in windows]) for name in names},
    }


def cpu_per_event(results: Mapping[str, Any], key: str, name: str | None = None) -> dict[str, Any]:
    """The spread over the trials of a window's core-µs per event (see per_event_us)."""
    values = []
    for trial in results.get("trials", []):
        window = (trial.get("cpu") or {}).get(key)
        if window is not None:
            values.append(per_event_us(window, name))
    return spread(values)


def cpu_per_event_lines(results: Mapping[str, Any]) -> list[str]:
    """Core-µs per delivered event, by process, for every measurement that delivered events:
    steadier than events/s on a shared machine (a busy neighbour slows the run, but hardly
    changes what each event costs)."""
    trials = [t.get("cpu") or {} for t in results.get("trials", [])]
    keys: list[str] = []
    names: list[str] = []
    for windows in trials:
        for key, window in windows.items():
            if window.get("events") and key not in keys:
                keys.append(key)
            names += [n for n in window.get("cores", {}) if pipeline_process(n) and n not in names]
    if not keys:
        return []
    columns = [(key, CPU_COLUMNS.get(key, key.replace("floor_", "floor"))) for key in keys]
    widths = tuple(9 for _ in columns)
    lines = [
        "CPU per delivered event (core-µs, median of the trials): the pipeline is router + delivery "
        "+ nats-server (a floor run: its bare consumer + nats-server)",
        _row("", *(label for _, label in columns), widths=widths),
        _row("pipeline", *(_us(cpu_per_event(results, key)) for key, _ in columns), widths=widths),
    ]
    for name in names:
        cells = [cpu_per_event(results, key, name) for key, _ in columns]
        if any(c.get("median") for c in cells):
            lines.append(_row(f"  {name}"[:WIDTH], *(_us(c) for c in cells), widths=widths))
    return lines


def _us(figure: Mapping[str, Any]) -> str:
    median = figure.get("median")
    return "-" if median is None else f"{median:,.0f}"


def _cores(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(results: Mapping[str, Any]) -> str:
    config = results["config"]
    trials = results.get("trials", [])
    head = (
        f"Event Streams bench — {config['workers']} delivery worker(s), {config['cpus']} CPUs, "
        f"{'quick' if config['quick'] else 'full'} run, {len(trials)} trial(s), "
        f"{results.get('duration_seconds', 0):.0f} s"
    )
    notes = [
        head,
        "=" * len(head),
        f"each figure: median (min–max) over {len(trials)} trial(s); ratios are taken within a trial first",
        f"load average at start {config.get('loadavg_start')}, at end {results.get('loadavg_end')}",
    ]
    for trial in trials:
        for phase, error in (trial.get("errors") or {}).items():
            notes.append(f"trial {trial['trial']}: {phase} failed: {error.splitlines()[0][:200]}")
    sections = [
        notes,
        throughput_lines(results),
        sink_type_lines(results),
        broker_lines(results),
        latency_lines(results),
        slow_lines(results),
        outage_lines(results),
        cpu_per_event_lines(results),
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
    """p50/p95/p99 per second of one paced run (the trial with the median p99), and events
    received per second."""
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
    axis.set_title(
        f"First-attempt latency per second at {latency['rate']:,.0f} events/s offered (the median-p99 trial)"
    )
    axis.set_ylim(bottom=0)
    axis.grid(True, alpha=0.3)
    axis.legend(loc="upper left")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "latency.png"
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
