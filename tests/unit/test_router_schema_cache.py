"""The router's schema cache forgets what the registry can change — a type's status, a
schema's latest version — when catalog's revision feed says so, and never keeps an answer
that was fetched before that."""

from __future__ import annotations

import asyncio
import json

from services.router.schemas import UNKNOWN, SchemaCache, TypeInfo

DOC = {"type": "object", "$id": "https://events-schemas.twilio.com/Acme.Order/{v}"}


class Catalog:
    def __init__(self) -> None:
        self.status = "available"
        self.latest = 1
        self.calls = 0
        self.hold: asyncio.Event | None = None

    async def event_type(self, type_name: str) -> TypeInfo | None:
        self.calls += 1
        status = self.status  # read now, answered after the hold: a stale answer
        if self.hold is not None:
            await self.hold.wait()
        return TypeInfo(type_name, "Acme.Order", status)

    async def schema_version(self, schema_id: str, version: int) -> tuple[int, str] | None:
        chosen = version or self.latest
        return chosen, json.dumps({**DOC, "$id": DOC["$id"].format(v=chosen)})


async def test_invalidate_forgets_statuses_and_latest_versions_within_the_ttl() -> None:
    catalog = Catalog()
    cache = SchemaCache(catalog, type_ttl_seconds=3600)
    assert (await cache.event_type("com.acme.order.created")).status == "available"  # type: ignore[union-attr]
    assert (await cache.schema("Acme.Order", 0)).version == 1  # type: ignore[union-attr]
    catalog.status, catalog.latest = "discontinued", 2
    assert (await cache.event_type("com.acme.order.created")).status == "available"  # type: ignore[union-attr]
    assert (await cache.schema("Acme.Order", 0)).version == 1  # type: ignore[union-attr]
    cache.invalidate()
    assert (await cache.event_type("com.acme.order.created")).status == "discontinued"  # type: ignore[union-attr]
    latest = await cache.schema("Acme.Order", 0)
    assert latest is not None and latest.version == 2 and latest.url.endswith("/Acme.Order/2")


async def test_an_answer_fetched_before_an_invalidation_is_not_kept() -> None:
    catalog = Catalog()
    cache = SchemaCache(catalog, type_ttl_seconds=3600)
    catalog.hold = asyncio.Event()
    in_flight = asyncio.create_task(cache.event_type("com.acme.order.created"))
    await asyncio.sleep(0)
    catalog.status = "discontinued"
    cache.invalidate()  # the feed's message arrives while the old answer is on its way
    catalog.hold.set()
    assert (await in_flight).status == "available"  # type: ignore[union-attr]
    catalog.hold = None
    assert (await cache.event_type("com.acme.order.created")).status == "discontinued"  # type: ignore[union-attr]
    assert catalog.calls == 2


async def test_the_cached_answers_are_the_fetched_ones_and_unknown_when_not_fresh() -> None:
    catalog = Catalog()
    cache = SchemaCache(catalog, type_ttl_seconds=3600)
    assert cache.cached_type("com.acme.order.created") is UNKNOWN
    assert cache.cached_schema("Acme.Order", 0) is UNKNOWN
    fetched = await cache.event_type("com.acme.order.created")
    latest = await cache.schema("Acme.Order", 0)
    assert cache.cached_type("com.acme.order.created") is fetched
    assert cache.cached_schema("Acme.Order", 0) is latest is cache.cached_schema("Acme.Order", 1)
    assert cache.cached_schema("Acme.Order", 2) is UNKNOWN  # never fetched
    cache.invalidate()
    assert cache.cached_type("com.acme.order.created") is UNKNOWN
    assert cache.cached_schema("Acme.Order", 0) is UNKNOWN  # the latest may have moved
    assert cache.cached_schema("Acme.Order", 1) is latest  # a version itself never changes
    stale = SchemaCache(catalog, type_ttl_seconds=0)
    await stale.event_type("com.acme.order.created")
    assert stale.cached_type("com.acme.order.created") is UNKNOWN  # past its time to live
