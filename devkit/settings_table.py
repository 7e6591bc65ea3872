"""The settings reference table in README.md, generated from the services' settings classes
(`python -m devkit.settings_table` prints it; a unit test keeps the README in step)."""

from __future__ import annotations

from gateway.settings import Settings as GatewaySettings
from runtime.config import describe
from services.catalog.settings import Settings as CatalogSettings
from services.control.settings import Settings as ControlSettings
from services.delivery.settings import Settings as DeliverySettings
from services.router.settings import Settings as RouterSettings

SETTINGS = (CatalogSettings, ControlSettings, RouterSettings, DeliverySettings, GatewaySettings)


def table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    seen: set[str] = set()
    for cls in SETTINGS:
        for name, default, meaning in describe(cls):
            if name not in seen:
                seen.add(name)
                rows.append(f"| `{name}` | `{default}` | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
