"""One harness per sink type: a fresh destination, what arrived there, and faults on demand —
so that one conformance suite can hold every sink type to the same behaviour."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from devkit.receiver import Received, Receiver
from tests.support import moto_server
from tests.support.kinesis_proxy import KinesisProxy
from tests.support.moto_server import MotoServer
from tests.support.segment_receiver import SegmentReceiver

# The stream's own message limit (nats-server's max_payload): nothing larger reaches a worker.
STREAM_LIMIT = 1024 * 1024
# Every harness's timeout fault outlasts the suite's sink timeouts (1 s).
STALL_SECONDS = 2.5

FAULTS = ("throttle", "server", "reject", "timeout")


@dataclass(frozen=True)
class Expect:
    code: int
    retried: bool


class Harness(Protocol):
    name: str
    sink_type: str
    expect: dict[str, Expect]  # by fault, and "refused"
    partial_failures: bool  # the sink answers per event, so a call can fail in part
    max_event_bytes: int  # a CloudEvent larger than this is refused by the sink's limits
    max_call_bytes: int  # what one call may carry

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


@dataclass
class WebhookHarness:
    batch: bool
    receiver: Receiver = field(default_factory=Receiver)
    accepted: list[Received] = field(default_factory=list)  # answered 2xx
    fault: str | None = None
    fault_count: int | None = None
    sink_type: str = "webhook"
    partial_failures: bool = False
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(91302, True),
            "server": Expect(91306, True),
            "reject": Expect(91305, False),
            "timeout": Expect(91308, True),
            "refused": Expect(91307, True),
        }
    )

    @property
    def name(self) -> str:
        return "webhook-batch" if self.batch else "webhook"

    @property
    def max_event_bytes(self) -> int:
        return 64 * 1024 - 2 if self.batch else STREAM_LIMIT

    @property
    def max_call_bytes(self) -> int:
        return 64 * 1024 if self.batch else STREAM_LIMIT

    async def config(self) -> dict[str, Any]:
        self.receiver.responder = self._respond
        url = await self.receiver.start()
        return {"destination": f"{url}/hook", "method": "POST", "batch_events": self.batch}

    async def _respond(self, record: Received) -> web.StreamResponse:
        fault = self._take()
        if fault == "timeout":
            await asyncio.sleep(STALL_SECONDS)
        status = {"throttle": 429, "server": 500, "reject": 400}.get(fault or "", 200)
        if status == 200:
            self.accepted.append(record)
        return web.Response(status=status)

    def _take(self) -> str | None:
        fault = self.fault
        if fault is not None and self.fault_count is not None:
            self.fault_count -= 1
            if self.fault_count <= 0:
                self.fault = None
        return fault

    def events(self) -> list[dict[str, Any]]:
        return [e for r in list(self.accepted) if r.method == "POST" and r.body for e in r.events()]

    def inject(self, fault: str, count: int | None = None) -> None:
        self.fault, self.fault_count = fault, count

    def clear(self) -> None:
        self.fault = None

    async def down(self) -> None:
        await self.receiver.stop()

    async def up(self) -> None:
        await self.receiver.start(port=self.receiver.port)

    def calls_within_limits(self) -> bool:
        if not self.batch:
            return all(not r.body.startswith(b"[") for r in self.receiver.received)
        return all(len(r.body) <= 64 * 1024 and r.body.startswith(b"[") for r in self.receiver.received)

    async def close(self) -> None:
        await self.receiver.stop()


@dataclass
class SegmentHarness:
    api: SegmentReceiver
    write_key: str = field(default_factory=lambda: "wk_" + secrets.token_hex(8))
    name: str = "segment"
    sink_type: str = "segment"
    partial_failures: bool = False
    max_event_bytes: int = 32 * 1024  # of the Segment message made of the event
    max_call_bytes: int = 500 * 1024
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(91302, True),
            "server": Expect(91306, True),
            "reject": Expect(91305, False),
            "timeout": Expect(91308, True),
            "refused": Expect(91307, True),
        }
    )

    async def config(self) -> dict[str, Any]:
        self.api.reset()
        self.api.add_write_key(self.write_key)
        return {"write_key": self.write_key}

    def events(self) -> list[dict[str, Any]]:
        return [
            {
                "id": m["messageId"],
                "type": m["event"],
                "data": m["properties"],
                "time": m.get("timestamp"),
                "user_id": m.get("userId"),
            }
            for m in self.api.messages(self.write_key)
        ]

    def inject(self, fault: str, count: int | None = None) -> None:
        if fault == "timeout":
            self.api.delay(STALL_SECONDS, count)
        else:
            self.api.fail({"throttle": 429, "server": 500, "reject": 400}[fault], count)

    def clear(self) -> None:
        self.api.clear_faults()

    async def down(self) -> None:
        await self.api.go_down()

    async def up(self) -> None:
        await self.api.come_up()

    def calls_within_limits(self) -> bool:
        return 400 not in self.api.statuses

    async def close(self) -> None:
        self.api.clear_faults()
        await self.api.come_up()


@dataclass
class KinesisHarness:
    moto: MotoServer
    proxy: KinesisProxy
    external_id: str = ""  # the account's issued one, set before config() (active_sink)
    arn: str = ""
    name: str = "kinesis"
    sink_type: str = "kinesis"
    partial_failures: bool = True
    max_event_bytes: int = 1024 * 1024  # less the partition key: at least the stream's limit
    max_call_bytes: int = 5 * 1024 * 1024
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(93101, True),
            "server": Expect(93101, True),
            "reject": Expect(93104, False),  # the stream cannot be resolved: discarded
            "timeout": Expect(93101, True),
            "refused": Expect(93101, True),
        }
    )

    async def config(self) -> dict[str, Any]:
        self.proxy.clear()
        self.proxy.records_per_call.clear()
        self.proxy.bytes_per_call.clear()
        name = "es-" + secrets.token_hex(6)
        self.arn = await asyncio.to_thread(moto_server.create_stream, self.moto.url, name, 2)
        role = await asyncio.to_thread(moto_server.create_role, self.moto.url, self.external_id)
        return {"arn": self.arn, "role_arn": role, "external_id": self.external_id}

    def events(self) -> list[dict[str, Any]]:
        out = []
        for key, data in moto_server.read_records(self.moto.url, self.arn):
            event = json.loads(data)
            assert key == event["id"], "the partition key is the event id"
            out.append(event)
        return out

    def inject(self, fault: str, count: int | None = None) -> None:
        if fault == "timeout":
            self.proxy.fail("delay", count, delay_seconds=STALL_SECONDS)
        else:
            self.proxy.fail({"reject": "not_found"}.get(fault, fault), count)

    def clear(self) -> None:
        self.proxy.clear()

    async def down(self) -> None:
        await self.proxy.go_down()

    async def up(self) -> None:
        await self.proxy.come_up()

    def calls_within_limits(self) -> bool:
        return all(0 < n <= 500 for n in self.proxy.records_per_call) and all(
            0 < n <= 5 * 1024 * 1024 for n in self.proxy.bytes_per_call
        )

    async def close(self) -> None:
        self.proxy.clear()
        await self.proxy.come_up()
