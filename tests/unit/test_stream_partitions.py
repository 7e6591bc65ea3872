"""The partition of a sink's events: a pure function of its SID, the same in every process
(never Python's salted hash()), and the names of each partition's streams."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from runtime.jetstream import StreamSettings, StreamSpec, fnv1a_32, partition_of

pytestmark = pytest.mark.unit

SINKS = [f"DG{i:032x}" for i in range(3000)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0x811C9DC5), ("a", 0xE40C292C), ("foobar", 0xBF9CF968)],
)
def test_fnv1a_matches_the_published_vectors(text: str, expected: int) -> None:
    # The hash NATS's subject mapping partition(N, token) uses: a sink's partition is the
    # one the server's own mapping would choose.
    assert fnv1a_32(text.encode()) == expected


def test_one_partition_is_always_the_first() -> None:
    assert {partition_of(sink, 1) for sink in SINKS} == {0}


def test_sinks_spread_over_the_partitions() -> None:
    counts = Counter(partition_of(sink, 3) for sink in SINKS)
    assert set(counts) == {0, 1, 2}
    assert min(counts.values()) > len(SINKS) / 3 * 0.85


def test_the_partition_is_the_same_in_every_process() -> None:
    code = "from runtime.jetstream import partition_of as p; print([p(f'DG{i:032x}', 7) for i in range(50)])"
    seen = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        seen.add(run.stdout)
    assert seen == {str([partition_of(f"DG{i:032x}", 7) for i in range(50)]) + "\n"}


@pytest.mark.parametrize(
    ("index", "name", "subject", "archive", "ordered", "parked"),
    [
        (0, "EVENTS", "events.AC1.DG1", "EVENTS_ARCHIVE", "EVENTS_ORDERED", "EVENTS_PARKED"),
        (1, "EVENTS_P1", "events_p1.AC1.DG1", "EVENTS_P1_ARCHIVE", "EVENTS_P1_ORDERED", "EVENTS_P1_PARKED"),
        (2, "EVENTS_P2", "events_p2.AC1.DG1", "EVENTS_P2_ARCHIVE", "EVENTS_P2_ORDERED", "EVENTS_P2_PARKED"),
    ],
)
def test_each_partition_has_its_own_streams(
    index: int, name: str, subject: str, archive: str, ordered: str, parked: str
) -> None:
    part = StreamSpec(partitions=3).partition(index)
    assert part.name == name
    assert part.subject("AC1", "DG1") == subject
    assert (part.archive().name, part.ordered().name, part.parking().name) == (archive, ordered, parked)
    assert part.ordered().subject("AC1", "DG1") == f"ordered.{subject}"
    assert part.partitions == 1


def test_one_partition_keeps_todays_names_and_subjects() -> None:
    spec = StreamSettings().stream_spec()
    assert spec.partitions == 1
    assert [p.name for p in spec.split()] == ["EVENTS"]
    assert spec.for_sink("DG1").subject("AC1", "DG1") == "events.AC1.DG1"
    assert spec.for_sink("DG1").sink_filter("DG1") == "events.*.DG1"


def test_a_sinks_streams_are_its_partitions() -> None:
    spec = StreamSettings(stream_partitions=3).stream_spec()
    for sink in SINKS[:100]:
        part = spec.for_sink(sink)
        assert part == spec.split()[partition_of(sink, 3)]
        assert part.sink_filter(sink).startswith(part.subject_prefix + ".")


def test_partitions_are_counted_from_one() -> None:
    with pytest.raises(ValueError, match="partitions"):
        StreamSpec(partitions=0)
