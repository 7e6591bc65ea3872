"""A fault-injecting HTTP proxy in front of a real moto server: the Kinesis sink's tests
need the answers real AWS gives under trouble (throttling, internal failures, a stream that
is gone, a slow or absent endpoint, PutRecords failing some records), which moto does not
produce on demand. Everything not faulted is forwarded to moto as it is.

Faults apply to PutRecords only (AssumeRole and DescribeStreamSummary pass), except `down`,
which closes the port (connection refused)."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web

PUT_RECORDS = "Kinesis_20131202.PutRecords"
AMZ_JSON = "application/x-amz-json-1.1"

# The error answers AWS gives, by the name tests use.
ERRORS: dict[str, tuple[int, str]] = {
    "throttle": (400, "ProvisionedThroughputExceededException"),
    "server": (500, "InternalFailure"),
    "unavailable": (503, "ServiceUnavailable"),
    "not_found": (400, "ResourceNotFoundException"),
    "access_denied": (400, "AccessDeniedException"),
}


@dataclass
class KinesisProxy:
    upstream: str
    port: int = 0
    # What to do to the next PutRecords calls: an ERRORS key, "delay", "partial"; None: forward.
    fault: str | None = None
    fault_count: int | None = None  # None: until cleared
    delay_seconds: float = 0.0
    put_calls: int = 0
    faulted_calls: int = 0
    records_per_call: list[int] = field(default_factory=list)
    bytes_per_call: list[int] = field(default_factory=list)  # data and partition keys, as Kinesis counts
    sts_calls: list[dict[str, str]] = field(default_factory=list)  # their form parameters
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None
    _session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        await self._listen()

    async def _listen(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        if not self.port:
            server = self._site._server
            assert isinstance(server, asyncio.base_events.Server)
            self.port = server.sockets[0].getsockname()[1]

    async def go_down(self) -> None:
        """Connection refused until `come_up` (open connections closed too)."""
        if self._runner is not None:
            runner, self._runner, self._site = self._runner, None, None
            await runner.cleanup()

    async def come_up(self) -> None:
        if self._runner is None:
            await self._listen()

    async def stop(self) -> None:
        await self.go_down()
        if self._session is not None:
            await self._session.close()

    def fail(self, fault: str, count: int | None = None, delay_seconds: float = 0.0) -> None:
        self.fault, self.fault_count, self.delay_seconds = fault, count, delay_seconds

    def clear(self) -> None:
        self.fault, self.fault_count, self.delay_seconds = None, None, 0.0

    def _take_fault(self) -> tuple[str, float] | None:
        if self.fault is None:
            return None
        fault, delay = self.fault, self.delay_seconds
        if self.fault_count is not None:
            self.fault_count -= 1
            if self.fault_count <= 0:
                self.clear()
        self.faulted_calls += 1
        return fault, delay

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.headers.get("X-Amz-Target") is None:  # a query-protocol call: STS
            self.sts_calls.append({k: v[0] for k, v in parse_qs(body.decode()).items()})
        if request.headers.get("X-Amz-Target") != PUT_RECORDS:
            return await self._forward(request, body)
        self.put_calls += 1
        entries = json.loads(body).get("Records", [])
        count = len(entries)
        self.records_per_call.append(count)
        self.bytes_per_call.append(
            sum(len(base64.b64decode(e["Data"])) + len(e["PartitionKey"].encode()) for e in entries)
        )
        # A partial failure needs two records or more to be partial: single ones pass.
        taken = None if self.fault == "partial" and count < 2 else self._take_fault()
        if taken is None:
            return await self._forward(request, body)
        fault, delay = taken
        if fault == "delay":
            await asyncio.sleep(delay)
            return await self._forward(request, body)
        if fault == "partial":
            return await self._partial(request, body)
        status, kind = ERRORS[fault]
        return web.Response(
            status=status,
            body=json.dumps({"__type": kind, "message": f"injected {kind}"}).encode(),
            content_type=AMZ_JSON,
        )

    async def _partial(self, request: web.Request, body: bytes) -> web.StreamResponse:
        """Every second record refused with ProvisionedThroughputExceededException (and not
        written); the others forwarded to moto and written."""
        call = json.loads(body)
        entries: list[Any] = call["Records"]
        kept = [e for i, e in enumerate(entries) if i % 2 == 0]
        written: list[Any] = []
        if kept:
            narrowed = json.dumps({**call, "Records": kept}).encode()
            status, payload, headers = await self._upstream(request, narrowed)
            if status != 200:
                return web.Response(status=status, body=payload, headers=headers)
            written = json.loads(payload)["Records"]
        results: list[Any] = []
        for i in range(len(entries)):
            if i % 2 == 0:
                results.append(written[i // 2])
            else:
                results.append(
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "injected"}
                )
        answer = {"FailedRecordCount": len(entries) // 2, "Records": results}
        return web.Response(body=json.dumps(answer).encode(), content_type=AMZ_JSON)

    async def _forward(self, request: web.Request, body: bytes) -> web.StreamResponse:
        status, payload, headers = await self._upstream(request, body)
        return web.Response(status=status, body=payload, headers=headers)

    async def _upstream(self, request: web.Request, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}}
        async with self._session.request(
            request.method, f"{self.upstream}{request.rel_url}", data=body, headers=headers
        ) as upstream:
            payload = await upstream.read()
            passed = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in {"content-length", "transfer-encoding", "connection", "content-encoding"}
            }
            return upstream.status, payload, passed
