"""A fault-injecting HTTP proxy in front of a real moto server: the AWS sinks' tests need the
answers real AWS gives under trouble (throttling, internal failures, a target that is gone or
forbidden, a slow or absent endpoint, a batch call failing some entries), which moto does not
produce on demand. Everything not faulted is forwarded to moto as it is.

Faults apply to the batch write call of the service they are set for (`fail(..., action=)`:
Kinesis PutRecords by default, SQS SendMessageBatch, EventBridge PutEvents, SNS PublishBatch
— a query-protocol call, answered in XML — and S3 PutObject, its entries an object's lines);
AssumeRole and
the lookups pass. `down` closes the port (connection refused). Every batch write call's entry
count and bytes (as its service counts them) are noted, by action."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import aiohttp
from aiohttp import web

AMZ_JSON = "application/x-amz-json-1.1"
AMZ_JSON_10 = "application/x-amz-json-1.0"


@dataclass(frozen=True)
class Action:
    """A service's batch write call, as the proxy needs to know it."""

    target: str  # X-Amz-Target
    entries: str  # the call's list of entries
    size: Callable[[dict[str, Any]], int]  # an entry's bytes as the service counts them
    errors: dict[str, tuple[int, str]]  # fault name → (status, the service's error code)
    # The answer to a call of which the even entries were written (`written`, moto's answer
    # to them) and the odd ones failed.
    partial: Callable[[int, dict[str, Any]], dict[str, Any]]
    content_type: str = AMZ_JSON


def _kinesis_partial(count: int, written: dict[str, Any]) -> dict[str, Any]:
    records = written.get("Records", [])
    results = [
        records[i // 2]
        if i % 2 == 0
        else {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "injected"}
        for i in range(count)
    ]
    return {"FailedRecordCount": count // 2, "Records": results}


def _sqs_partial(count: int, written: dict[str, Any]) -> dict[str, Any]:
    failed = [
        {"Id": str(i), "SenderFault": False, "Code": "InternalError", "Message": "injected"}
        for i in range(1, count, 2)
    ]
    return {"Successful": written.get("Successful", []), "Failed": failed}


def _events_partial(count: int, written: dict[str, Any]) -> dict[str, Any]:
    entries = written.get("Entries", [])
    results = [
        entries[i // 2] if i % 2 == 0 else {"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}
        for i in range(count)
    ]
    return {"FailedEntryCount": count // 2, "Entries": results}


def _event_size(entry: dict[str, Any]) -> int:
    """PutEvents counts an entry's Source, DetailType, Detail and Resources (and 14 bytes for
    a Time; ours carry none)."""
    fields = sum(len(str(entry.get(k, "")).encode()) for k in ("Source", "DetailType", "Detail"))
    return fields + sum(len(r.encode()) for r in entry.get("Resources", []))


PUBLISH_BATCH = "PublishBatch"  # SNS, a query-protocol Action
SNS_ERRORS = {
    "throttle": (400, "Throttling"),
    "server": (500, "InternalError"),
    "unavailable": (503, "ServiceUnavailable"),
    "not_found": (404, "NotFound"),
    "access_denied": (403, "AuthorizationError"),
}
SNS_ENTRY = re.compile(r"PublishBatchRequestEntries\.member\.(\d+)\.(.+)")


def sns_entries(form: dict[str, str]) -> dict[int, dict[str, str]]:
    """PublishBatch's entries by member number, each its fields."""
    found: dict[int, dict[str, str]] = {}
    for key, value in form.items():
        match = SNS_ENTRY.fullmatch(key)
        if match:
            found.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return dict(sorted(found.items()))


def sns_error(status: int, code: str) -> web.Response:
    sender = "Sender" if status < 500 else "Receiver"
    body = (
        '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error>'
        f"<Type>{sender}</Type><Code>{code}</Code><Message>injected {code}</Message>"
        "</Error><RequestId>injected</RequestId></ErrorResponse>"
    )
    return web.Response(status=status, body=body.encode(), content_type="text/xml")


PUT_OBJECT = "s3:PutObject"
S3_ERRORS = {
    "throttle": (503, "SlowDown"),
    "server": (500, "InternalError"),
    "unavailable": (503, "ServiceUnavailable"),
    "not_found": (404, "NoSuchBucket"),
    "access_denied": (403, "AccessDenied"),
}


def s3_error(status: int, code: str) -> web.Response:
    body = f"<Error><Code>{code}</Code><Message>injected {code}</Message><RequestId>i</RequestId></Error>"
    return web.Response(status=status, body=body.encode(), content_type="application/xml")


def is_put_object(request: web.Request) -> bool:
    """A path-style PutObject: PUT /<bucket>/<key> (not a bucket's creation, not a copy)."""
    parts = request.path.strip("/").split("/", 1)
    return (
        request.method == "PUT"
        and len(parts) == 2
        and not request.query
        and "x-amz-copy-source" not in request.headers
    )


PUT_RECORDS = "Kinesis_20131202.PutRecords"
SEND_MESSAGE_BATCH = "AmazonSQS.SendMessageBatch"
PUT_EVENTS = "AWSEvents.PutEvents"

ACTIONS: dict[str, Action] = {
    PUT_RECORDS: Action(
        PUT_RECORDS,
        "Records",
        lambda e: len(base64.b64decode(e["Data"])) + len(e["PartitionKey"].encode()),
        {
            "throttle": (400, "ProvisionedThroughputExceededException"),
            "server": (500, "InternalFailure"),
            "unavailable": (503, "ServiceUnavailable"),
            "not_found": (400, "ResourceNotFoundException"),
            "access_denied": (400, "AccessDeniedException"),
        },
        _kinesis_partial,
    ),
    SEND_MESSAGE_BATCH: Action(
        SEND_MESSAGE_BATCH,
        "Entries",
        lambda e: len(e["MessageBody"].encode()),
        {
            "throttle": (400, "RequestThrottled"),
            "server": (500, "InternalError"),
            "unavailable": (503, "ServiceUnavailable"),
            "not_found": (400, "QueueDoesNotExist"),
            "access_denied": (400, "AccessDenied"),
        },
        _sqs_partial,
        AMZ_JSON_10,
    ),
    PUT_EVENTS: Action(
        PUT_EVENTS,
        "Entries",
        _event_size,
        {
            "throttle": (400, "ThrottlingException"),
            "server": (500, "InternalException"),
            "unavailable": (503, "ServiceUnavailable"),
            "not_found": (400, "ResourceNotFoundException"),
            "access_denied": (400, "AccessDeniedException"),
        },
        _events_partial,
    ),
}
# Kinesis's error answers, by the name tests use (the Kinesis tests' own table).
ERRORS = ACTIONS[PUT_RECORDS].errors


@dataclass
class AwsProxy:
    upstream: str
    port: int = 0
    # What to do to the next calls of `action`: an error name, "delay", "partial"; None: forward.
    fault: str | None = None
    fault_count: int | None = None  # None: until cleared
    delay_seconds: float = 0.0
    action: str = PUT_RECORDS
    put_calls: int = 0  # Kinesis PutRecords calls
    faulted_calls: int = 0
    # Of Kinesis PutRecords calls (the Kinesis tests' own); every action's in `calls`.
    records_per_call: list[int] = field(default_factory=list)
    bytes_per_call: list[int] = field(default_factory=list)  # data and partition keys, as Kinesis counts
    calls: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # action → (entries, bytes)
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

    async def down(self) -> None:
        """Connection refused until `up` (open connections closed too)."""
        if self._runner is not None:
            runner, self._runner, self._site = self._runner, None, None
            await runner.cleanup()

    async def up(self) -> None:
        if self._runner is None:
            await self._listen()

    async def stop(self) -> None:
        await self.down()
        if self._session is not None:
            await self._session.close()

    def fail(
        self, fault: str, count: int | None = None, delay_seconds: float = 0.0, action: str = PUT_RECORDS
    ) -> None:
        self.fault, self.fault_count, self.delay_seconds, self.action = fault, count, delay_seconds, action

    def clear(self) -> None:
        self.fault, self.fault_count, self.delay_seconds = None, None, 0.0

    def calls_of(self, action: str) -> list[tuple[int, int]]:
        return self.calls.setdefault(action, [])

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
        target = request.headers.get("X-Amz-Target")
        if target is None and b"Action=AssumeRole" in body:  # a query-protocol call: STS
            self.sts_calls.append({k: v[0] for k, v in parse_qs(body.decode()).items()})
        if target is None and b"Action=PublishBatch" in body:
            return await self._publish_batch(request, body)
        if target is None and is_put_object(request):
            return await self._put_object(request, body)
        action = ACTIONS.get(target or "")
        if action is None:
            return await self._forward(request, body)
        entries = json.loads(body).get(action.entries, [])
        count, size = len(entries), sum(action.size(e) for e in entries)
        self.calls_of(action.target).append((count, size))
        if action.target == PUT_RECORDS:
            self.put_calls += 1
            self.records_per_call.append(count)
            self.bytes_per_call.append(size)
        if action.target != self.action:
            return await self._forward(request, body)
        # A partial failure needs two entries or more to be partial: single ones pass.
        taken = None if self.fault == "partial" and count < 2 else self._take_fault()
        if taken is None:
            return await self._forward(request, body)
        fault, delay = taken
        if fault == "delay":
            await asyncio.sleep(delay)
            return await self._forward(request, body)
        if fault == "partial":
            return await self._partial(request, body, action)
        status, kind = action.errors[fault]
        return web.Response(
            status=status,
            body=json.dumps({"__type": kind, "message": f"injected {kind}"}).encode(),
            content_type=action.content_type,
        )

    async def _partial(self, request: web.Request, body: bytes, action: Action) -> web.StreamResponse:
        """Every second entry failed (and not written); the others forwarded to moto and
        written."""
        call = json.loads(body)
        entries: list[Any] = call[action.entries]
        kept = [e for i, e in enumerate(entries) if i % 2 == 0]
        narrowed = json.dumps({**call, action.entries: kept}).encode()
        status, payload, headers = await self._upstream(request, narrowed)
        if status != 200:
            return web.Response(status=status, body=payload, headers=headers)
        answer = action.partial(len(entries), json.loads(payload))
        return web.Response(body=json.dumps(answer).encode(), content_type=action.content_type)

    async def _publish_batch(self, request: web.Request, body: bytes) -> web.StreamResponse:
        """SNS PublishBatch: a form in, XML out."""
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        entries = sns_entries(form)
        size = sum(len(e.get("Message", "").encode()) for e in entries.values())
        self.calls_of(PUBLISH_BATCH).append((len(entries), size))
        if self.action != PUBLISH_BATCH:
            return await self._forward(request, body)
        taken = None if self.fault == "partial" and len(entries) < 2 else self._take_fault()
        if taken is None:
            return await self._forward(request, body)
        fault, delay = taken
        if fault == "delay":
            await asyncio.sleep(delay)
            return await self._forward(request, body)
        if fault != "partial":
            return sns_error(*SNS_ERRORS[fault])
        # Every second entry failed (and not published); the others forwarded and published.
        numbers = list(entries)
        kept = {k: v for k, v in form.items() if not SNS_ENTRY.fullmatch(k)}
        failed = []
        for position, number in enumerate(numbers):
            if position % 2:
                failed.append(entries[number]["Id"])
                continue
            for name, value in entries[number].items():
                kept[f"PublishBatchRequestEntries.member.{position // 2 + 1}.{name}"] = value
        status, payload, headers = await self._upstream(request, urlencode(kept).encode())
        if status != 200:
            return web.Response(status=status, body=payload, headers=headers)
        members = "".join(
            f"<member><Id>{id_}</Id><Code>InternalError</Code><Message>injected</Message>"
            "<SenderFault>false</SenderFault></member>"
            for id_ in failed
        )
        answer = re.sub(
            rb"<Failed\s*/>|<Failed>\s*</Failed>", f"<Failed>{members}</Failed>".encode(), payload
        )
        return web.Response(body=answer, content_type="text/xml")

    async def _put_object(self, request: web.Request, body: bytes) -> web.StreamResponse:
        self.calls_of(PUT_OBJECT).append((body.count(b"\n"), len(body)))
        taken = self._take_fault() if self.action == PUT_OBJECT else None
        if taken is None:
            return await self._forward(request, body)
        fault, delay = taken
        if fault == "delay":
            await asyncio.sleep(delay)
            return await self._forward(request, body)
        return s3_error(*S3_ERRORS[fault])

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
