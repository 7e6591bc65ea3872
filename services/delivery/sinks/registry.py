"""Every registered sink type's driver: the delivery half of `runtime.sinks.registry`.

Each sink type's declaration names its driver's module; that module's `driver(settings)`
makes the driver. Imported by name here so that the declaration, which control and the
gateway read, imports no delivery code — and so adding a sink type is its packages and one
line in `runtime.sinks.registry`, not also a line here."""

from __future__ import annotations

import importlib
from typing import Protocol

from runtime.sinks import registry
from runtime.sinks.base import SinkType
from services.delivery.settings import Settings
from services.delivery.sinks.base import SinkDriver


class DriverFactory(Protocol):
    def __call__(self, settings: Settings) -> SinkDriver: ...


def factory(kind: SinkType) -> DriverFactory:
    module = importlib.import_module(kind.driver)
    made: DriverFactory = module.driver
    return made


def drivers(settings: Settings) -> dict[str, SinkDriver]:
    """Every sink type this worker delivers to, by name."""
    out: dict[str, SinkDriver] = {}
    for kind in registry.TYPES:
        driver = factory(kind)(settings)
        if driver.sink_type != kind.name:
            raise RuntimeError(f"{kind.driver}.driver made a {driver.sink_type!r} driver for {kind.name!r}")
        out[kind.name] = driver
    return out
