"""The settings reference table of docs/reference/settings.md, generated from the services'
settings classes (`python -m devkit.settings_table` prints it,
`python -m devkit.settings_table docs/reference/settings.md` rewrites it there; a unit test
keeps the page in step)."""

from __future__ import annotations

import sys
from pathlib import Path

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


START, END = "<!-- settings:start -->\n", "\n<!-- settings:end -->"


def write_into(path: Path) -> None:
    """Replace the table between the settings markers of a Markdown file."""
    text = path.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    path.write_text(head + START + table() + END + tail)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        write_into(Path(sys.argv[1]))
    else:
        print(table())
