"""devkit's NATS cluster makes passwords nats-server's config reads as strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.nats_cluster import NatsCluster

pytestmark = pytest.mark.unit


def test_generated_passwords_start_with_a_letter(tmp_path: Path) -> None:
    # An unquoted `$VARIABLE` whose value starts with a digit is parsed as a number by
    # nats-server ("Expected a digit but got 'Q'") and the node exits: a flaky cluster.
    for _ in range(200):
        cluster = NatsCluster(tmp_path, None, nodes=[object()])  # type: ignore[list-item]
        assert cluster.passwords and all(p[0].isalpha() and p.isalnum() for p in cluster.passwords.values())
