"""Publish: validate each event, find who wants it, shape it per subscription, put it on
JetStream, and answer per event."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import fastjsonschema
import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from eventstreams.v1 import router_pb2
from runtime import error_logs, ordering, sids, stream_codec, tracing
from runtime.errors import Unavailable
from runtime.routing_demand import AccountReach, EveryAccountHeld
from runtime.sids import AccountSid, EventId, SinkSid
from runtime.text import control_character
from runtime.times import iso, iso_of
from services.router import cloudevents
from services.router import resend as resend_policy
from services.router.acks import MessageTooLarge
from services.router.bus import EventBus, OutMessage
from services.router.projection import project
from services.router.routing_table import RoutingTable, Target
from services.router.schemas import CompiledSchema, SchemaCache, Unknown

log = logging.getLogger(__name__)

MAX_EVENT_ID = 128
ROUTING_WAIT_SECONDS = 1.0
NEGATIVE_SECONDS = 5.0
MAX_SOURCE = 1024


class Rejected(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)  # one per event: not frozen (a frozen __init__ costs per field)
class Prepared:
    messages: list[OutMessage]
    # Sinks the event could not be shaped for (projection to their version failed).
    failures: list[SinkSid]


RouteKey = tuple[str, str, int, str]  # (account, type, schema version, sink SID) of an event


@dataclass(slots=True)
class Route:
    """What the events of one call with the same RouteKey share, looked up once per call
    (three cache lookups and the routing table's, ~3 µs an event): the call's events mostly
    share it."""

    schema: CompiledSchema
    # Filled by the first of them that is valid: the sinks, each with its schema version.
    targets: list[tuple[Target, CompiledSchema | None]] | None = None


def _result(
    event_id: str, code: grpc.StatusCode, message: str = "", deliveries: int = 0, dead_letters: int = 0
) -> router_pb2.EventResult:
    """An event's answer other than acceptance (which `_publish` builds in the response)."""
    return router_pb2.EventResult(
        id=event_id, code=code.value[0], message=message, deliveries=deliveries, dead_letters=dead_letters
    )


WaitFor = Callable[[Callable[[], bool], float], Awaitable[bool]]


async def no_wait(condition: Callable[[], bool], deadline: float) -> bool:
    return condition()


class PublishObserver(Protocol):
    def published(self, results: Sequence[router_pb2.EventResult]) -> None: ...

    def routed(self, sink_type: str, count: int) -> None: ...


class Publisher:
    def __init__(
        self,
        schemas: SchemaCache,
        table: RoutingTable,
        bus: EventBus,
        wait_for: WaitFor = no_wait,
        observer: PublishObserver | None = None,
        tracer: Tracer | None = None,
        accounts: AccountReach | None = None,
    ) -> None:
        self._tracer = tracer
        # Reads an account's routing when it is not held yet (runtime/routing_demand.py).
        self._accounts: AccountReach = accounts or EveryAccountHeld()
        self._on_demand = accounts is not None
        self._schemas = schemas
        self._table = table
        self._bus = bus
        self._wait_for = wait_for
        self._observer = observer
        # Names looked for in vain lately: not waited for again until the time given.
        self._missing: dict[str, float] = {}
        self._stamps: dict[tuple[int, int], str] = {}  # (seconds, millisecond) → its RFC 3339

    async def _known(self, condition: Callable[[], bool], name: str, deadline: float) -> bool:
        """Whether the routing table knows `name`, waiting (until `deadline`, once per name
        in a while) for routing news if it does not: it may have been created a moment ago."""
        if condition():
            return True
        now = asyncio.get_running_loop().time()
        if self._missing.get(name, 0.0) > now:
            return False
        if await self._wait_for(condition, deadline):
            return True
        if len(self._missing) > 10_000:
            self._missing.clear()
        self._missing[name] = now + NEGATIVE_SECONDS
        return False

    async def publish(
        self, events: list[router_pb2.Event], parent: Context | None = None
    ) -> router_pb2.PublishResponse:
        """Publish a batch: the answer, a result per event in order. Traced (a `publish`
        span, a `route` span per event, under the producer's `parent` context) when the
        publisher has a tracer."""
        if self._table.revision == 0:
            raise Unavailable("router is starting: no routing table yet; publish again")
        if self._tracer is None:
            return await self._publish(events, None)
        with self._tracer.start_as_current_span(
            "publish", context=parent, kind=SpanKind.SERVER, attributes={"event_streams.events": len(events)}
        ) as call:
            if not call.is_recording():
                # Not sampled: no span per event and no trace header, so neither this call's
                # events nor their deliveries cost anything for tracing.
                return await self._publish(events, None)
            spans: list[Span] = []
            try:
                response = await self._publish(events, spans)
            except BaseException:
                for span in spans:
                    span.end()
                raise
            for span, result in zip(spans, response.results, strict=True):
                span.set_attribute("rpc.grpc.status_code", result.code)
                span.set_attribute("event_streams.deliveries", result.deliveries)
                if result.code != 0:
                    span.set_status(Status(StatusCode.ERROR, result.message))
                span.end()
            return response

    async def _publish(
        self, events: list[router_pb2.Event], spans: list[Span] | None
    ) -> router_pb2.PublishResponse:
        prepared: list[Prepared | router_pb2.EventResult] = []
        # One call waits at most this long in all for routing news (see RoutingTable.wait_for).
        deadline = asyncio.get_running_loop().time() + ROUTING_WAIT_SECONDS
        routes: dict[RouteKey, Route] = {}
        if self._on_demand:
            await self._read_accounts(events)
        for event in events:
            token = None
            if spans is not None and self._tracer is not None:
                # Open until JetStream has answered: the route span covers the event's way
                # onto the stream; its context travels in the messages' headers.
                span = self._tracer.start_span(
                    "route",
                    kind=SpanKind.PRODUCER,
                    attributes={
                        tracing.EVENT_ID: event.id,
                        tracing.EVENT_TYPE: event.type,
                        tracing.ACCOUNT_SID: event.account_sid,
                    },
                )
                spans.append(span)
                token = otel_context.attach(trace.set_span_in_context(span))
            try:
                prepared.append(await self._prepare(event, deadline, routes))
            except Rejected as rejected:
                prepared.append(_result(event.id, rejected.code, rejected.message))
            finally:
                if token is not None:
                    otel_context.detach(token)
        outgoing = [m for p in prepared if isinstance(p, Prepared) for m in p.messages]
        outcomes = await self._bus.put(outgoing) if outgoing else []
        failed = {m.msg_id: exc for m, exc in zip(outgoing, outcomes, strict=True) if exc is not None}
        # The answer built in place: a result built apart and then put in the response is
        # built twice (a copy each), ~0.6 µs an event.
        response = router_pb2.PublishResponse()
        results = response.results
        add = results.add
        for event, item in zip(events, prepared, strict=True):
            if isinstance(item, router_pb2.EventResult):
                results.append(item)
                continue
            if item.failures or failed:  # the common case is answered without a scan
                refused = self._refusal(event, item, failed)
                if refused is not None:
                    results.append(refused)
                    continue
            # Accepted: every message stored, none of them a failure's record.
            accepted = add()  # its defaults left unset; fields set, not keywords: cheaper
            accepted.id = event.id
            accepted.deliveries = len(item.messages)
        if self._observer is not None:
            self._observe(outgoing, failed, results)
        return response

    @staticmethod
    def _refusal(
        event: router_pb2.Event, item: Prepared, failed: dict[str, BaseException]
    ) -> router_pb2.EventResult | None:
        """The answer for an event JetStream did not take, or one some sink could not get
        (`failed`: the call's messages not stored, by id); None when it was accepted."""
        lost = [m for m in item.messages if m.msg_id in failed]
        too_large = next((e for m in lost if isinstance(e := failed[m.msg_id], MessageTooLarge)), None)
        if too_large is not None:
            return _result(event.id, grpc.StatusCode.INVALID_ARGUMENT, str(too_large))
        if any(resend_policy.store_full(failed[m.msg_id]) for m in lost):
            return _result(
                event.id,
                grpc.StatusCode.UNAVAILABLE,
                "The backlog of undelivered events is at its budget (a sink is down or slow) and "
                f"{len(lost)} of {len(item.messages)} deliveries were not stored; publish again "
                "later, once the sinks drain it",
            )
        if lost:
            return _result(
                event.id,
                grpc.StatusCode.UNAVAILABLE,
                f"JetStream did not acknowledge {len(lost)} of {len(item.messages)} "
                "deliveries; publish again",
            )
        if not item.failures:
            return None
        log.warning(
            "event %s (%s) cannot be projected for sink(s) %s",
            event.id,
            event.type,
            ", ".join(item.failures),
            extra={
                "event_id": event.id,
                "account_sid": event.account_sid,
                "sink_sid": ",".join(item.failures),
            },
        )
        return _result(
            event.id,
            grpc.StatusCode.FAILED_PRECONDITION,
            "event cannot be projected to the schema version subscribed by sink(s) "
            + ", ".join(item.failures)
            + "; recorded as their dead letters",
            sum(1 for m in item.messages if not m.failure),
            len(item.failures),
        )

    def _observe(
        self,
        outgoing: list[OutMessage],
        failed: dict[str, BaseException],
        results: Sequence[router_pb2.EventResult],
    ) -> None:
        assert self._observer is not None
        routed: dict[str, int] = {}
        for message in outgoing:
            if message.msg_id not in failed and not message.failure:
                sink = self._table.sink(message.sink_sid)
                kind = sink.sink_type if sink is not None else ""
                routed[kind] = routed.get(kind, 0) + 1
        for kind, count in routed.items():
            self._observer.routed(kind, count)
        self._observer.published(results)

    async def _read_accounts(self, events: list[router_pb2.Event]) -> None:
        """The accounts of a call's events not held yet, read together: one read for a call
        of a hundred new accounts, not a hundred one after another. (One that could not be
        read is answered per event, UNAVAILABLE.)"""
        has = self._table.has_account
        unheld = {sid for sid in (e.account_sid for e in events) if not has(sid)}
        readable = [sid for sid in unheld if sids.is_sid(sid, sids.ACCOUNT)]
        if readable:
            await self._accounts.ensure(readable)

    async def _prepare(
        self, event: router_pb2.Event, deadline: float, routes: dict[RouteKey, Route]
    ) -> Prepared:
        # Each read of a protobuf field builds a new str: the fields are read once, here —
        # where the ids enter, so here they become typed ids (runtime/sids.py), read through
        # `Any` rather than by a NewType call each: a call per id per event costs ~1 %.
        fields: Any = event
        event_id: EventId = fields.id
        account: AccountSid = fields.account_sid
        type_name = event.type
        source, data_json, sink_sid = event.source, event.data_json, event.sink_sid
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        if not event_id or len(event_id) > MAX_EVENT_ID:
            raise Rejected(invalid, f"event id is required (at most {MAX_EVENT_ID} characters)")
        if (control := control_character(event_id)) is not None:
            # Stored with every attempt's record: a NUL cannot be, in PostgreSQL.
            raise Rejected(invalid, f"event id must not contain control characters (found {control})")
        key = (account, type_name, event.schema_version, sink_sid)
        route = routes.get(key)
        if route is None:
            route = await self._route(account, source, type_name, key[2], deadline)
            routes[key] = route
        elif not source or len(source) > MAX_SOURCE:  # the rest was checked for the route
            raise Rejected(invalid, "source is required")
        schema = route.schema
        try:
            data = cloudevents.decode(data_json)
        except ValueError as exc:
            raise Rejected(invalid, f"data is not valid JSON: {exc}") from exc
        try:
            schema.validate(data)
        except fastjsonschema.JsonSchemaException as exc:
            raise Rejected(
                invalid, f"data does not match {schema.schema_id} v{schema.version}: {exc}"
            ) from exc

        targets = route.targets
        if targets is None:
            targets = route.targets = await self._targets(account, type_name, sink_sid, schema, deadline)

        stamp = self._time_of(event)
        # What the targets were read from: the feed's revision, or the account's own state's
        # when it was read later (a worker that knows less waits for the sink, never drops it).
        revision = max(self._table.revision, self._accounts.known_at(account))
        messages, failures = [], []
        # An error-log entry about a sink is never that sink's (runtime/error_logs.py).
        about = error_logs.sink_about(type_name, source)
        for target, shape in targets:
            if about is not None and target.sink_sid == about:
                continue
            shaped = self._shape(data_json, data, schema, shape)
            failure = ""
            if shaped is None:
                # Not a silent drop: the sink gets a dead letter carrying the event as
                # published and the reason.
                failures.append(target.sink_sid)
                failure = f"cannot be projected to {schema.schema_id} v{target.schema_version}"
                shaped = (schema.url, cloudevents.Fragment(data_json))
            dataschema, body = shaped
            # The subscription's filter, and its ordering key, see the data as the sink gets it.
            delivered_data = data if isinstance(body, cloudevents.Fragment) else body
            if not target.wants(delivered_data):
                continue
            order_key = (
                ordering.key_of(delivered_data, target.ordering_key)
                if target.ordering_key is not None
                else None
            )
            envelope = cloudevents.envelope(
                event_id=event_id,
                type_name=type_name,
                source=source,
                time=stamp,
                dataschema=dataschema,
                data=body,
            )
            # Positional, in OutMessage's field order: one per message, and keywords cost 2.5x.
            messages.append(
                OutMessage(
                    account,
                    target.sink_sid,
                    event_id,
                    type_name,
                    self._msg_id(account, event_id, target.sink_sid, data_json if sink_sid else None),
                    cloudevents.encode(envelope),  # payload
                    failure,
                    revision,
                    self._trace_header(),
                    order_key,
                )
            )
        return Prepared(messages, failures)

    async def _route(self, account: str, source: str, type_name: str, version: int, deadline: float) -> Route:
        """What every event of a call with this account, type and schema version shares, each
        check in the order an event is answered by."""
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        # An account the routing table knows is a well-formed SID: the pattern is checked only
        # for the others (a regular expression per event was ~2 µs of the router's work).
        if not self._table.has_account(account):
            if not sids.is_sid(account, sids.ACCOUNT):
                raise Rejected(invalid, f"account_sid {account!r} is not an Account SID")
            if not await self._accounts.ensure([account]):
                raise Rejected(
                    grpc.StatusCode.UNAVAILABLE, f"the routing of account {account} could not be read; retry"
                )
            if not await self._known(lambda: self._table.has_account(account), account, deadline):
                raise Rejected(grpc.StatusCode.NOT_FOUND, f"account {account} not found")
        if not source or len(source) > MAX_SOURCE:
            raise Rejected(invalid, "source is required")
        known = self._schemas.cached_type(type_name)
        info = await self._schemas.event_type(type_name) if isinstance(known, Unknown) else known
        if info is None:
            raise Rejected(grpc.StatusCode.NOT_FOUND, f"event type {type_name!r} not found")
        if info.status == "discontinued":
            raise Rejected(grpc.StatusCode.FAILED_PRECONDITION, f"event type {type_name} is discontinued")
        cached = self._schemas.cached_schema(info.schema_id, version)
        schema = (
            await self._schemas.schema(info.schema_id, version) if isinstance(cached, Unknown) else cached
        )
        if schema is None:
            raise Rejected(grpc.StatusCode.NOT_FOUND, f"schema {info.schema_id} version {version} not found")
        return Route(schema)

    async def _targets(
        self, account: str, type_name: str, sink_sid: str, schema: CompiledSchema, deadline: float
    ) -> list[tuple[Target, CompiledSchema | None]]:
        """The sinks an event goes to, each with the schema version it is shaped to (None: a
        version that does not exist)."""
        if sink_sid:
            await self._known(lambda: self._table.sink(sink_sid) is not None, sink_sid, deadline)
            sink = self._table.sink(sink_sid)
            if sink is None or sink.account_sid != account:
                raise Rejected(grpc.StatusCode.NOT_FOUND, f"sink {sink_sid} not found")
            targets = [Target(SinkSid(sink.sid), schema.version)]
        else:
            targets = self._table.targets(account, type_name)
        shaped = []
        for target in targets:
            wanted = target.schema_version or schema.version
            at = self._schemas.cached_schema(schema.schema_id, wanted)
            shape = await self._schemas.schema(schema.schema_id, wanted) if isinstance(at, Unknown) else at
            shaped.append((target, shape))
        return shaped

    def _time_of(self, event: router_pb2.Event) -> str:
        if not event.HasField("time"):
            return iso(datetime.now(UTC))
        time = event.time
        # Events published together mostly share their millisecond: each distinct one is
        # formatted once (the cache is dropped when it has many).
        key = (time.seconds, time.nanos // 1_000_000)
        stamp = self._stamps.get(key)
        if stamp is not None:
            return stamp
        try:
            stamp = iso_of(time.seconds, time.nanos)
        except (OverflowError, ValueError) as exc:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"time is out of range: {exc}") from exc
        if len(self._stamps) >= 4096:
            self._stamps.clear()
        self._stamps[key] = stamp
        return stamp

    def _trace_header(self) -> str:
        """The route span's context for the message's header, when this event is traced."""
        if self._tracer is None or not trace.get_current_span().is_recording():
            return ""
        return tracing.inject().get("traceparent", "")

    @staticmethod
    def _shape(
        raw: str, data: Any, published: CompiledSchema, target: CompiledSchema | None
    ) -> tuple[str, Any] | None:
        """(dataschema, data) at the `target` version (None: it does not exist); None when
        the data cannot be shaped validly."""
        if target is None:
            return None
        if target.version == published.version:
            # The producer's bytes, validated already: embedded as they are.
            return target.url, cloudevents.Fragment(raw)
        projected = project(data, target.document)
        try:
            target.validate(projected)
        except fastjsonschema.JsonSchemaException:
            return None
        return target.url, projected

    @staticmethod
    def _msg_id(account: AccountSid, event_id: EventId, sink_sid: SinkSid, test_data: str | None) -> str:
        """The message's dedupe key; `test_data`: a sink test's data (an event for one sink)."""
        if test_data is not None:
            # A sink test reuses the account SID as the event id; each test is its own message.
            digest = hashlib.sha1(test_data.encode()).hexdigest()[:16]
            return f"{stream_codec.message_id(account, event_id, sink_sid)}:{digest}"
        return stream_codec.message_id(account, event_id, sink_sid)
