"""The router's composition root."""

from __future__ import annotations

from eventstreams.v1 import catalog_pb2_grpc, control_pb2_grpc, router_pb2, router_pb2_grpc
from runtime import clients, jetstream, tracing
from runtime.grpc_server import Registration, ServiceApp
from runtime.held_routing import held_routing_service
from runtime.metrics import Metrics
from runtime.routing import follow_routing, report_held_routing
from services.router.bus import JetStreamBus
from services.router.catalog_source import GrpcCatalogSource, catalog_watcher
from services.router.metrics import RouterMetrics
from services.router.publishing import Publisher
from services.router.routing_table import RoutingTable
from services.router.schemas import SchemaCache
from services.router.servicer import RouterServicer
from services.router.settings import Settings


async def build(settings: Settings) -> ServiceApp:
    spec = settings.stream_spec()
    nc = await jetstream.connect(
        settings.nats_url, "router", settings.nats_user, settings.nats_password, settings.consumer_name
    )
    js = nc.jetstream(timeout=settings.publish_timeout_seconds)
    await jetstream.ensure_event_streams(js, spec, settings.consumer_name)
    catalog_channel = clients.channel(settings.catalog_target, settings.service_token)
    control_channel = clients.channel(settings.control_target, settings.service_token)
    table = RoutingTable()
    watcher, accounts = follow_routing(
        control_pb2_grpc.ControlStub(control_channel), table, settings.routing_on_demand
    )
    catalog = catalog_pb2_grpc.CatalogStub(catalog_channel)
    schemas = SchemaCache(GrpcCatalogSource(catalog), settings.type_cache_seconds)
    # Registry changes reach this router within a second; the cache's TTL is the fallback.
    catalog_changes = catalog_watcher(catalog, schemas)
    bus = JetStreamBus(
        nc, spec, settings.publish_timeout_seconds, attempt_seconds=settings.publish_attempt_seconds
    )
    metrics = Metrics.of("router", settings)
    tracer, traces = tracing.tracer_for("router", settings.otlp_endpoint, settings.trace_sample_ratio)
    observer = RouterMetrics(metrics, bus) if metrics is not None else None
    if metrics is not None:
        report_held_routing(metrics, "router", table, accounts)
    publisher = Publisher(schemas, table, bus, watcher.wait_for, observer, tracer, accounts)

    servicer = RouterServicer(publisher, settings.max_batch)

    async def close() -> None:
        if traces is not None:
            traces.shutdown()
        await nc.close()
        await catalog_channel.close()
        await control_channel.close()

    return ServiceApp(
        callers=settings.callers(),
        name="router",
        address=settings.router_address,
        services=[
            Registration(
                router_pb2.DESCRIPTOR.services_by_name["Router"].full_name,
                router_pb2_grpc.add_RouterServicer_to_server,
                servicer,
            ),
            held_routing_service(table, accounts),
        ],
        # Publishing before the routing state is held would silently route nothing.
        readiness=[watcher.wait_ready],
        tasks=[watcher.run, catalog_changes.run],
        # Open PublishStreams end (their producers go on elsewhere) before the grace period.
        draining=[servicer.drain],
        closers=[close],
        # Without the broker no Publish can succeed: say so to load balancers and probes.
        serving=[lambda: nc.is_connected],
        metrics=metrics,
    )
