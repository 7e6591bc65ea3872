"""The outbox survives its relay being killed (SIGKILL) mid-batch, again and again, on SQLite
and on PostgreSQL: every committed event reaches the real webhook receiver exactly once, the
events of a rolled-back transaction never do. The relay is a real process
(`python -m eventstreams_producer.relay`); one run kills itself right after a publish was
answered and before it marked the batch sent (the worst moment, on purpose), the others are
killed from outside at random moments while the outbox drains and the application keeps
writing. The test proves the republishing happened (the same positions published by two runs)
before asserting that JetStream's dedupe on the event id kept the receiver from a copy."""

from __future__ import annotations

import asyncio
import random
import re
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from devkit.receiver import Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, router_pb2_grpc
from eventstreams_producer.outbox import Outbox, unsent_count
from eventstreams_producer.outbox_table import create_outbox, outbox
from launcher.processes import Child, python_env, start
from runtime import db
from tests.conftest import database_url
from tests.producers import TYPE, all_arrived, data, subscribed

pytestmark = pytest.mark.e2e

BEFORE = 150  # committed before the first relay starts
DURING = 10  # transactions of PER_TRANSACTION written while relays run and die
PER_TRANSACTION = 15
KILLS_FROM_OUTSIDE = 4
BATCH = 10
PUBLISHED = re.compile(r"positions (\d+)-(\d+)")


def start_relay(suite: Suite, url: str, log_dir: Path, run: int, *extra: str) -> Child:
    argv = [sys.executable, "-m", "eventstreams_producer.relay", "--database-url", url]
    argv += ["--router", suite.target("router"), "--batch-size", str(BATCH), "--poll-seconds", "0.05", *extra]
    return start(
        f"relay-{run}", argv, python_env({"ES_SERVICE_TOKEN": suite.credential("producer")}), log_dir
    )


async def unsent(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return await unsent_count(connection)


async def settled(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        found = await connection.execute(
            select(func.count()).select_from(outbox).where(outbox.c.settled_at.is_not(None))
        )
        return int(found.scalar_one())


async def test_every_committed_event_arrives_once_through_relay_kills(
    suite: Suite,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    backend = request.node.callspec.params["suite"]
    url = database_url(backend, request, tmp_path, "shop")
    engine = db.create_engine(url)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"seed {seed}")
    await create_outbox(engine)
    warm = await subscribed(rest, router, receiver, account.sid)
    payload, version = data(account.sid)
    box = Outbox(account_sid=account.sid)
    sessions = async_sessionmaker(engine)
    committed: list[str] = []
    rolled_back: list[str] = []

    async def transaction(count: int, commit: bool = True) -> None:
        async with sessions() as session, session.begin() as txn:
            ids = [(await box.add(session, TYPE, payload, schema_version=version)).id for _ in range(count)]
            if not commit:
                await txn.rollback()
        (committed if commit else rolled_back).extend(ids)

    for _ in range(BEFORE // PER_TRANSACTION):
        await transaction(PER_TRANSACTION)
    await transaction(20, commit=False)

    async def keep_writing() -> None:  # the application goes on while relays come and go
        for index in range(DURING):
            await transaction(PER_TRANSACTION)
            if index == DURING // 2:
                await transaction(5, commit=False)
            await asyncio.sleep(0.1)

    logs = tmp_path / "relay-logs"
    runs: list[Child] = []
    writer = asyncio.create_task(keep_writing())
    try:
        # 1. Killed by itself between publish and mark, on its second batch.
        relay = start_relay(suite, url, logs, 0, "--crash-after-publish", "2")
        runs.append(relay)
        await asyncio.to_thread(relay.process.wait, 30)
        assert relay.process.returncode == -9, relay.tail()
        # 2. Killed from outside at random moments, while it drains.
        backlog_at_kill = []
        for run in range(1, KILLS_FROM_OUTSIDE + 1):
            before = await settled(engine)
            relay = start_relay(suite, url, logs, run)
            runs.append(relay)
            progress, deadline = rng.randint(15, 40), time.monotonic() + 20
            while await settled(engine) - before < progress and await unsent(engine):
                assert time.monotonic() < deadline, relay.tail()
                assert relay.alive(), relay.tail()
                await asyncio.sleep(0.01)
            await asyncio.sleep(rng.uniform(0, 0.03))
            backlog_at_kill.append(await unsent(engine))
            relay.kill()
            assert relay.process.returncode == -9
            print(f"run {run}: killed with {backlog_at_kill[-1]} unsent")
        assert any(backlog_at_kill), backlog_at_kill  # killed with work left, not idle
        # 3. A last one that drains what is left and exits (0).
        await writer
        relay = start_relay(suite, url, logs, KILLS_FROM_OUTSIDE + 1, "--drain")
        runs.append(relay)
        assert await asyncio.to_thread(relay.process.wait, 60) == 0, relay.tail()
        assert await unsent(engine) == 0
    finally:
        writer.cancel()
        for child in runs:
            child.kill()
        await engine.dispose()

    assert len(committed) == BEFORE + DURING * PER_TRANSACTION and len(rolled_back) == 25
    # The fault happened: some positions were published by two runs (the self-killed run's
    # second batch at least), so the receiver's single copies are JetStream's dedupe at work.
    per_run = [
        {p for m in PUBLISHED.finditer(child.log_path.read_text()) for p in range(int(m[1]), int(m[2]) + 1)}
        for child in runs
        if child.log_path is not None
    ]
    republished = set.union(*[a & b for i, a in enumerate(per_run) for b in per_run[i + 1 :]])
    assert len(republished) >= BATCH, per_run

    counts = await all_arrived(receiver, committed, settle=1.5)
    assert {i: counts[i] for i in committed} == dict.fromkeys(committed, 1)
    assert not set(rolled_back) & set(counts)
    assert set(counts) == {*committed, warm}
