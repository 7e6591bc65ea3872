"""The error log's part of a delivery worker, as the root wires it: the tally the settler
tells of every settlement, the task counting it into the groups, and the outbox relay that
publishes the entries through the router — with the worker's own credential, whose role
the router holds to this one event type (runtime/service_auth.py's PUBLISH_TYPES).

Nothing here is on the delivery path: the tally only counts in memory, the rest are tasks of
their own. A router that cannot be reached leaves the entries in the outbox, published when it
can be (by this worker's relay or another's); a database that cannot be reached leaves the
counts in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from eventstreams_producer import GrpcTransport
from eventstreams_producer.relay import OutboxRelay
from runtime import db
from services.delivery.errorlog.groups import ErrorLogGroups
from services.delivery.errorlog.tally import ErrorTally

# How often an idle relay looks for entries to publish.
RELAY_POLL_SECONDS = 0.5


class ErrorLog:
    def __init__(
        self,
        engine: AsyncEngine,
        router_target: str,
        service_token: str,
        owner_of: Callable[[str], str | None],
        interval_seconds: float,
        forget_after: timedelta,
    ) -> None:
        groups = ErrorLogGroups(db.sessionmaker(engine), interval_seconds)
        self.tally = ErrorTally(groups, owner_of, forget_after)
        self._transport = GrpcTransport(router_target, service_token)
        self._relay = OutboxRelay(engine, self._transport, poll_seconds=RELAY_POLL_SECONDS)
        self._stop = asyncio.Event()

    async def run_counting(self) -> None:
        await self.tally.run()

    async def run_relay(self) -> None:
        await self._relay.run(self._stop)

    async def drain(self) -> None:
        """Count what this worker saw (its entries then wait in the outbox for any relay)
        and stop publishing."""
        try:
            await self.tally.flush()
        finally:
            self._stop.set()

    async def close(self) -> None:
        await self._transport.close()
