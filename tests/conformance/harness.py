"""What the conformance suite's tier 2 (`suite.py`) asks of a sink type's harness: a fresh
destination, what arrived there, and faults on demand — so that one suite can hold every sink
type to the same behaviour. Each sink type's harness lives in its own test module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import httpx

from eventstreams.v1 import control_pb2, router_pb2_grpc

# The stream's own message limit (nats-server's max_payload): nothing larger reaches a worker.
STREAM_LIMIT = 1024 * 1024
# Every harness's timeout fault outlasts the suite's sink timeouts (1 s).
STALL_SECONDS = 2.5

FAULTS = ("throttle", "server", "reject", "timeout")


@dataclass(frozen=True)
class Expect:
    code: int
    retried: bool


class FaultProxy(Protocol):
    """A proxy between the platform and a sink's target that makes faults on demand."""

    def clear(self) -> None: ...

    async def down(self) -> None: ...

    async def up(self) -> None: ...


class BehindProxy:
    """Mixed into a harness whose sink reaches its target through the suite's fault proxy:
    clearing its faults, bringing it down and up, and closing are the proxy's."""

    proxy: FaultProxy

    def clear(self) -> None:
        self.proxy.clear()

    async def down(self) -> None:
        await self.proxy.down()

    async def up(self) -> None:
        await self.proxy.up()

    async def close(self) -> None:
        self.proxy.clear()
        await self.proxy.up()


class Harness(Protocol):
    name: str
    sink_type: str
    expect: dict[str, Expect]  # by fault, and "refused"
    partial_failures: bool  # the sink answers per event, so a call can fail in part
    max_event_bytes: int  # a CloudEvent larger than this is refused by the sink's limits
    max_call_bytes: int  # what one call may carry
    assumes_role: bool  # an AWS sink: its role must trust the account's issued ExternalId
    external_id: str  # that ExternalId, set before config()

    async def config(self) -> dict[str, Any]: ...

    def events(self) -> list[dict[str, Any]]:
        """The CloudEvents (id, type, data at least) that arrived, duplicates included."""
        ...

    def inject(self, fault: str, count: int | None = None) -> None: ...

    def clear(self) -> None: ...

    async def down(self) -> None: ...

    async def up(self) -> None: ...

    def calls_within_limits(self) -> bool: ...

    async def close(self) -> None: ...


class Case(NamedTuple):
    """What every conformance test works with: the sink type's harness, an account of its
    own with a REST client, and the router to publish through."""

    harness: Harness
    rest: httpx.AsyncClient
    router: router_pb2_grpc.RouterAsyncStub
    account: control_pb2.Account
