"""The shared bootstrap's collector settings (runtime/grpc_server.settle_garbage_collector)."""

from __future__ import annotations

import gc

import pytest

from runtime.grpc_server import YOUNG_COLLECTION_THRESHOLD, settle_garbage_collector

pytestmark = pytest.mark.unit


def test_what_start_built_is_frozen_and_young_collections_are_rarer() -> None:
    before = gc.get_threshold()
    try:
        settle_garbage_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, before[1], before[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
