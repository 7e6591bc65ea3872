"""Partition leaders spread over the servers.

Each partition's streams have a Raft leader, and the leader takes the partition's every
write: partitions spread the load only while their leaders sit on different servers.
JetStream picks a leader when a stream is made and again when its leader is lost, and never
moves one back: after a server restarts it leads nothing while another leads two. So a
worker now and then reads where the leaders sit and, while one server leads at least two
more of a kind (work streams, archives, ordered streams) than another, asks the busiest
one's stream to step down in favour of the idlest (a preferred leader: JetStream ≥ 2.11).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nats.aio.client import Client

from runtime.natsio import api

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """Where one stream's replicas sit: its leader and every server holding it."""

    leader: str
    servers: frozenset[str]


def next_move(placements: Mapping[str, Placement]) -> tuple[str, str] | None:
    """(stream, server to lead it) that evens out the leaders of `placements` (streams of
    one kind), or None when no server leads two more than another that could take one."""
    servers = sorted({s for p in placements.values() for s in p.servers})
    if len(servers) < 2:
        return None
    led = {server: sorted(n for n, p in placements.items() if p.leader == server) for server in servers}
    busiest = max(servers, key=lambda s: (len(led[s]), s))
    for stream in led[busiest]:
        candidates = [s for s in placements[stream].servers if s != busiest]
        if not candidates:
            continue
        idlest = min(candidates, key=lambda s: (len(led[s]), s))
        if len(led[busiest]) - len(led[idlest]) >= 2:
            return stream, idlest
    return None


async def placements(nc: Client, streams: Sequence[str], timeout: float = 5.0) -> dict[str, Placement]:
    """Where each of `streams` is led now (a stream without a leader, or unreplicated, is left
    out: nothing to move)."""
    found: dict[str, Placement] = {}
    for stream in streams:
        cluster = (await api.stream_info(nc, stream, timeout)).get("cluster") or {}
        leader = cluster.get("leader")
        replicas = [r["name"] for r in cluster.get("replicas") or [] if r.get("current", True)]
        if leader and replicas:
            found[stream] = Placement(leader, frozenset([leader, *replicas]))
    return found


async def spread(nc: Client, groups: Sequence[Sequence[str]], timeout: float = 5.0) -> int:
    """One step-down per group at most; how many were asked."""
    moved = 0
    for group in groups:
        move = next_move(await placements(nc, group, timeout))
        if move is None:
            continue
        stream, server = move
        answer = await api.leader_stepdown(nc, stream, server, timeout)
        if answer.get("success"):
            log.info("stream %s: leader moved to %s (leaders spread over the servers)", stream, server)
            moved += 1
        else:
            log.info("stream %s: leader not moved: %s", stream, answer.get("error"))
    return moved


class LeaderSpread:
    """The worker's task: spread the partitions' leaders now and then (each worker does;
    the jitter keeps two from moving the same stream at once, and a move already made
    leaves nothing for the next)."""

    def __init__(
        self,
        nc: Client,
        groups: Sequence[Sequence[str]],
        every_seconds: float = 30.0,
        first_seconds: float = 3.0,
    ) -> None:
        self._nc = nc
        self._groups = [list(group) for group in groups if len(group) > 1]
        self._every = every_seconds
        # Soon after start (streams just made have elected their leaders by then): a new
        # deployment's leaders are where JetStream put them, often two on one server.
        self._first = first_seconds

    @property
    def needed(self) -> bool:
        """Whether there is anything to spread: one stream per group (one partition) has
        nowhere to move. A task that returned at once would be restarted for ever."""
        return bool(self._groups)

    async def run(self) -> None:
        await asyncio.sleep(self._first * random.uniform(1.0, 2.0))
        while True:
            try:
                await spread(self._nc, self._groups)
            except Exception as exc:  # the broker away, an election under way: next round
                log.debug("leaders not spread: %s", exc)
            await asyncio.sleep(self._every * random.uniform(0.5, 1.5))
