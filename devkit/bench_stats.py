"""Repeated trials, summarised: every figure is reported as the median of its trials with
their min–max, and a ratio is taken within one trial (both sides measured minutes apart at
most, on the same machine state) before its median and min–max are.

A figure that a trial could not produce (a sink that never drained, a phase that failed) is
None there. `spread(..., none_is_worse=True)` counts such a trial as worse than every
measured one (so "the backlog never drained in 2 of 3 trials" moves the median), otherwise
it is left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def spread(values: Sequence[float | None], none_is_worse: bool = False) -> dict[str, Any]:
    """{"median", "min", "max", "n", "missing", "values"}: the median over the trials that
    have the figure; with `none_is_worse` a missing figure ranks above every measured one
    (a time that never ended), and the median is None when it falls on such a trial."""
    present = [float(v) for v in values if v is not None]
    missing = len(values) - len(present)
    ordered = sorted(present + ([math.inf] * missing if none_is_worse else []))
    median: float | None = None
    if ordered:
        half = len(ordered) // 2
        middle = ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2
        median = None if math.isinf(middle) else middle
    return {
        "median": _round(median),
        "min": _round(min(present)) if present else None,
        "max": _round(max(present)) if present else None,
        "n": len(values),
        "missing": missing,
        "values": [_round(v) for v in values],
    }


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    return round(value, 4)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, float | None]:
    """Every number in a nested result, by dotted path (lists by index); booleans and
    strings are left out."""
    out: dict[str, float | None] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, bool) or isinstance(value, str):
            continue
        if isinstance(value, int | float):
            out[path] = float(value)
        elif value is None:
            out[path] = None
        elif isinstance(value, Mapping):
            out.update(flatten(value, path + "."))
        elif isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
            for index, item in enumerate(value):
                out.update(flatten(item, f"{path}.{index}."))
    return out


# Long series and diagnostics, kept in the trials only.
SKIPPED = {"per_second", "timeline", "slowest_event_attempts", "slowest_events"}
# Figures where a missing value means "worse than anything measured".
WORSE_WHEN_MISSING = ("backlog_drained_seconds", "backlog_median_delay_seconds", "all_caught_up_seconds")


def summarise(trials: Sequence[Mapping[str, Any]], section: str) -> dict[str, dict[str, Any]]:
    """The spread of every numeric figure under `section` across the trials, by dotted path.
    Per-second series and other long lists are skipped (they are in the trials)."""
    per_trial = [flatten(_as_mapping(t.get(section))) for t in trials]
    keys: list[str] = []
    for figures in per_trial:
        keys += [k for k in figures if k not in keys]
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        if SKIPPED & set(key.split(".")):
            continue
        values = [figures.get(key) for figures in per_trial]
        worse = key.rsplit(".", 1)[-1] in WORSE_WHEN_MISSING
        out[key] = spread(values, none_is_worse=worse)
    return out


def _as_mapping(found: Any) -> Mapping[str, Any]:
    if isinstance(found, list):
        return {str(index): item for index, item in enumerate(found)}
    return found if isinstance(found, Mapping) else {}


def fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def digits_for(value: float | None) -> int:
    """Few digits for big numbers, more for small ones (events/s vs seconds vs ratios)."""
    if value is None:
        return 0
    magnitude = abs(value)
    if magnitude >= 100:
        return 0
    if magnitude >= 10:
        return 1
    return 2


def show(figure: Mapping[str, Any] | None, digits: int | None = None, missing: str = "-") -> str:
    """`median (min–max)`; one value alone when every trial agrees or there is one trial.
    Trials without the figure are named: `14.0 (12.5–14.0; 1 of 3 >180)`."""
    if not figure:
        return "-"
    median, low, high = figure.get("median"), figure.get("min"), figure.get("max")
    places = digits if digits is not None else digits_for(median if median is not None else high)
    head = missing if median is None else fmt(median, places)
    absent = int(figure.get("missing", 0))
    parts = []
    if low is not None and high is not None:
        low_text, high_text = fmt(low, places), fmt(high, places)
        if low_text != high_text:
            parts.append(f"{low_text}–{high_text}")
        elif absent or median is None:
            parts.append(low_text)
    if absent and low is not None:
        parts.append(f"{absent} of {figure.get('n', absent)} {missing}")
    return f"{head} ({'; '.join(parts)})" if parts else head


def pick(trials: Iterable[Mapping[str, Any]], *path: str | int) -> list[Any]:
    """The value at `path` in each trial (None where a trial lacks it)."""
    out = []
    for trial in trials:
        node: Any = trial
        for step in path:
            if isinstance(step, int):
                node = node[step] if isinstance(node, list) and len(node) > step else None
            else:
                node = node.get(step) if isinstance(node, Mapping) else None
            if node is None:
                break
        out.append(node)
    return out
