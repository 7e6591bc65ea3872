"""Printing: a plain table for people, JSON (`--json`) for scripts — the API's own objects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    shown = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in shown)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in shown]
    return "\n".join(lines)


def emit(as_json: bool, data: Any, columns: Sequence[str] = ()) -> None:
    """A list as a table of `columns`, one object as `key: value` lines; JSON as it came."""
    if as_json:
        click.echo(json.dumps(data, indent=2))
    elif isinstance(data, list):
        click.echo(table(data, columns) if data else "(none)")
    else:
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            click.echo(f"{key.ljust(width)}  {cell(value)}")
