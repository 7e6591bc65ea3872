"""The settings reference page's table is the generated one: documentation cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.settings_table import table

pytestmark = pytest.mark.unit

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "settings.md"


def test_settings_reference_table_is_current() -> None:
    documented = (
        PAGE.read_text().split("<!-- settings:start -->\n", 1)[1].split("\n<!-- settings:end -->", 1)[0]
    )
    assert documented == table(), (
        "the settings table is out of date: python -m devkit.settings_table docs/reference/settings.md"
    )
