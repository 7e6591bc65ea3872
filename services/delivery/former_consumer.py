"""The workers' shared consumer under its former default name, retired.

The shared consumer was `delivery` by default; it is `DELIVERY` now, a name nats-server 2.14+
recovers before the replay archive's copying consumer (runtime/nats_versions.py). A
deployment that kept the default finds both: the new one made at start (delivering from the
first event the stream holds) and the old one, which nobody reads any more but whose
interest would keep every event it never acknowledged in the stream for ever. Once the new
consumer exists, the old one is deleted: the new one holds everything the stream still has,
so nothing is lost (what the old one was delivering may be delivered again)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)

FORMER_DEFAULT = "delivery"


async def retire(js: JetStreamContext, streams: Sequence[str], consumer: str) -> list[str]:
    """Delete `FORMER_DEFAULT` from each of `streams` where `consumer` (another name) reads
    it; the streams it was deleted from."""
    if consumer == FORMER_DEFAULT:
        return []
    retired = []
    for stream in streams:
        try:
            await js.consumer_info(stream, consumer)
            await js.consumer_info(stream, FORMER_DEFAULT)
        except NotFoundError:
            continue
        await js.delete_consumer(stream, FORMER_DEFAULT)
        retired.append(stream)
        log.warning(
            "stream %s: the shared consumer %r replaces %r, deleted (events it held are delivered again)",
            stream,
            consumer,
            FORMER_DEFAULT,
        )
    return retired
