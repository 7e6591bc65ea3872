"""The workers' shared view of throttled sinks, table-driven: who holds a sink throttled,
the newest cap among them, this worker's share, and a worker gone silent."""

from __future__ import annotations

import pytest

from services.delivery.scheduling.fleet import Announcement, Peers

pytestmark = pytest.mark.unit

A, B = "DG" + "a" * 32, "DG" + "b" * 32


def peers(*heard: tuple[float, Announcement]) -> Peers:
    view = Peers("me", expiry=3.0)
    for at, announcement in heard:
        view.hear(announcement, at)
    return view


@pytest.mark.parametrize(
    ("heard", "shares", "newest"),
    [
        ([], {A: 1.0}, {}),  # alone: the whole cap
        ([(0.0, Announcement("w1", {}))], {A: 1.0}, {}),  # a worker that holds nothing throttled
        ([(0.0, Announcement("w1", {A: (100.0, 5.0)}))], {A: 0.5, B: 1.0}, {A: (100.0, 5.0)}),
        (
            [
                (0.0, Announcement("w1", {A: (100.0, 5.0), B: (100.0, 1.0)})),
                (0.0, Announcement("w2", {A: (99.0, 6.0)})),
                (0.0, Announcement("w3", {A: (98.0, 4.0)})),
            ],
            {A: 0.25, B: 0.5},
            {A: (99.0, 6.0), B: (100.0, 1.0)},  # the newest error's cap, not the lowest
        ),
        # A worker's own announcement, heard back, counts once (itself).
        ([(0.0, Announcement("me", {A: (100.0, 5.0)}))], {A: 1.0}, {}),
        # Only a worker's latest announcement counts: w1 no longer holds A throttled.
        ([(0.0, Announcement("w1", {A: (100.0, 5.0)})), (1.0, Announcement("w1", {}))], {A: 1.0}, {}),
    ],
)
def test_shares_and_the_newest_cap(
    heard: list[tuple[float, Announcement]], shares: dict[str, float], newest: dict[str, tuple[float, float]]
) -> None:
    view = peers(*heard)
    assert {sid: view.share(sid) for sid in shares} == shares
    assert view.newest == newest


def test_a_silent_worker_gives_its_share_back() -> None:
    view = peers((0.0, Announcement("w1", {A: (100.0, 5.0)})), (2.0, Announcement("w2", {A: (100.0, 5.0)})))
    view.expire(3.0)
    assert view.share(A) == pytest.approx(1 / 3)
    view.expire(3.5)  # w1: 3.5 s without a word
    assert view.share(A) == 0.5
    view.expire(6.0)
    assert (view.share(A), view.newest) == (1.0, {})


def test_the_version_moves_only_when_what_follows_changes() -> None:
    view = peers((0.0, Announcement("w1", {A: (100.0, 5.0)})))
    seen = view.version
    view.hear(Announcement("w1", {A: (100.0, 5.0)}), 1.0)  # the same, renewed
    view.expire(1.5)
    assert view.version == seen
    view.hear(Announcement("w1", {A: (99.0, 6.0)}), 2.0)  # a further cut
    assert view.version == seen + 1


def test_an_announcement_survives_the_wire() -> None:
    announcement = Announcement("w1", {A: (99.0, 1796625713.25)})
    assert Announcement.decode(announcement.encode()) == announcement
