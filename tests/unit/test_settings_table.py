"""The README's settings table is the generated one: documentation cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.settings_table import table

pytestmark = pytest.mark.unit


def test_readme_settings_table_is_current() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    documented = readme.split("<!-- settings:start -->\n", 1)[1].split("\n<!-- settings:end -->", 1)[0]
    assert documented == table()
