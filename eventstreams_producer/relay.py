"""OutboxRelay: publishes the outbox's unsent rows in position order, in batches, through the
SDK (same retries, same ids), and marks each row settled with the router's answer.

Crash-safe at every step, because an event's id is fixed when the application writes it:
- killed before publishing: the rows are still unsent; the next relay publishes them;
- killed after the router stored them but before they were marked: the next relay publishes
  the same ids again and JetStream drops the copies (Nats-Msg-Id from the id, a 120 s window:
  restart the relay within it — a process manager does — or a consumer may see a copy);
- killed while marking: the transaction rolls back: as the case above.
A rejected event (bad data, unknown type) is settled with its code and message, never retried;
an unavailable one stays unsent (`attempts`, `last_error`) and is tried again next pass.

PostgreSQL: a pass claims its rows with `SELECT … FOR UPDATE SKIP LOCKED` and holds them until
they are marked, so several relays can run (each takes rows the others have not). SQLite has no
row locks: run ONE relay per database (a second would publish the same rows again — harmless
for JetStream within the dedupe window, but wasted); there a pass reads and marks in two short
transactions so the application's writers are never held up by a publish.

    python -m eventstreams_producer.relay --database-url sqlite+aiosqlite:///app.db \
        --router 127.0.0.1:50053 [--service-token …] [--batch-size 100] [--create-table]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from eventstreams_producer.batching import MAX_BATCH
from eventstreams_producer.events import Event
from eventstreams_producer.grpc_transport import GrpcTransport
from eventstreams_producer.outbox_table import create_outbox, outbox
from eventstreams_producer.publishing import publish_with_retries
from eventstreams_producer.results import BatchResult, Outcome
from eventstreams_producer.retry import RetryPolicy
from eventstreams_producer.transport import Transport

log = logging.getLogger("eventstreams_producer.relay")

AfterPublish = Callable[[Sequence[Row[Any]], BatchResult], None]


@dataclass(frozen=True)
class Pass:
    """One batch's outcome: rows published, and how they were settled."""

    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    deferred: int = 0
    first: int = 0
    last: int = 0


def to_event(found: Row[Any]) -> Event:
    moment: datetime = found.event_time
    if moment.tzinfo is None:  # SQLite keeps no offset; it was written in UTC
        moment = moment.replace(tzinfo=UTC)
    return Event(
        found.event_id,
        found.account_sid,
        found.type,
        found.schema_version,
        found.source,
        moment,
        found.data_json,
    )


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        transport: Transport,
        *,
        batch_size: int = 100,
        poll_seconds: float = 0.2,
        retry: RetryPolicy | None = None,
        after_publish: AfterPublish | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch size must be 1..{MAX_BATCH}")
        self.engine = engine
        self.transport = transport
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retry = retry or RetryPolicy()
        self._after_publish = after_publish
        self.locking = engine.dialect.name == "postgresql"

    async def run_once(self) -> Pass:
        """Publish and settle one batch of unsent rows (Pass() when there were none)."""
        if self.locking:
            async with self.engine.begin() as connection:
                rows = await self._claim(connection)
                if not rows:
                    return Pass()
                batch = await self._publish(rows)
                return await self._settle(connection, rows, batch)
        async with self.engine.begin() as connection:
            rows = await self._claim(connection)
        if not rows:
            return Pass()
        batch = await self._publish(rows)
        async with self.engine.begin() as connection:
            return await self._settle(connection, rows, batch)

    async def drain(self) -> int:
        """Passes until one finds fewer rows than a batch or settles none (the router is
        unavailable: they stay for later); rows published, republished ones included."""
        total = 0
        while True:
            done = await self.run_once()
            total += done.rows
            if done.rows < self.batch_size or done.deferred == done.rows:
                return total

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set (a pass under way finishes first): passes back to back while
        there is a backlog, a poll every `poll_seconds` when idle, a growing pause after an
        error (the router or the database unreachable)."""
        failures = 0
        while not stop.is_set():
            try:
                done = await self.run_once()
                failures = 0
            except Exception as exc:
                failures += 1
                pause = min(30.0, self.poll_seconds * 2.0 ** min(failures, 8))
                log.warning("relay pass failed (%s); again in %.1fs", exc, pause)
                await _wait(stop, pause)
                continue
            if done.rows < self.batch_size:
                await _wait(stop, self.poll_seconds)

    async def _claim(self, connection: AsyncConnection) -> Sequence[Row[Any]]:
        query = (
            select(outbox)
            .where(outbox.c.settled_at.is_(None))
            .order_by(outbox.c.position)
            .limit(self.batch_size)
        )
        if self.locking:
            query = query.with_for_update(skip_locked=True)
        return (await connection.execute(query)).all()

    async def _publish(self, rows: Sequence[Row[Any]]) -> BatchResult:
        batch = await publish_with_retries(self.transport, [to_event(r) for r in rows], self.retry)
        if self._after_publish is not None:
            self._after_publish(rows, batch)
        return batch

    async def _settle(
        self, connection: AsyncConnection, rows: Sequence[Row[Any]], batch: BatchResult
    ) -> Pass:
        now = datetime.now(UTC)
        settled, deferred = [], []
        accepted = 0
        for found, result in zip(rows, batch.results, strict=True):
            kind = result.outcome
            if kind is Outcome.RETRY:
                deferred.append({"p": found.position, "error": f"{result.code}: {result.message}"})
                continue
            accepted += kind is Outcome.ACCEPTED
            settled.append(
                {"p": found.position, "code": result.code, "message": result.message or None, "at": now}
            )
        if settled:
            await connection.execute(
                update(outbox)
                .where(outbox.c.position == bindparam("p"), outbox.c.settled_at.is_(None))
                .values(
                    settled_at=bindparam("at"),
                    result_code=bindparam("code"),
                    result_message=bindparam("message"),
                ),
                settled,
            )
        if deferred:
            await connection.execute(
                update(outbox)
                .where(outbox.c.position == bindparam("p"))
                .values(attempts=outbox.c.attempts + 1, last_error=bindparam("error")),
                deferred,
            )
        done = Pass(
            rows=len(rows),
            accepted=accepted,
            rejected=len(settled) - accepted,
            deferred=len(deferred),
            first=rows[0].position,
            last=rows[-1].position,
        )
        log.info(
            "published positions %d-%d: %d accepted, %d rejected, %d deferred",
            done.first,
            done.last,
            done.accepted,
            done.rejected,
            done.deferred,
        )
        return done


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


# --- the command ------------------------------------------------------------------------


def engine_for(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        return create_async_engine(url, connect_args={"timeout": 30})
    return create_async_engine(url, pool_size=2, pool_pre_ping=True)


def crash_after(publishes: int) -> AfterPublish:
    """Fault injection for the crash tests: SIGKILL this process right after its Nth publish
    was answered, before the batch is marked sent — the worst moment."""
    seen = 0

    def hook(rows: Sequence[Row[Any]], batch: BatchResult) -> None:
        nonlocal seen
        seen += 1
        if seen >= publishes:
            log.warning(
                "crash-after-publish: positions %d-%d published, not marked",
                rows[0].position,
                rows[-1].position,
            )
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


async def serve(args: argparse.Namespace) -> None:
    engine = engine_for(args.database_url)
    transport = GrpcTransport(args.router, args.service_token, args.timeout)
    try:
        if args.create_table:
            await create_outbox(engine)
        relay = OutboxRelay(
            engine,
            transport,
            batch_size=args.batch_size,
            poll_seconds=args.poll_seconds,
            after_publish=crash_after(args.crash_after_publish) if args.crash_after_publish else None,
        )
        if args.drain:
            log.info("drained: %d rows", await relay.drain())
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info(
            "relay: %s -> %s, batches of %d", engine.url.render_as_string(), args.router, args.batch_size
        )
        await relay.run(stop)
    finally:
        await transport.close()
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eventstreams_producer.relay",
        description="Publish a transactional outbox's events through the router.",
    )
    parser.add_argument("--database-url", required=True, help="SQLAlchemy async URL of the outbox's database")
    parser.add_argument("--router", default="127.0.0.1:50053", help="the router's gRPC target")
    parser.add_argument(
        "--service-token",
        default=os.environ.get("ES_SERVICE_TOKEN", ""),
        help="the producer's credential (name.secret); default: $ES_SERVICE_TOKEN",
    )
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--poll-seconds", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=30.0, help="per Publish call, seconds")
    parser.add_argument("--create-table", action="store_true", help="create the outbox table when missing")
    parser.add_argument("--drain", action="store_true", help="exit once nothing is unsent")
    parser.add_argument("--crash-after-publish", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--log-level", default=os.environ.get("ES_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
