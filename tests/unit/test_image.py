"""The production image (Dockerfile) carries the product — every package `pip install .`
ships, the outbox relay's SDK and the launcher among them — and neither the dev kit nor the
tests. Read from the Dockerfile itself: no Docker engine is needed to check it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def copied() -> set[str]:
    """The sources of the Dockerfile's COPY lines (the last word is the destination)."""
    found: set[str] = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words and words[0] == "COPY" and not any(w.startswith("--from") for w in words):
            found |= set(words[1:-1])
    return found


def shipped_packages() -> set[str]:
    """The packages of the checkout's root the install ships (the generated gRPC code, from
    gen/, the image makes itself)."""
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    names = {re.sub(r"\*$", "", pattern) for pattern in found["include"]}
    return {name for name in names if (ROOT / name / "__init__.py").exists()}


def test_the_image_carries_every_product_package() -> None:
    product = shipped_packages()
    assert product >= {"eventstreams_producer", "launcher", "evs", "services", "gateway", "runtime"}
    assert product - copied() == set()


def test_the_image_leaves_the_dev_kit_and_the_tests_out() -> None:
    assert {"devkit", "tests", "."} & copied() == set()
