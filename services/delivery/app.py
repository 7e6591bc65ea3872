"""The delivery worker's composition root."""

from __future__ import annotations

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from eventstreams.v1 import control_pb2_grpc
from runtime import clients, jetstream
from runtime.grpc_server import ServiceApp
from runtime.jetstream import StreamSpec
from runtime.routing import RoutingWatcher
from services.delivery.directory import SinkDirectory
from services.delivery.settings import Settings
from services.delivery.sinks.base import SinkDriver
from services.delivery.sinks.webhook import WebhookDriver
from services.delivery.worker import RetryPolicy, Worker


def stream_spec(settings: Settings) -> StreamSpec:
    return StreamSpec(
        name=settings.stream_name,
        subject_prefix=settings.subject_prefix,
        max_age_seconds=settings.stream_max_age_seconds,
        replicas=settings.stream_replicas,
    )


def consumer_config(settings: Settings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=settings.consumer_name,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=settings.ack_wait_seconds,
        max_deliver=-1,
        max_ack_pending=max(1000, settings.max_in_flight * 8),
    )


async def build(settings: Settings) -> ServiceApp:
    spec = stream_spec(settings)
    nc = await jetstream.connect(settings.nats_url, "delivery")
    js = nc.jetstream(timeout=10)
    await jetstream.ensure_stream(js, spec)
    subscription = await js.pull_subscribe(
        spec.subjects[0], durable=settings.consumer_name, stream=spec.name, config=consumer_config(settings)
    )
    control_channel = clients.channel(settings.control_target)
    directory = SinkDirectory()
    watcher = RoutingWatcher(control_pb2_grpc.ControlStub(control_channel), directory.load)
    webhook = WebhookDriver(
        settings.webhook_timeout_seconds, settings.allow_private_destinations, settings.user_agent
    )
    drivers: dict[str, SinkDriver] = {webhook.sink_type: webhook}
    worker = Worker(
        subscription,
        directory,
        drivers,
        RetryPolicy(
            settings.retry_base_seconds, settings.retry_max_delay_seconds, settings.max_retry_age_seconds
        ),
        settings.fetch_batch,
        settings.max_in_flight,
    )

    async def run_worker() -> None:
        await watcher.wait_ready()
        await worker.run()

    async def close() -> None:
        for driver in drivers.values():
            await driver.close()
        await nc.close()
        await control_channel.close()

    return ServiceApp(
        name="delivery",
        address=settings.delivery_address,
        services=[],
        readiness=[watcher.wait_ready],
        tasks=[watcher.run, run_worker],
        draining=[worker.drain],
        closers=[close],
    )
