"""The delivery worker's own Python per event, with no I/O: what the pipeline rows of `make
bench` measure through nats-server, HTTP and a busy 2-core machine, measured here in one
process on one core, so that a change to the worker's per-event code shows within a few
percent.

Each trial feeds `--events` JetStream messages, as nats-server writes them (HMSG lines with
the router's header block and a `$JS.ACK` reply subject, `--read` messages per socket
read), to the services' NATS client and parser, from which they go the real way: the
pull's hand-over, `Envelope.of`, the sink's lane (a batching webhook sink's limits), the
call — which the sink answers at once, no request made: the HTTP client and signing are
`bench_http_clients`' — then settling each event: its ack command written to the client's
buffer, the metrics and usage observers, its attempt record, and the delivery log's rows as
the SQLite driver gets them (`AttemptRows`), inserted into an in-memory SQLite table of the
delivery log's own shape. The CPU seconds of this process (`time.process_time`) per event.

    python -m devkit.bench_worker_python [--trials 9] [--events 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.client import Client
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.ext.asyncio import async_sessionmaker

from devkit.bench_load import EventFactory
from devkit.bench_stats import show, spread
from eventstreams.v1 import control_pb2
from runtime import db, stream_codec
from runtime.grpc_server import settle_garbage_collector
from runtime.jetstream import StreamSpec
from runtime.metrics import Metrics
from runtime.natsio.client import HeaderParsingClient
from runtime.routing import whole_table
from runtime.sids import AccountSid, EventId, SinkSid
from runtime.sink_configs import WebhookConfig
from runtime.sink_configs import parse as parse_config
from services.delivery.app import MIGRATIONS
from services.delivery.directory import SinkDirectory
from services.delivery.intake.room import Room
from services.delivery.intake.worker import Worker, bells
from services.delivery.scheduling.lane import LaneRules
from services.delivery.scheduling.lanes import Dispatcher
from services.delivery.settling.decision import RetryRules
from services.delivery.settling.journal import ATTEMPTS_TABLE, Attempt, AttemptRows, DeadLetter
from services.delivery.settling.metrics import DeliveryMetrics
from services.delivery.settling.settle import Settler
from services.delivery.settling.usage import UsageMeter
from services.delivery.sinks.base import Limits, Outcome, SinkEvent, SinkSpec
from services.delivery.sinks.webhook.driver import limits_for
from services.router.cloudevents import Fragment, encode, envelope

ACCOUNT = AccountSid("AC" + "1" * 32)
SINK = SinkSid("DG" + "1" * 32)
TYPE = "com.twilio.messaging.message.sent"
SID = 7  # the pull's subscription


@dataclass
class AnsweringSink:
    """A batching webhook sink's limits and sizes; every call delivered at once."""

    limits: Limits

    def size(self, event: SinkEvent) -> int:
        return len(event.payload)

    async def prepare(self) -> None:
        return None

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        return [Outcome(status=200)] * len(events)

    async def close(self) -> None:
        return None


class AnsweringDriver:
    sink_type = "webhook"

    def __init__(self, limits: Limits) -> None:
        self._sink = AnsweringSink(limits)

    def open(self, spec: SinkSpec) -> AnsweringSink:
        return self._sink

    async def close(self) -> None:
        return None


CONFIG = json.dumps({"destination": "https://example.com/events", "method": "POST", "batch_events": True})


def directory() -> SinkDirectory:
    config = parse_config("webhook", CONFIG)
    assert isinstance(config, WebhookConfig)
    driver = AnsweringDriver(limits_for(config))
    found = SinkDirectory({"webhook": driver})
    found.apply(
        whole_table(
            revision=1,
            accounts=[control_pb2.RoutedAccount(sid=ACCOUNT, auth_token="t")],
            sinks=[
                control_pb2.RoutedSink(
                    sid=SINK, account_sid=ACCOUNT, sink_type="webhook", configuration_json=CONFIG
                )
            ],
        )
    )
    return found


def frames(factory: EventFactory, events: int, read: int) -> list[bytes]:
    """`events` messages as nats-server writes them to a pulling worker, `read` to a read:
    the router's header block, its CloudEvent of the bench's event, a `$JS.ACK` reply."""
    subject = StreamSpec().subject(ACCOUNT, SINK)
    now_ns = time.time_ns()
    messages = []
    for sequence, event in enumerate(factory.batch(TYPE, events), start=1):
        block = stream_codec.header_block(
            stream_codec.StreamEvent(EventId(event.id), TYPE, revision=1),
            stream_codec.message_id(ACCOUNT, EventId(event.id), SINK),
        )
        payload = encode(
            envelope(
                event_id=event.id,
                type_name=TYPE,
                source=event.source,
                time="2026-12-02T19:00:00.000Z",
                dataschema=f"https://events-schemas.twilio.com/Messaging.MessageStatus/{event.schema_version}",
                data=Fragment(event.data_json.encode()),
            )
        )
        reply = f"$JS.ACK.EVENTS.delivery.1.{sequence}.{sequence}.{now_ns}.{events - sequence}"
        line = f"HMSG {subject} {SID} {reply} {len(block)} {len(block) + len(payload)}\r\n".encode()
        messages.append(line + block + payload + b"\r\n")
    return [b"".join(messages[i : i + read]) for i in range(0, len(messages), read)]


def connected_client() -> HeaderParsingClient:
    """The services' client as connected, its pull subscription in place: what it writes
    stays in its pending buffer (emptied by the bench), nothing is flushed."""
    nc = HeaderParsingClient()
    nc._status = Client.CONNECTED
    nc._subs[SID] = None  # type: ignore[assignment]  # only looked up: is it still subscribed?
    return nc


async def attempts_table() -> sqlite3.Connection:
    """An in-memory SQLite database with the delivery log's table and indexes, as the
    delivery service's migrations make them."""
    with tempfile.TemporaryDirectory() as directory:
        engine = db.create_engine(f"sqlite+aiosqlite:///{directory}/delivery.db")
        await db.migrate(engine, MIGRATIONS, "delivery_alembic_version")
        await engine.dispose()
        made = sqlite3.connect(f"{directory}/delivery.db")
        ddl = [sql for (sql,) in made.execute(SCHEMA, (ATTEMPTS_TABLE.name,))]
        made.close()
    database = sqlite3.connect(":memory:")
    for statement in ddl:
        database.execute(statement)
    return database


SCHEMA = "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type DESC"


class LogWriter:
    """The journal's side of it: attempts kept, then written as SqlJournal.flush writes
    them — the driver's own SQL and rows (AttemptRows.writes), in a transaction."""

    def __init__(self, database: sqlite3.Connection) -> None:
        self._database = database
        self._rows = AttemptRows(SQLiteDialect_aiosqlite())
        self.attempts: list[Attempt] = []

    def attempt(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    async def dead_letter(self, letter: DeadLetter) -> None:
        raise AssertionError(f"the bench's events are all delivered: {letter}")

    def write(self) -> int:
        taken, self.attempts = self.attempts, []
        rows = self._rows
        with self._database:
            for sql, parameters in rows.writes(taken):  # SQLite's: one row list per INSERT
                self._database.execute(sql, parameters)
        return len(taken)


async def measure(trials: int, events: int, read: int, write_every: int = 2000) -> list[float]:
    """CPU-µs per event of each trial: `events` messages read, delivered and settled."""
    found = directory()
    log = LogWriter(await attempts_table())
    metrics = Metrics("delivery")
    observers = (
        UsageMeter(async_sessionmaker(), found.owner, found.sink_type),
        DeliveryMetrics(metrics, found.sink_type),
    )
    settler = Settler(log, RetryRules(), None, found.owner, observers=observers)
    wakes = bells("EVENTS")
    room = Room(events, wakes)
    dispatcher = Dispatcher(found, settler, room, LaneRules())
    nc = connected_client()
    worker = Worker(nc, "EVENTS", "delivery", dispatcher, room, wakes)
    nc._direct[SID] = worker._pullers[0]._receive
    factory = EventFactory(ACCOUNT)
    settle_garbage_collector()  # as the service does once started
    per_event = []
    # The same messages every trial: what runs outside the measured window is the same for
    # any number of trials (devkit.instructions counts by differencing trials).
    reads = frames(factory, events, read)
    for trial in range(trials + 1):  # the first warms up
        written = 0
        started = time.process_time()
        for data in reads:
            await nc._ps.parse(data)
            await asyncio.sleep(0)  # the lanes' calls and their settling, between reads
            nc._pending.clear()
            nc._pending_data_size = 0
            if len(log.attempts) >= write_every:
                written += log.write()
        while room.held:
            await asyncio.sleep(0)
        written += log.write()
        elapsed = time.process_time() - started
        if written != events:
            raise SystemExit(f"{written} attempts recorded for {events} events")
        if trial:
            per_event.append(elapsed / events * 1e6)
    return per_event


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=9)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--read", type=int, default=48, help="messages per socket read")
    args = parser.parse_args()
    per_event = asyncio.run(measure(args.trials, args.events, args.read))
    print(
        f"worker Python per event, no I/O ({args.trials} trials of {args.events:,} events, batched "
        f"webhook sink): {show(spread(per_event), 2)} CPU-µs per event",
        flush=True,
    )


if __name__ == "__main__":
    main()
