"""Prometheus /metrics of every process, scraped before and after real traffic: the figures
moved as the traffic says — events published and refused, deliveries routed, delivered and
dead-lettered by sink type, latency histograms, gRPC calls by method and code, the
gateway's requests by route template — and the gauges (lanes, lag, the log's queue) are
there."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from devkit.receiver import Received, Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, router_pb2, router_pb2_grpc
from tests.helpers import create_webhook_sink, publish_when_routed, sample, subscribe

pytestmark = pytest.mark.e2e

EVENT_TYPE = "com.twilio.messaging.message.delivered"
DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "event-streams.json"
# Metric names in PromQL: ours, the gRPC server's and the gateway's HTTP ones.
METRIC_NAME = re.compile(r"\b((?:es|grpc_server|http_request)[a-z_]*)\b")
Labels = frozenset[tuple[str, str]]


def scrape(url: str) -> dict[tuple[str, Labels], float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    found: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        for sample_ in family.samples:
            found[(sample_.name, frozenset(sample_.labels.items()))] = sample_.value
    return found


def value(scraped: Mapping[tuple[str, Labels], float], name: str, **labels: str) -> float:
    """The sum of `name` over the series whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in scraped.items() if n == name and wanted <= ls)


def refusing(record: Received) -> bool:
    return urlsplit(record.url).path == "/refuse"


def scrape_all(suite: Suite) -> dict[str, dict[tuple[str, Labels], float]]:
    return {name: scrape(suite.metrics_url(name)) for name in suite.metrics_ports}


async def test_every_process_exports_figures_that_follow_the_traffic(
    suite: Suite,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    def respond(record: Received) -> web.StreamResponse:
        # The /refuse sink's destination answers 400: a permanent failure, a dead letter.
        return web.Response(status=400 if refusing(record) else 200)

    receiver.responder = respond
    before = scrape_all(suite)
    good = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/ok")
    await subscribe(rest, good["sid"], EVENT_TYPE)
    events = [sample(account.sid) for _ in range(20)]
    await publish_when_routed(router, events, timeout=15)
    unknown = sample(account.sid)
    unknown.type = "com.example.not.a.type"
    refused = await router.Publish(router_pb2.PublishRequest(events=[unknown]), timeout=10)
    assert refused.results[0].code != 0
    await receiver.wait_for(lambda r: sum(len(x.events()) for x in r.received) >= 20)

    bad = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/refuse")
    # A second type: only the refusing sink takes it.
    await subscribe(rest, bad["sid"], "com.twilio.messaging.message.failed")
    await publish_when_routed(
        router, [sample(account.sid, "com.twilio.messaging.message.failed")], timeout=15
    )
    await receiver.wait_for(lambda r: any(refusing(x) for x in r.received))

    async def settled() -> dict[str, dict[tuple[str, Labels], float]]:
        # Delivery settles (and counts) a moment after the receiver answers.
        for _ in range(50):
            after = scrape_all(suite)
            dead = value(after["delivery-0"], "es_delivery_events_total", outcome="dead_lettered")
            if dead > value(before["delivery-0"], "es_delivery_events_total", outcome="dead_lettered"):
                return after
            await asyncio.sleep(0.1)
        return scrape_all(suite)

    after = await settled()

    def moved(process: str, name: str, **labels: str) -> float:
        return value(after[process], name, **labels) - value(before[process], name, **labels)

    # The router: what it was given, what it refused, what it routed where.
    assert moved("router", "es_router_events_total", result="OK") >= 21
    assert moved("router", "es_router_events_total", result="NOT_FOUND") == 1
    assert moved("router", "es_router_deliveries_routed_total", sink_type="webhook") >= 21
    assert ("es_router_publishes_awaiting_ack", frozenset()) in after["router"]
    publish_calls = moved("router", "grpc_server_handled_total", grpc_method="Publish", grpc_code="OK")
    assert publish_calls >= 3
    assert moved("router", "grpc_server_handling_seconds_count", grpc_method="Publish") == publish_calls

    # The worker: delivered, and dead-lettered with Twilio's error code; latencies observed.
    delivered = moved("delivery-0", "es_delivery_events_total", sink_type="webhook", outcome="delivered")
    assert delivered >= 20
    dead = [
        dict(labels)
        for (name, labels), v in after["delivery-0"].items()
        if name == "es_delivery_events_total"
        and ("outcome", "dead_lettered") in labels
        and v > before["delivery-0"].get((name, labels), 0.0)
    ]
    # Each carries Twilio's code; the /refuse sink's with its type (another test's event to a
    # sink deleted meanwhile may be dead-lettered here too, its type unknown: 91303).
    assert any(d["sink_type"] == "webhook" and d["error_code"] == "91305" for d in dead), dead
    assert all(d["error_code"] for d in dead), dead
    assert moved("delivery-0", "es_delivery_success_seconds_count", sink_type="webhook") == delivered
    assert moved("delivery-0", "es_delivery_first_attempt_seconds_count", sink_type="webhook") >= 21
    assert value(after["delivery-0"], "es_delivery_sinks", state="healthy") >= 1
    for gauge in (
        "es_delivery_consumer_pending",
        "es_delivery_consumer_ack_pending",
        "es_delivery_log_queue",
        "es_events_work_bytes",
        "es_replay_archive_oldest_seconds",
    ):
        assert (gauge, frozenset()) in after["delivery-0"], gauge

    # Control served the gateway's calls; the gateway counts requests by route template.
    assert moved("control", "grpc_server_handled_total", grpc_method="CreateSink", grpc_code="OK") == 2
    assert moved("gateway", "http_requests_total", method="POST", route="/v1/Sinks", status="201") == 2
    assert (
        moved("gateway", "http_requests_total", method="POST", route="/v1/Subscriptions", status="201") == 2
    )
    assert not any(("route", f"/v1/Sinks/{good['sid']}") in labels for _, labels in after["gateway"]), (
        "a path, not its template, became a label"
    )
    assert value(after["catalog"], "grpc_server_handled_total", grpc_code="OK") >= 1

    # Every query of the Grafana dashboard names metrics the processes export.
    exported = {name for scraped in after.values() for name, _ in scraped}
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    named = {n for q in queries for n in METRIC_NAME.findall(q)}
    assert len(queries) >= 14 and named
    assert named <= exported, f"the dashboard queries metrics nobody exports: {sorted(named - exported)}"
