"""The delivery worker's composition root."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from eventstreams.v1 import control_pb2_grpc, delivery_pb2, delivery_pb2_grpc
from runtime import clients, db, jetstream, tracing
from runtime.grpc_server import Registration, ServiceApp
from runtime.held_routing import held_routing_service
from runtime.metrics import Metrics
from runtime.natsio.acks import GatheredAcks
from runtime.routing import follow_routing, report_held_routing
from services.delivery import former_consumer
from services.delivery.directory import SinkDirectory
from services.delivery.errorlog.worker import ErrorLog
from services.delivery.intake.room import Room
from services.delivery.intake.worker import Worker, bells
from services.delivery.leaders import LeaderSpread
from services.delivery.ordered.lanes import OrderedDelivery, OrderedRules
from services.delivery.outage.holds import HoldWatch
from services.delivery.outage.parking import Parking, ParkingRules, ParkingStream
from services.delivery.reads.health import HealthReporter
from services.delivery.reads.records import Records
from services.delivery.reads.replay import ArchiveReach, ReplayRunner
from services.delivery.reads.servicer import DeliveryServicer
from services.delivery.scheduling.fleet import Fleet
from services.delivery.scheduling.lane import LaneRules
from services.delivery.scheduling.lanes import Dispatcher
from services.delivery.scheduling.throttle import ThrottleRules
from services.delivery.settings import Settings
from services.delivery.settling import metrics as delivery_metrics
from services.delivery.settling.decision import RetryRules
from services.delivery.settling.journal import Retention, SqlJournal
from services.delivery.settling.metrics import ConsumerLag, DeliveryMetrics, StreamFill
from services.delivery.settling.settle import SettleObserver, Settler
from services.delivery.settling.usage import UsageMeter
from services.delivery.sinks.registry import drivers as sink_drivers

MIGRATIONS = Path(__file__).parent / "migrations"


def consumer_config(settings: Settings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=settings.consumer_name,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=settings.ack_wait_seconds,
        max_deliver=-1,
        # Events a failing sink hands back with a delay stay "pending" in JetStream; a cap
        # here would let one bad sink stall every other sink's deliveries.
        max_ack_pending=-1,
    )


def retry_rules(settings: Settings) -> RetryRules:
    return RetryRules(
        base_seconds=settings.retry_base_seconds,
        max_delay_seconds=settings.retry_max_delay_seconds,
        max_age_seconds=settings.max_retry_age_seconds,
    )


def lane_rules(settings: Settings) -> LaneRules:
    return LaneRules(
        concurrency=settings.sink_concurrency,
        batch_concurrency=settings.sink_batch_concurrency,
        gather_seconds=settings.sink_gather_seconds,
        failing_buffer=settings.failing_sink_buffer,
        ack_wait_seconds=settings.ack_wait_seconds,
        retry=retry_rules(settings),
        throttle=ThrottleRules(
            initial_cap=settings.throttle_initial_cap,
            cut_factor=settings.throttle_cut_factor,
            quiet_seconds=settings.throttle_quiet_seconds,
        ),
    )


def fleet_subject(settings: Settings) -> str:
    """Where the workers of one consumer announce the sinks they hold throttled (core NATS)."""
    return f"delivery_fleet.{settings.consumer_name}"


def ordered_rules(settings: Settings) -> OrderedRules:
    return OrderedRules(
        ack_wait_seconds=settings.ack_wait_seconds,
        max_pending=settings.ordered_max_pending,
        concurrency=settings.ordered_concurrency,
        pin_seconds=settings.ordered_pin_seconds,
    )


async def build(settings: Settings) -> ServiceApp:
    engine = db.create_engine(settings.delivery_database_url)
    await db.migrate(engine, MIGRATIONS, "delivery_alembic_version")
    sessions = db.sessionmaker(engine)
    spec = settings.stream_spec()
    nc = await jetstream.connect(
        settings.nats_url, "delivery", settings.nats_user, settings.nats_password, settings.consumer_name
    )
    js = nc.jetstream(timeout=10)
    await jetstream.ensure_event_streams(js, spec, settings.consumer_name)
    partitions = spec.split()
    streams = [part.name for part in partitions]
    for stream in streams:
        await js.add_consumer(stream, consumer_config(settings))
    await former_consumer.retire(js, streams, settings.consumer_name)
    control_channel = clients.channel(settings.control_target, settings.service_token)
    drivers = sink_drivers(settings)
    directory = SinkDirectory(drivers)
    watcher, accounts = follow_routing(
        control_pb2_grpc.ControlStub(control_channel),
        directory,
        settings.routing_on_demand,
        with_auth_tokens=True,
    )
    journal = SqlJournal(
        sessions,
        Retention(
            delivered=timedelta(seconds=settings.log_retention_seconds),
            errors=timedelta(seconds=settings.error_log_retention_seconds),
        ),
    )
    records = Records(sessions)
    # The room rings each puller's wake-up as it frees: made here, given to both.
    wakes = bells(streams)
    room = Room(settings.max_buffered, wakes)
    parked = ParkingStream(js, [part.parking() for part in partitions])
    await parked.start()
    metrics = Metrics.of("delivery", settings)
    usage = UsageMeter(sessions, directory.owner, directory.sink_type)
    # The sinks' failures, published grouped as com.twilio.error-logs.error.logged.
    error_log = ErrorLog(
        engine,
        settings.router_target,
        settings.service_token,
        directory.owner,
        settings.error_log_interval_seconds,
        timedelta(seconds=settings.error_log_retention_seconds),
    )
    observers: list[SettleObserver] = [usage, error_log.tally]
    if metrics is not None:
        observers.append(DeliveryMetrics(metrics, directory.sink_type))
        report_held_routing(metrics, "delivery", directory, accounts)
    tracer, traces = tracing.tracer_for("delivery", settings.otlp_endpoint, settings.trace_sample_ratio)
    gathered_acks = GatheredAcks(settings.ack_gather_seconds)
    settler = Settler(
        journal,
        retry_rules(settings),
        parked,
        directory.owner,
        observers=tuple(observers),
        tracer=tracer,
        acknowledge=gathered_acks.ack_all,
    )
    # The workers sharing the consumer share each throttled sink's cap.
    fleet = Fleet(nc, fleet_subject(settings))
    rules = lane_rules(settings)
    dispatcher = Dispatcher(directory, settler, room, rules, parked, fleet=fleet, accounts=accounts)
    # The outage room watches the lanes: what waits in them too long, a down sink's probes;
    # the lanes take parked events back, the settler makes those past their window dead letters.
    holds = HoldWatch(dispatcher, rules)
    parking = Parking(parked, ParkingRules(ack_wait_seconds=settings.ack_wait_seconds), dispatcher, settler)
    ordered = OrderedDelivery(
        nc,
        js,
        [part.ordered() for part in partitions],
        directory,
        settler,
        ordered_rules(settings),
        accounts=accounts,
    )
    archive = ArchiveReach(nc, spec, ordered=lambda sink_sid: sink_sid in directory.ordered)
    measuring: list[Callable[[], Coroutine[Any, Any, None]]] = []
    if metrics is not None:
        delivery_metrics.lane_states(
            metrics,
            lambda: delivery_metrics.by_state(
                [*dispatcher.lane_states(), *(r.state for r in ordered.lane_reports())]
            ),
        )
        delivery_metrics.journal_queue(metrics, journal)
        measuring.append(ConsumerLag(metrics, js, streams, settings.consumer_name).run)
        measuring.append(StreamFill(metrics, js, streams, archive.starts_at).run)
    health = HealthReporter(sessions, lambda: [*dispatcher.lane_reports(), *ordered.lane_reports()])
    worker = Worker(nc, streams, settings.consumer_name, dispatcher, room, wakes)
    # Partitions spread the writes only while their leaders sit on different servers.
    leaders = LeaderSpread(
        nc, [streams, [p.archive().name for p in partitions], [p.ordered().name for p in partitions]]
    )
    replays = ReplayRunner(js, spec, records, ordered=lambda sink_sid: sink_sid in directory.ordered)

    async def run_worker() -> None:
        await watcher.wait_ready()
        await worker.run()

    async def run_parking() -> None:
        await watcher.wait_ready()
        await parking.run()

    async def run_ordered() -> None:
        await watcher.wait_ready()
        await ordered.run()

    async def drain() -> None:
        await parking.stop()
        await asyncio.gather(worker.drain(), ordered.drain(timeout=10))
        await health.withdraw()
        await usage.flush()
        await error_log.drain()

    async def close() -> None:
        if traces is not None:
            traces.shutdown()
        await directory.close()
        for driver in drivers.values():
            await driver.close()
        gathered_acks.cancel()
        await nc.close()  # writes the acknowledgements still gathering
        await control_channel.close()
        await error_log.close()
        await engine.dispose()

    return ServiceApp(
        callers=settings.callers(),
        name="delivery",
        address=settings.delivery_address,
        services=[
            Registration(
                delivery_pb2.DESCRIPTOR.services_by_name["Delivery"].full_name,
                delivery_pb2_grpc.add_DeliveryServicer_to_server,
                DeliveryServicer(records, directory, watcher, js, spec, archive, accounts),
            ),
            held_routing_service(directory, accounts),
        ],
        readiness=[watcher.wait_ready],
        tasks=[
            watcher.run,
            fleet.run,
            run_worker,
            run_parking,
            run_ordered,
            holds.run,
            journal.run,
            replays.run,
            *([leaders.run] if leaders.needed else []),
            health.run,
            usage.run,
            error_log.run_counting,
            error_log.run_relay,
            *measuring,
        ],
        draining=[drain],
        closers=[close],
        serving=[lambda: nc.is_connected],
        metrics=metrics,
    )
