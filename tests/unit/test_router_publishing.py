"""The router's Publish logic with in-memory ports (a catalogue of two schema versions, a bus
that keeps what it is given): validation, routing, projection, and a projection that fails
becoming a recorded failure for that sink rather than a silent drop."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import grpc
import orjson
import pytest
from nats.js.errors import ServiceUnavailableError

from eventstreams.v1 import control_pb2, router_pb2
from runtime.routing import whole_table
from runtime.routing_demand import AccountsOnDemand
from services.router.acks import MessageTooLarge
from services.router.bus import OutMessage
from services.router.publishing import Publisher
from services.router.routing_table import RoutingTable
from services.router.schemas import SchemaCache, TypeInfo

pytestmark = pytest.mark.unit

ACCOUNT = "AC" + "1" * 32
SINK_V1, SINK_V2 = "DG" + "1" * 32, "DG" + "2" * 32
TYPE = "com.example.thing.happened"
SCHEMA = "Example.Thing"


def document(version: int, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": f"https://events-schemas.twilio.com/{SCHEMA}/{version}",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


VERSIONS = {
    1: document(1, {"name": {"type": "string"}}, ["name"]),
    2: document(2, {"name": {"type": "string"}, "size": {"type": "integer"}}, []),
}


class MemoryCatalog:
    async def event_type(self, type_name: str) -> TypeInfo | None:
        return TypeInfo(TYPE, SCHEMA, "available") if type_name == TYPE else None

    async def schema_version(self, schema_id: str, version: int) -> tuple[int, str] | None:
        chosen = version or max(VERSIONS)
        if schema_id != SCHEMA or chosen not in VERSIONS:
            return None
        return chosen, json.dumps(VERSIONS[chosen])


class MemoryBus:
    def __init__(self) -> None:
        self.messages: list[OutMessage] = []

    async def put(self, messages: list[OutMessage]) -> list[BaseException | None]:
        self.messages.extend(messages)
        return [None] * len(messages)


def publisher(bus: MemoryBus | None = None) -> tuple[Publisher, MemoryBus]:
    table = RoutingTable()
    table.apply(
        whole_table(
            revision=1,
            accounts=[control_pb2.RoutedAccount(sid=ACCOUNT, auth_token="t" * 32)],
            sinks=[
                control_pb2.RoutedSink(sid=sid, account_sid=ACCOUNT, sink_type="webhook", status="active")
                for sid in (SINK_V1, SINK_V2)
            ],
            subscriptions=[
                control_pb2.RoutedSubscription(
                    sid="DF" + str(v) * 32,
                    account_sid=ACCOUNT,
                    sink_sid=sink,
                    types=[control_pb2.TypeSelector(type=TYPE, schema_version=v)],
                )
                for v, sink in ((1, SINK_V1), (2, SINK_V2))
            ],
        )
    )
    bus = bus or MemoryBus()
    return Publisher(SchemaCache(MemoryCatalog(), 30.0), table, bus), bus


def event(data: dict[str, Any], version: int = 2, event_id: str = "EZ1") -> router_pb2.Event:
    return router_pb2.Event(
        id=event_id,
        account_sid=ACCOUNT,
        type=TYPE,
        schema_version=version,
        source="/x",
        data_json=json.dumps(data),
    )


async def test_each_sink_gets_its_pinned_version() -> None:
    router, bus = publisher()
    [result] = (await router.publish([event({"name": "a", "size": 3})])).results
    assert (result.code, result.deliveries) == (grpc.StatusCode.OK.value[0], 2)
    by_sink = {m.sink_sid: orjson.loads(m.payload) for m in bus.messages}
    assert by_sink[SINK_V2]["data"] == {"name": "a", "size": 3}
    assert by_sink[SINK_V2]["dataschema"].endswith(f"{SCHEMA}/2")
    assert by_sink[SINK_V1]["data"] == {"name": "a"}  # projected: v1 has no size
    assert by_sink[SINK_V1]["dataschema"].endswith(f"{SCHEMA}/1")
    assert {m.msg_id for m in bus.messages} == {f"{ACCOUNT}:EZ1:{SINK_V1}", f"{ACCOUNT}:EZ1:{SINK_V2}"}
    assert all(not m.failure for m in bus.messages)


async def test_a_routed_message_names_its_event_sink_and_routing() -> None:
    router, bus = publisher()
    await router.publish([event({"name": "a", "size": 3})])
    [message] = [m for m in bus.messages if m.sink_sid == SINK_V2]
    assert message == OutMessage(
        account_sid=ACCOUNT,
        sink_sid=SINK_V2,
        event_id="EZ1",
        type_name=TYPE,
        msg_id=f"{ACCOUNT}:EZ1:{SINK_V2}",
        payload=message.payload,  # the CloudEvent: the test above
        failure="",
        revision=1,
        trace="",
        order_key=None,
    )


async def test_a_failed_projection_is_recorded_for_that_sink_not_dropped() -> None:
    router, bus = publisher()
    [result] = (await router.publish([event({"size": 3})])).results  # valid v2; v1 needs a name
    assert result.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert SINK_V1 in result.message and "dead letter" in result.message
    assert result.deliveries == 1
    failed = [m for m in bus.messages if m.failure]
    assert [m.sink_sid for m in failed] == [SINK_V1]
    assert failed[0].failure == f"cannot be projected to {SCHEMA} v1"
    assert orjson.loads(failed[0].payload)["data"] == {"size": 3}  # the event as published


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"type": "com.example.unknown"}, grpc.StatusCode.NOT_FOUND),
        ({"data_json": '{"name": 5}'}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"data_json": "{"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"schema_version": 9}, grpc.StatusCode.NOT_FOUND),
        ({"id": ""}, grpc.StatusCode.INVALID_ARGUMENT),
        # Control characters: a NUL cannot even be stored in PostgreSQL's delivery log.
        ({"id": "EZ\x00nul"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"id": "EZ\nline"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"id": "EZ\x7fdel"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"id": "EZ\x85c1"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"source": ""}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"account_sid": "AC" + "9" * 32}, grpc.StatusCode.NOT_FOUND),
        ({"sink_sid": "DG" + "9" * 32}, grpc.StatusCode.NOT_FOUND),
    ],
)
@pytest.mark.parametrize("bad_first", [True, False])  # after a good one, its route is known
async def test_bad_events_are_refused_and_publish_nothing(
    change: dict[str, Any], code: grpc.StatusCode, bad_first: bool
) -> None:
    router, bus = publisher()
    bad = event({"name": "a"})
    for field, value in change.items():
        setattr(bad, field, value)
    good = event({"name": "b"}, event_id="EZ2")
    results = (await router.publish([bad, good] if bad_first else [good, bad])).results
    refused, accepted = results if bad_first else results[::-1]
    assert refused.code == code.value[0]
    assert refused.message
    assert accepted.code == grpc.StatusCode.OK.value[0]
    assert {m.event_id for m in bus.messages} == {"EZ2"}


async def test_an_event_is_answered_for_its_first_fault_in_a_call_of_many() -> None:
    router, _ = publisher()
    good = event({"name": "b"}, event_id="EZ2")
    # Invalid data and an unknown sink: the data is checked first, as when it is alone.
    bad = event({"name": 5}, event_id="EZ3")
    bad.sink_sid = "DG" + "9" * 32
    [_, refused] = (await router.publish([good, bad])).results
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "does not match" in refused.message


async def test_two_subaccounts_rolled_up_to_one_sink_never_share_a_dedupe_id() -> None:
    # Event ids are unique per producer account: two subaccounts may send the same one within
    # the dedupe window, and the parent's sink must get both.
    sub_a, sub_b = "AC" + "a" * 32, "AC" + "b" * 32
    table = RoutingTable()
    table.apply(
        whole_table(
            revision=1,
            accounts=[
                control_pb2.RoutedAccount(sid=ACCOUNT, auth_token="t" * 32),
                control_pb2.RoutedAccount(sid=sub_a, auth_token="a" * 32, owner_account_sid=ACCOUNT),
                control_pb2.RoutedAccount(sid=sub_b, auth_token="b" * 32, owner_account_sid=ACCOUNT),
            ],
            sinks=[
                control_pb2.RoutedSink(sid=SINK_V2, account_sid=ACCOUNT, sink_type="webhook", status="active")
            ],
            subscriptions=[
                control_pb2.RoutedSubscription(
                    sid="DF" + "2" * 32,
                    account_sid=ACCOUNT,
                    sink_sid=SINK_V2,
                    types=[control_pb2.TypeSelector(type=TYPE, schema_version=2)],
                    receive_events_from_subaccounts=True,
                )
            ],
        )
    )
    bus = MemoryBus()
    router = Publisher(SchemaCache(MemoryCatalog(), 30.0), table, bus)
    same_id = [event({"name": "a"}, event_id="EZsame") for _ in range(2)]
    same_id[0].account_sid, same_id[1].account_sid = sub_a, sub_b
    results = (await router.publish(same_id)).results
    assert [r.deliveries for r in results] == [1, 1]
    assert len({m.msg_id for m in bus.messages}) == 2


class TooLargeBus(MemoryBus):
    async def put(self, messages: list[OutMessage]) -> list[BaseException | None]:
        refusal = MessageTooLarge("the event is 9000 bytes with its headers; the broker takes 4096")
        return [refusal] * len(messages)


async def test_an_event_too_large_for_the_broker_is_refused_on_its_own() -> None:
    router, _ = publisher(TooLargeBus())  # the broker refuses by size, before anything is stored
    [result] = (await router.publish([event({"name": "a", "size": 3})])).results
    assert result.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "broker takes 4096" in result.message


class FullBus(MemoryBus):
    """JetStream refuses every message: the backlog of undelivered events is at its budget."""

    async def put(self, messages: list[OutMessage]) -> list[BaseException | None]:
        full = ServiceUnavailableError(code=503, err_code=10077, description="maximum bytes exceeded")
        return [full] * len(messages)


async def test_an_event_refused_for_a_full_backlog_says_so_and_to_publish_again() -> None:
    router, _ = publisher(FullBus())
    [result] = (await router.publish([event({"name": "a", "size": 3})])).results
    assert result.code == grpc.StatusCode.UNAVAILABLE.value[0]  # retryable: the sinks drain it
    assert "backlog of undelivered events" in result.message
    assert "publish again" in result.message


class FailingBus(MemoryBus):
    """JetStream answers every message but those of one event."""

    def __init__(self, lost_event_id: str) -> None:
        super().__init__()
        self._lost = lost_event_id

    async def put(self, messages: list[OutMessage]) -> list[BaseException | None]:
        self.messages.extend(messages)
        return [TimeoutError("no answer") if m.event_id == self._lost else None for m in messages]


async def test_one_event_unacknowledged_leaves_the_others_of_its_call_accepted() -> None:
    router, _ = publisher(FailingBus("EZlost"))
    events = [
        event({"name": "a", "size": 1}, event_id="EZbefore"),
        event({"name": "b", "size": 2}, event_id="EZlost"),
        event({"name": "c", "size": 3}, event_id="EZafter"),
    ]
    response = await router.publish(events)
    assert isinstance(response, router_pb2.PublishResponse)
    assert [(r.id, r.code, r.deliveries) for r in response.results] == [
        ("EZbefore", grpc.StatusCode.OK.value[0], 2),
        ("EZlost", grpc.StatusCode.UNAVAILABLE.value[0], 0),
        ("EZafter", grpc.StatusCode.OK.value[0], 2),
    ]
    assert "publish again" in response.results[1].message


async def test_on_demand_events_carry_the_revision_their_account_was_read_at() -> None:
    """The router read the account at revision 7 while its feed holds 1: a worker whose feed
    holds 3 must wait for a sink created at 5, not take it for deleted — so the events say 7."""
    account = control_pb2.AccountRouting(
        account=control_pb2.RoutedAccount(sid=ACCOUNT),
        sinks=[
            control_pb2.RoutedSink(sid=sid, account_sid=ACCOUNT, sink_type="webhook", status="active")
            for sid in (SINK_V1, SINK_V2)
        ],
        subscriptions=[
            control_pb2.RoutedSubscription(
                sid="DF" + "2" * 32,
                account_sid=ACCOUNT,
                sink_sid=SINK_V2,
                types=[control_pb2.TypeSelector(type=TYPE, schema_version=2)],
            )
        ],
    )
    asked: list[list[str]] = []

    async def fetch(sids: Sequence[str]) -> control_pb2.RoutingChanges:
        asked.append(list(sids))
        return control_pb2.RoutingChanges(accounts=[account], as_of=7)

    table = RoutingTable()
    accounts = AccountsOnDemand(table, fetch)
    accounts.apply(control_pb2.RoutingChanges(revision=1, reset=True, as_of=1))  # the feed's cold start
    bus = MemoryBus()
    router = Publisher(SchemaCache(MemoryCatalog(), 30.0), table, bus, accounts=accounts)
    for event_id in ("EZ1", "EZ2"):
        [result] = (await router.publish([event({"name": "a"}, event_id=event_id)])).results
        assert result.code == grpc.StatusCode.OK.value[0], result.message
    assert asked == [[ACCOUNT]]  # read once
    assert [(m.sink_sid, m.revision) for m in bus.messages] == [(SINK_V2, 7), (SINK_V2, 7)]


async def test_on_demand_a_calls_new_accounts_are_read_together() -> None:
    others = ["AC" + str(i) * 32 for i in range(1, 5)]
    asked: list[list[str]] = []

    async def fetch(sids: Sequence[str]) -> control_pb2.RoutingChanges:
        asked.append(sorted(sids))
        return control_pb2.RoutingChanges(
            accounts=[control_pb2.AccountRouting(account=control_pb2.RoutedAccount(sid=s)) for s in sids],
            as_of=3,
        )

    table = RoutingTable()
    accounts = AccountsOnDemand(table, fetch)
    accounts.apply(control_pb2.RoutingChanges(revision=1, reset=True, as_of=1))
    router = Publisher(SchemaCache(MemoryCatalog(), 30.0), table, MemoryBus(), accounts=accounts)
    events = []
    for i, sid in enumerate(others * 3):
        e = event({"name": "a"}, event_id=f"EZ{i}")
        e.account_sid = sid
        events.append(e)
    results = (await router.publish(events)).results
    assert [r.code for r in results] == [grpc.StatusCode.OK.value[0]] * len(events)
    assert asked == [sorted(others)]  # one read for the call, not one per account
