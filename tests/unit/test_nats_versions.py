"""Which nats-server releases lose the events a worker holds when they restart."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest
from nats.aio.client import ServerVersion

from runtime.jetstream import warn_if_unsafe
from runtime.nats_versions import loses_held_events, release

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("version", "loses"),
    [
        ("2.10.22", False),
        ("2.12.8", False),
        ("2.13.9", False),
        ("2.14.0", True),
        ("2.14.6", True),
        ("v2.15.1", True),
        ("2.15.1-RC.2", True),
        ("2.15.2", False),
        ("3.0.0", False),
        ("0.0.0-unknown", False),
        ("not a version", False),
    ],
)
def test_the_releases_that_lose_held_events(version: str, loses: bool) -> None:
    assert loses_held_events(version) is loses


def test_a_release_is_read_from_its_version_string() -> None:
    assert release("v2.12.8-RC.1") == (2, 12, 8)
    assert release("nightly") is None


@pytest.mark.parametrize(("version", "said"), [("2.15.1", True), ("2.12.8", False), ("0.0.0-unknown", False)])
def test_a_service_says_so_when_its_broker_loses_events(
    version: str, said: bool, caplog: pytest.LogCaptureFixture
) -> None:
    client = cast(Any, SimpleNamespace(connected_server_version=ServerVersion(version)))
    with caplog.at_level(logging.ERROR, logger="runtime.jetstream"):
        warn_if_unsafe(client)
    assert any("events are lost" in r.getMessage() for r in caplog.records) is said
