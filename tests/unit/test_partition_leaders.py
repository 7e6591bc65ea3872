"""Which partition leader moves where: a pure choice over where the leaders sit."""

from __future__ import annotations

import pytest

from services.delivery.leaders import LeaderSpread, Placement, next_move

pytestmark = pytest.mark.unit

ALL = frozenset({"n0", "n1", "n2"})


def led(*leaders: str, servers: frozenset[str] = ALL) -> dict[str, Placement]:
    return {f"P{i}": Placement(leader, servers) for i, leader in enumerate(leaders)}


@pytest.mark.parametrize(
    ("placements", "expected"),
    [
        (led("n0", "n1", "n2"), None),  # spread: nothing to do
        (led("n0", "n0", "n1"), ("P0", "n2")),  # n0 leads two, n2 none
        (led("n0", "n0", "n1", "n2"), None),  # two against one: as even as four go
        (led("n0", "n0", "n0"), ("P0", "n1")),  # all on one: the first to the idlest
        (led("n1", "n1", "n1"), ("P0", "n0")),
        (led("n0", "n0"), ("P0", "n1")),  # fewer streams than servers
        (led("n0"), None),
        (led("n0", "n0", "n0", servers=frozenset({"n0"})), None),  # nowhere else to go
        ({}, None),
    ],
)
def test_the_busiest_server_hands_a_stream_to_the_idlest(
    placements: dict[str, Placement], expected: tuple[str, str] | None
) -> None:
    assert next_move(placements) == expected


def test_only_a_server_holding_a_replica_takes_the_lead() -> None:
    placements = {
        "P0": Placement("n0", frozenset({"n0", "n1"})),
        "P1": Placement("n0", frozenset({"n0", "n2"})),
        "P2": Placement("n1", frozenset({"n1", "n2"})),
    }
    # n0 leads 2, n2 none: P0's replicas are n0, n1 (n1 leads one: 2 - 1 < 2); P1 can go to n2.
    assert next_move(placements) == ("P1", "n2")


def test_moves_until_spread() -> None:
    placements = led("n0", "n0", "n0")
    for _ in range(3):
        move = next_move(placements)
        if move is None:
            break
        stream, server = move
        placements[stream] = Placement(server, ALL)
    assert sorted(p.leader for p in placements.values()) == ["n0", "n1", "n2"]


@pytest.mark.parametrize(
    ("groups", "needed"),
    [
        ([["EVENTS"], ["EVENTS_ARCHIVE"], ["EVENTS_ORDERED"]], False),  # one partition: nowhere to move
        ([["EVENTS", "EVENTS_P1"], ["EVENTS_ARCHIVE", "EVENTS_P1_ARCHIVE"]], True),
    ],
)
def test_leaders_are_spread_only_where_there_are_partitions(groups: list[list[str]], needed: bool) -> None:
    # The worker runs the task only when needed: one that ends at once is restarted, and
    # logged as an error, every 30 s for ever.
    assert LeaderSpread(nc=None, groups=groups).needed is needed  # type: ignore[arg-type]
