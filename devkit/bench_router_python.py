"""The router's own Python per event, with no I/O: what the rest of `make bench` measures
through gRPC, nats-server and a busy 2-core machine, measured here in one process on one
core, so that a change to the router's per-event code shows within a few percent.

Each trial decodes `--calls` serialised PublishRequests of `--batch` events (the producer
bench's event: com.twilio.messaging.message.delivered at its latest schema, one subscribed
webhook sink), runs `Publisher.publish` on each — the real catalogue's compiled schema, the
real routing table, the real wire formatting (`JetStreamBus._wire` and the HPUB framing
`Acks.send` writes), JetStream answering at once — and serialises each PublishResponse:
the CPU seconds of this process (`time.process_time`) per event. No gRPC, no socket, no
nats-server: those are the producer bench's call table and `bench_publish_modes`.

    python -m devkit.bench_router_python [--trials 9] [--calls 200] [--batch 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from devkit.bench_load import EventFactory
from eventstreams.v1 import control_pb2, router_pb2
from runtime.jetstream import StreamSpec
from runtime.natsio import publish
from runtime.routing import whole_table
from services.catalog import catalogue
from services.router.bus import JetStreamBus, OutMessage
from services.router.publishing import Publisher
from services.router.routing_table import RoutingTable
from services.router.schemas import SchemaCache, TypeInfo

ACCOUNT = "AC" + "1" * 32
SINK = "DG" + "1" * 32
TYPE = "com.twilio.messaging.message.delivered"
REPLY = "_INBOX.bench.0123456789"


class Catalogue:
    """The real catalogue's types and schema documents, in memory."""

    def __init__(self) -> None:
        self._types = {t.type: t for t in catalogue.event_types()}
        self._documents = {(s.schema_id, s.version): s.document for s in catalogue.schema_versions()}

    async def event_type(self, type_name: str) -> TypeInfo | None:
        seed = self._types.get(type_name)
        return TypeInfo(seed.type, seed.schema_id, seed.status) if seed is not None else None

    async def schema_version(self, schema_id: str, version: int) -> tuple[int, str] | None:
        chosen = version or catalogue.latest_version(schema_id)
        document = self._documents.get((schema_id, chosen))
        return (chosen, json.dumps(document)) if document is not None else None


class FormattingBus:
    """The bus's wire work (subject, header block, the HPUB command joined with the payload),
    every message acknowledged at once."""

    def __init__(self) -> None:
        self._bus = JetStreamBus.__new__(JetStreamBus)  # its _wire only: no connection
        self._bus._parts = [(StreamSpec(), StreamSpec().ordered())]
        self._bus._partition = {}

    async def put(self, messages: list[OutMessage]) -> list[BaseException | None]:
        frames = publish.Frames()
        for message in messages:
            subject, header_block, payload = self._bus._wire(message)
            frames.add(subject, REPLY, header_block, payload)
        frames.wire()
        return [None] * len(messages)


def routing_table() -> RoutingTable:
    table = RoutingTable()
    table.apply(
        whole_table(
            revision=1,
            accounts=[control_pb2.RoutedAccount(sid=ACCOUNT)],
            sinks=[
                control_pb2.RoutedSink(sid=SINK, account_sid=ACCOUNT, sink_type="webhook", status="active")
            ],
            subscriptions=[
                control_pb2.RoutedSubscription(
                    sid="DF" + "1" * 32,
                    account_sid=ACCOUNT,
                    sink_sid=SINK,
                    types=[control_pb2.TypeSelector(type=TYPE)],
                )
            ],
        )
    )
    return table


async def measure(trials: int, calls: int, batch: int) -> list[float]:
    publisher = Publisher(SchemaCache(Catalogue(), 3600.0), routing_table(), FormattingBus())
    factory = EventFactory(ACCOUNT)
    requests = [
        router_pb2.PublishRequest(events=factory.batch(TYPE, batch)).SerializeToString() for _ in range(calls)
    ]
    warm = (await publisher.publish(list(router_pb2.PublishRequest.FromString(requests[0]).events))).results
    if warm[0].code != 0 or warm[0].deliveries != 1:
        raise SystemExit(f"the bench's event was not routed: {warm[0]}")
    per_event = []
    for _ in range(trials):
        started = time.process_time()
        for raw in requests:
            response = await publisher.publish(list(router_pb2.PublishRequest.FromString(raw).events))
            response.SerializeToString()
        per_event.append((time.process_time() - started) / (calls * batch) * 1e6)
    return per_event


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=9)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    per_event = asyncio.run(measure(args.trials, args.calls, args.batch))
    print(
        f"router Python per event, no I/O ({args.trials} trials of {args.calls:,} Publish calls of "
        f"{args.batch}): {statistics.median(per_event):.2f} ({min(per_event):.2f}–{max(per_event):.2f}) "
        "CPU-µs per event",
        flush=True,
    )


if __name__ == "__main__":
    main()
