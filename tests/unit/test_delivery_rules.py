"""The delivery worker's settings reach the rules its rooms are built with."""

from __future__ import annotations

import pytest

from services.delivery.app import lane_rules
from services.delivery.settings import Settings

pytestmark = pytest.mark.unit


def test_the_gather_of_a_batching_sinks_calls_is_a_setting() -> None:
    assert lane_rules(Settings()).gather_seconds == 0.004
    assert lane_rules(Settings(sink_gather_seconds=0.012)).gather_seconds == 0.012
    assert lane_rules(Settings(sink_gather_seconds=0)).gather_seconds == 0


def test_a_lanes_concurrency_and_buffers_come_from_the_settings() -> None:
    rules = lane_rules(Settings(sink_concurrency=7, sink_batch_concurrency=3, failing_sink_buffer=9))
    assert (rules.concurrency, rules.batch_concurrency, rules.failing_buffer) == (7, 3, 9)
