"""The production topology on one machine — three clustered nats-servers started with
deploy/k8s's nats.conf (R3 stream, its users), PostgreSQL, two replicas each of gateway,
control and router, two delivery workers — losing one process at a time under steady load.

The events are in the deployment's partitions (ES_STREAM_PARTITIONS, a stream each, their
leaders spread over the nodes). For each fault (SIGKILL of the node leading the load's
partition, of the first partition's stream's leader node, of a node leading nothing of that
stream, of a router replica, of a control replica, of a worker): every event the router acknowledged
reaches the receiver, delivery resumes by itself, and the stream holds each event once (a
publish the router or the producer sent again carried the same Nats-Msg-Id). The gap — the
longest time after the kill without a delivery — is printed and recorded (junit property);
`make bench` reports it too. Between tests the killed process is started again, as its
supervisor would.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from aiohttp import web

from devkit import failover
from devkit.bench import start_receiver
from devkit.bench_load import EventFactory, publish_fixed, publish_until_routed
from devkit.bench_setup import Account, ReceiverClient, Rest, create_account
from devkit.failover import EVENT_TYPE, FailoverFigures, LoadPlan
from devkit.postgres import PostgresCluster
from devkit.receiver import Received, Receiver
from devkit.suite import Suite
from eventstreams.v1 import (
    control_pb2,
    control_pb2_grpc,
    held_routing_pb2,
    held_routing_pb2_grpc,
    router_pb2_grpc,
)
from launcher.processes import free_port
from runtime import jetstream
from runtime.jetstream import StreamSpec
from runtime.routing import account_digest
from tests.traffic import Tally, worker_agent, worker_tag

pytestmark = [pytest.mark.e2e, pytest.mark.failover]

WORKERS = 2
TOPOLOGY_ENV = {
    "ES_ALLOW_PRIVATE_DESTINATIONS": "true",
    # What a killed worker held unacknowledged comes back within seconds.
    "ES_ACK_WAIT_SECONDS": "3",
    "ES_RETRY_BASE_SECONDS": "0.2",
    "ES_RETRY_MAX_DELAY_SECONDS": "1",
}
PLAN = LoadPlan(rate=200, batch=20, before=4, after=10)


@pytest.fixture(scope="module")
def topology(postgres: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    directory = tmp_path_factory.mktemp("topology")
    suite = Suite(
        data_dir=directory,
        catalog_db=postgres.create_database("catalog"),
        control_db=postgres.create_database("control"),
        delivery_db=postgres.create_database("delivery"),
        nats_nodes=3,
        replicas=2,
        workers=0,  # started below, each naming itself in its User-Agent
        log_dir=directory / "logs",
        extra_env=TOPOLOGY_ENV,
    )
    try:
        suite.start()
        for index in range(WORKERS):
            suite.start_worker(index, worker_agent(index))
        yield suite
    finally:
        suite.stop()


@pytest.fixture(scope="module")
def receiver_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    child = start_receiver(port, 60.0, tmp_path_factory.mktemp("receiver-logs"))
    yield port
    child.stop()


@pytest.fixture
async def fast_receiver(receiver_port: int) -> AsyncIterator[ReceiverClient]:
    client = ReceiverClient(receiver_port)
    yield client
    await client.close()


def revive_all(suite: Suite) -> None:
    """Start again whatever is down, as a supervisor would; wait until the cluster is whole."""
    for name in suite.dead():
        if name.startswith("delivery-"):
            index = int(name.removeprefix("delivery-"))
            suite.start_worker(index, worker_agent(index))
        else:
            suite.revive(name)
    assert suite.cluster is not None
    suite.cluster.wait_healthy()


def partition(suite: Suite, sink_sid: str) -> StreamSpec:
    """The streams of the sink's partition, as the topology's services see them."""
    return StreamSpec(partitions=int(suite.env.get("ES_STREAM_PARTITIONS", "1"))).for_sink(sink_sid)


async def stored_on_subject(suite: Suite, archive: str, subject: str, expected: int) -> tuple[int, float]:
    """How many messages a replay archive holds on one subject (one sink's): every event
    the events stream stored, each once (the events stream itself lets go of what is
    delivered); and how long it took to get there. The archive copies asynchronously, and
    after a node is lost the server re-establishes its source on a back-off (seen taking
    half a minute): waits up to 90 s for `expected`."""
    assert suite.cluster is not None
    nc = await jetstream.connect(
        suite.nats_url, "failover-test", "delivery", suite.cluster.passwords["delivery"]
    )
    try:
        js = nc.jetstream(timeout=10)
        began = time.monotonic()
        for _ in range(450):
            info = await js.stream_info(archive, subjects_filter=subject)
            stored = int((info.state.subjects or {}).get(subject, 0))
            if stored >= expected:
                break
            await asyncio.sleep(0.2)
        return stored, time.monotonic() - began
    finally:
        await nc.close()


async def lose(
    suite: Suite,
    receiver: ReceiverClient,
    fault: str,
    inject: Callable[[], None],
    record_property: Callable[[str, object], None],
    on_sink: Callable[[str], None] | None = None,
    while_down: Callable[[], None] | None = None,
) -> FailoverFigures:
    """`on_sink` is told the load's sink SID before the load starts; `while_down` is called
    after the load, before the lost process comes back (once it is back, JetStream may hand
    a leadership back to it)."""
    account: Account = await create_account(suite, f"failover {fault}")
    path = f"/failover/{fault}/{time.time_ns()}"
    try:
        async with Rest(suite, account) as rest, suite.channel("router") as channel:
            sink = await rest.webhook_sink(fault, receiver.url(path), batch_events=True)
            await rest.subscribe(fault, sink, [EVENT_TYPE])
            if on_sink is not None:
                on_sink(sink)
            factory = EventFactory(account.sid)
            replicas = [suite.channel("router", i) for i in range(suite.replicas)]
            try:
                await failover.wait_routed([router_pb2_grpc.RouterStub(c) for c in replicas], factory)
            finally:
                for replica in replicas:
                    await replica.close()
            figures = await failover.under_load(
                fault, inject, router_pb2_grpc.RouterStub(channel), factory, receiver, path, PLAN
            )
        distinct = (await receiver.path(path)).events
        part = partition(suite, sink)
        if while_down is not None:
            while_down()
    finally:
        await asyncio.to_thread(revive_all, suite)
    stored, copied_in = await stored_on_subject(
        suite, part.archive().name, part.subject(account.sid, sink), distinct
    )
    report = figures.report()
    print(
        f"failover {fault}: {json.dumps(report)}; stored {stored}, received {distinct} distinct;"
        f" archive complete {copied_in:.1f} s after the node came back"
    )
    record_property(f"failover_{fault}", json.dumps(report))
    explain = f"{report}\n{suite.logs()}"
    assert figures.acknowledged >= PLAN.rate * (PLAN.before + PLAN.after) * 0.5, explain
    assert figures.missing == 0, explain  # nothing acknowledged was lost; delivery resumed
    # Every event stored once: a publish sent again (by the router across a leader change, or
    # by the producer after a failed call) was deduplicated on its Nats-Msg-Id.
    assert stored == distinct, explain
    return figures


async def test_losing_the_node_leading_the_loads_partition(
    topology: Suite, fast_receiver: ReceiverClient, record_property: Callable[[str, object], None]
) -> None:
    """The load's sink's partition loses its leader: its events wait out the election while
    the other partitions' go on; nothing acknowledged is lost."""
    cluster = topology.cluster
    assert cluster is not None
    parts = [
        p.name for p in StreamSpec(partitions=int(topology.env.get("ES_STREAM_PARTITIONS", "1"))).split()
    ]
    leaders = cluster.stream_leaders(parts)
    print(f"partition leaders: {leaders}")
    assert None not in leaders.values(), leaders
    chosen: dict[str, str] = {}

    def note(sink_sid: str) -> None:
        chosen["stream"] = partition(topology, sink_sid).name
        leader = cluster.stream_leader(chosen["stream"])
        assert leader is not None
        chosen["leader"] = leader

    def kill_leader() -> None:
        cluster.kill(cluster.index_of(chosen["leader"]))

    def new_leader() -> None:
        chosen["new"] = cluster.stream_leader(chosen["stream"]) or ""

    await lose(
        topology,
        fast_receiver,
        "partition-leader",
        kill_leader,
        record_property,
        on_sink=note,
        while_down=new_leader,
    )
    assert chosen["new"] not in ("", chosen["leader"])


async def test_losing_the_stream_leader_node(
    topology: Suite, fast_receiver: ReceiverClient, record_property: Callable[[str, object], None]
) -> None:
    cluster = topology.cluster
    assert cluster is not None
    leader = cluster.stream_leader("EVENTS")
    assert leader is not None

    def kill_leader() -> None:
        cluster.kill(cluster.index_of(leader))

    after: list[str | None] = []
    await lose(
        topology,
        fast_receiver,
        "stream-leader",
        kill_leader,
        record_property,
        while_down=lambda: after.append(cluster.stream_leader("EVENTS")),
    )
    assert after and after[0] not in (None, leader)


async def test_losing_a_node_that_leads_nothing_of_the_stream(
    topology: Suite, fast_receiver: ReceiverClient, record_property: Callable[[str, object], None]
) -> None:
    cluster = topology.cluster
    assert cluster is not None
    leader = cluster.stream_leader("EVENTS")
    follower = next(n.name for n in cluster.nodes if n.name != leader)

    def kill_follower() -> None:
        cluster.kill(cluster.index_of(follower))

    await lose(topology, fast_receiver, "stream-follower", kill_follower, record_property)


async def test_losing_a_router_replica(
    topology: Suite, fast_receiver: ReceiverClient, record_property: Callable[[str, object], None]
) -> None:
    figures = await lose(
        topology, fast_receiver, "router", topology.children["router-1"].kill, record_property
    )
    # Nothing failed at the receiver, so nothing was delivered twice: what the producer sent
    # again after the lost replica's calls failed was deduplicated.
    assert figures.redelivered == 0, figures.report()


async def test_losing_a_control_replica(
    topology: Suite, fast_receiver: ReceiverClient, record_property: Callable[[str, object], None]
) -> None:
    figures = await lose(
        topology, fast_receiver, "control", topology.children["control"].kill, record_property
    )
    assert figures.redelivered == 0, figures.report()


async def test_losing_a_delivery_worker(
    topology: Suite, fast_receiver: ReceiverClient, record_property: Callable[[str, object], None]
) -> None:
    await lose(topology, fast_receiver, "worker", topology.children["delivery-1"].kill, record_property)


async def test_workers_share_the_load_and_none_delivers_an_event_another_did(
    topology: Suite, receiver: Receiver
) -> None:
    sinks, total, batch = 4, 2000, 100
    tallies = {f"/s{i}": Tally() for i in range(sinks)}

    async def respond(record: Received) -> web.StreamResponse:
        return await tallies[urlsplit(record.url).path].respond(record)

    receiver.responder = respond
    account = await create_account(topology, "spread")
    async with Rest(topology, account) as rest, topology.channel("router") as channel:
        for path in tallies:
            sid = await rest.webhook_sink(f"spread {path}", f"http://127.0.0.1:{receiver.port}{path}", False)
            await rest.subscribe("spread", sid, [EVENT_TYPE])
        router = router_pb2_grpc.RouterStub(channel)
        factory = EventFactory(account.sid)
        # Every router replica routes to all four sinks before the load: the channel balances
        # over the replicas, and one that has not heard of the last subscription yet would
        # route its calls' events to three (two calls of 100 went missing so on a slow machine).
        for replica in range(len(topology.replica_ports("router"))):
            async with topology.channel("router", replica) as one:
                stub = router_pb2_grpc.RouterStub(one)
                await publish_until_routed(stub, factory, EVENT_TYPE, sinks, timeout=20)
        await publish_fixed(router, factory, EVENT_TYPE, total, batch, concurrency=4)
    deadline = time.monotonic() + 90
    while min(len(t.counts) for t in tallies.values()) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
    await asyncio.sleep(1.0)  # anything delivered twice would have come by now
    sent_by = sum((t.sent_by for t in tallies.values()), Counter[str]())
    shares = {worker: round(count / sum(sent_by.values()), 3) for worker, count in sent_by.items()}
    print(f"deliveries per worker: {dict(sent_by)} ({shares})")
    for tally in tallies.values():
        assert len(tally.counts) >= total  # every event of every sink — the probes are extra
        assert tally.duplicates() == 0  # no event delivered by two workers (no crash here)
    assert set(sent_by) == {worker_tag(i) for i in range(WORKERS)}, sent_by
    assert min(shares.values()) >= 0.2, shares  # each worker a real share of the work


async def test_changes_through_one_replica_reach_every_router_within_a_second(topology: Suite) -> None:
    account = await create_account(topology, "replicas agree")
    async with httpx.AsyncClient(
        base_url=topology.gateway_urls[1], auth=(account.sid, account.auth_token), timeout=30
    ) as rest:
        response = await rest.post(
            "/v1/Sinks",
            data={
                "Description": "agree",
                "SinkType": "webhook",
                "SinkConfiguration": json.dumps({"destination": "http://127.0.0.1:9/x", "method": "POST"}),
            },
        )
        assert response.status_code == 201, response.text
        sink = response.json()["sid"]
        response = await rest.post(
            "/v1/Subscriptions",
            data={"Description": "agree", "SinkSid": sink, "Types": [json.dumps({"type": EVENT_TYPE})]},
        )
        assert response.status_code == 201, response.text
        created = time.monotonic()
    factory = EventFactory(account.sid)
    lags = []
    for index in range(topology.replicas):
        async with topology.channel("router", index) as channel:
            await failover.wait_routed([router_pb2_grpc.RouterStub(channel)], factory)
            lags.append(time.monotonic() - created)
    print(f"subscription created through gateway 1 routed by the routers after {lags} s")
    assert max(lags) <= 1.0, lags


async def test_a_key_revoked_through_one_gateway_stops_working_on_the_others(topology: Suite) -> None:
    account = await create_account(topology, "revocation")
    owner = (account.sid, account.auth_token)
    first, second = topology.gateway_urls[:2]
    keys_path = f"/2010-04-01/Accounts/{account.sid}/Keys.json"
    async with httpx.AsyncClient(timeout=30) as http:
        created = await http.post(first + keys_path, data={"FriendlyName": "soon revoked"}, auth=owner)
        assert created.status_code == 201, created.text
        key = created.json()
        as_key = (key["sid"], key["secret"])
        for gateway in (first, second):  # both gateways trust the key (and cache it)
            assert (await http.get(f"{gateway}/v1/Sinks", auth=as_key)).status_code == 200
        revoked = await http.delete(
            f"{first}/2010-04-01/Accounts/{account.sid}/Keys/{key['sid']}.json", auth=owner
        )
        assert revoked.status_code == 204, revoked.text
        revoked_at = time.monotonic()
        assert (await http.get(f"{first}/v1/Sinks", auth=as_key)).status_code == 401  # at once
        while (await http.get(f"{second}/v1/Sinks", auth=as_key)).status_code != 401:
            # The documented bound: ES_AUTH_CACHE_SECONDS (5 s) a verified credential is trusted.
            assert time.monotonic() - revoked_at <= 5.0 + 1.0, "the other gateway still takes the key"
            await asyncio.sleep(0.1)
    print(f"the revoked key stopped working on the other gateway after {time.monotonic() - revoked_at:.2f} s")


async def control_routing(suite: Suite, caller: str, sids: list[str]) -> tuple[int, dict[str, int]]:
    """Control's routing revision, and the digest of each of these accounts' state, as a
    process of `caller`'s kind would hold them."""
    async with suite.channel("control", as_caller=caller) as channel:
        fetched = await control_pb2_grpc.ControlStub(channel).GetRouting(
            control_pb2.GetRoutingRequest(account_sids=sids, with_auth_tokens=caller == "delivery")
        )
    return fetched.as_of, {
        a.account.sid: account_digest(a) for a in fetched.accounts if a.account.sid in sids
    }


async def held_routing(
    suite: Suite, service: str, index: int, sids: list[str], hold: bool = False
) -> tuple[int, dict[str, int]]:
    """A router's or worker's routing revision and its held states' digests (-1: not held);
    `hold`: it reads them from control first if it does not hold them."""
    async with suite.channel(service, index) as channel:
        state = await held_routing_pb2_grpc.HeldRoutingStub(channel).Describe(
            held_routing_pb2.DescribeHeldRoutingRequest(account_sids=sids, hold=hold)
        )
    return state.revision, {a.sid: a.digest if a.held else -1 for a in state.accounts}


async def test_no_router_or_worker_misses_a_change_when_a_control_replica_dies(topology: Suite) -> None:
    """A burst of changes through both gateways; a control replica killed in its middle and
    started again. At the end every router and worker holds control's routing exactly: the
    same revision and the same digest of every account's state. (Each holds the accounts
    before the burst, as a first event of theirs would make it: from then on only the feed
    brings their changes.)"""
    accounts = [await create_account(topology, f"burst {i}") for i in range(4)]
    sids = [account.sid for account in accounts]
    holders = [("router", i) for i in range(topology.replicas)] + [("delivery", i) for i in range(WORKERS)]
    for service, index in holders:
        _, holding = await held_routing(topology, service, index, sids, hold=True)
        assert -1 not in holding.values(), (service, index, holding)
    failed = made = 0
    made_at_kill = -1

    async def changes(account: Account, gateway: int) -> None:
        nonlocal failed, made
        async with httpx.AsyncClient(
            base_url=topology.gateway_urls[gateway], auth=(account.sid, account.auth_token), timeout=30
        ) as rest:
            for i in range(12):
                response = await rest.post(
                    "/v1/Sinks",
                    data={
                        "Description": f"burst {i}",
                        "SinkType": "webhook",
                        "SinkConfiguration": json.dumps(
                            {"destination": f"http://127.0.0.1:9/{i}", "method": "POST"}
                        ),
                    },
                )
                if response.status_code != 201:
                    failed += 1  # refused while its control replica died: not a change
                    continue
                response = await rest.post(
                    "/v1/Subscriptions",
                    data={
                        "Description": f"burst {i}",
                        "SinkSid": response.json()["sid"],
                        "Types": [json.dumps({"type": EVENT_TYPE})],
                    },
                )
                failed += response.status_code != 201
                made += 2

    async def kill_midway() -> None:
        nonlocal made_at_kill
        await asyncio.sleep(0.5)
        topology.children["control"].kill()
        made_at_kill = made

    try:
        await asyncio.gather(
            kill_midway(),
            *(changes(account, i % len(topology.gateway_urls)) for i, account in enumerate(accounts)),
        )
    finally:
        revive_all(topology)
    deadline = time.monotonic() + 15
    while True:
        expected = {
            "router": await control_routing(topology, "router", sids),
            "delivery": await control_routing(topology, "delivery", sids),
        }
        held = {(service, i): await held_routing(topology, service, i, sids) for service, i in holders}
        behind = {h: held[h] for h in holders if held[h] != expected[h[0]]}
        if not behind or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    print(f"{made} changes, {made_at_kill} before the kill, {failed} refused; {expected}, behind {behind}")
    assert 0 < made_at_kill < made  # the replica died in the middle of the burst
    assert not behind, (expected, held)
