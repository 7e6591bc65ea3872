"""`evs publish`: sample events of a catalogue type, published as a producer does — through
the producer SDK (eventstreams_producer) to the router's gRPC Publish, with the producer's
own credential."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from eventstreams_producer import AsyncProducer, Event, EventResult, make_event
from eventstreams_producer.codes import name
from services.catalog import catalogue

# Where `make run` keeps the producer's credential, under the folder it was started in.
PRODUCER_CREDENTIAL = Path("data") / "credentials" / "producer"


def producer_credential(cwd: Path, env: Mapping[str, str]) -> str:
    """ES_SERVICE_TOKEN, else make run's producer credential (data/ where it runs), else none
    (the router then says UNAUTHENTICATED)."""
    if env.get("ES_SERVICE_TOKEN"):
        return env["ES_SERVICE_TOKEN"]
    path = cwd / PRODUCER_CREDENTIAL
    return path.read_text().strip() if path.exists() else ""


def sample_events(account_sid: str, type_name: str, count: int, version: int = 0) -> list[Event]:
    """`count` events of a type the catalogue seeds, each with the catalogue's sample data
    for the version (the latest unless given), its account fields naming `account_sid`."""
    seed = next((t for t in catalogue.event_types() if t.type == type_name), None)
    if seed is None:
        raise LookupError(f"unknown event type {type_name}")
    version = version or catalogue.latest_version(seed.schema_id)
    events = []
    for _ in range(count):
        data = catalogue.sample_data(seed.schema_id, version)
        for key in ("accountSid", "account_sid", "AccountSid"):
            if key in data:
                data[key] = account_sid
        events.append(make_event(type_name, data, schema_version=version, account_sid=account_sid))
    return events


async def publish(router: str, credential: str, events: list[Event]) -> list[EventResult]:
    """Every event's final result (the SDK retries what the router could not store yet)."""
    async with AsyncProducer.connect(router, credential) as producer:
        return (await producer.publish(events)).results


def describe(result: EventResult) -> str:
    status = "OK" if result.code == 0 else name(result.code)
    return f"{result.id}: {status} deliveries={result.deliveries} {result.message}".rstrip()
