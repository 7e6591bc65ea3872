"""The delivery worker's rooms import downward only, and no service imports another.

A room may import the rooms below it and the modules of its own room, never one beside or
above it: what calls back up (the parking stream bringing events back to the lanes, the
intake handing messages to them) does so through a port its own room declares, wired in
`app.build`. The order, lowest first:

    base       errors, models, settings, directory, partitions, leaders, former_consumer,
               sinks/
    intake     the pull and the decoded message (Envelope), the worker's room
    settling   decide, settle, the delivery log's writer, usage, metrics
    scheduling the per-sink lanes (Dispatcher): allowance, sending, hand-off, reports,
               batching, throttle, fleet, the sink call
    outage     the parking stream, the hold watch, when a down sink is probed
    ordered    the ordered sinks' lanes and per-key queues
    reads      records, health, replay, the gRPC servicer
    errorlog   the sinks' failures counted into groups and published as error-log events
               (it reads the alerts' levels; nothing below it knows of it: the root hands
               its tally to the settler as a settle observer)
    root       app (the composition root), __main__

Rooms on one line of `ORDER` are peers: neither imports the other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.unit.test_product_imports import ROOT, imported

pytestmark = pytest.mark.unit

DELIVERY = ROOT / "services" / "delivery"
BASE = {"errors", "models", "settings", "directory", "partitions", "leaders", "former_consumer", "sinks"}
ORDER: list[set[str]] = [
    BASE,
    {"intake"},
    {"settling"},
    {"scheduling"},
    {"outage", "ordered"},
    {"reads"},
    {"errorlog"},
    {"root"},
]
TIER = {room: tier for tier, rooms in enumerate(ORDER) for room in rooms}
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def room_of(path: Path) -> str:
    """A module's room: its sub-package, or for a top-level module its own name."""
    inside = path.relative_to(DELIVERY).parts
    if len(inside) > 1:
        return inside[0]
    return "root" if path.stem in {"app", "__main__"} else path.stem


def delivery_modules() -> list[Path]:
    return [
        p
        for p in sorted(DELIVERY.rglob("*.py"))
        if "migrations" not in p.parts and p.relative_to(DELIVERY).parts != ("__init__.py",)
    ]


def test_every_delivery_module_has_a_room() -> None:
    """A new module or sub-package is placed in `ORDER` (and so checked) before it lands."""
    assert sorted({room_of(p) for p in delivery_modules()} - TIER.keys()) == []


def modules_imported(path: Path) -> list[tuple[str, int]]:
    """`imported`, with `from services.delivery import x` read as importing module x."""
    found = list(imported(path))
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "services.delivery":
            found += [(f"services.delivery.{alias.name}", node.lineno) for alias in node.names]
    return found


def test_the_delivery_rooms_import_downward_only() -> None:
    upward = []
    for path in delivery_modules():
        room = room_of(path)
        for name, line in modules_imported(path):
            parts = name.split(".")
            if parts[:2] != ["services", "delivery"] or len(parts) < 3:
                continue
            target = "root" if parts[2] in {"app", "__main__"} else parts[2]
            if target == room or (room in BASE and target in BASE):
                continue
            if TIER.get(target, len(ORDER)) >= TIER[room]:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({room}) imports {name} ({target})")
    assert upward == []


def test_no_service_imports_another_service_or_the_dev_kit() -> None:
    """Services meet in runtime/, proto/ and the stream, never in each other's code."""
    crossing = []
    for service in SERVICES:
        for path in sorted((ROOT / "services" / service).rglob("*.py")):
            for name, line in imported(path):
                parts = name.split(".")
                other = parts[0] == "services" and len(parts) > 1 and parts[1] != service
                if other or parts[0] in {"devkit", "tests"}:
                    crossing.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert crossing == []


def test_one_module_calls_a_sink() -> None:
    """A sink is called, and its failure mapped, in one place (scheduling/calls.py) for the
    lanes and the ordered lanes alike: a second copy would drift in how it maps a failure."""
    calling = []
    for path in delivery_modules():
        if room_of(path) == "sinks":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in {"deliver", "prepare"}:
                    calling.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert [c for c in calling if not c.startswith("services/delivery/scheduling/calls.py")] == []
    assert calling, "the sink call moved: point this test at it"
