"""The one gRPC server bootstrap: health and reflection services, the error mapping,
readiness gating, background tasks and graceful shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from runtime import grpc_wrap
from runtime.errors import ServiceError
from runtime.metrics import GrpcServerMetrics, Metrics
from runtime.service_auth import Callers, RequireCaller

log = logging.getLogger(__name__)

AddServicer = Callable[[Any, grpc.aio.Server], None]


@dataclass
class Registration:
    """One gRPC service: its full name (for health and reflection) and how to add it."""

    name: str
    add: AddServicer
    servicer: Any


@dataclass
class ServiceApp:
    """What a service's composition root (`build(settings)`) hands to `serve`."""

    name: str
    address: str
    services: list[Registration]
    # Awaited before the service reports SERVING (e.g. the first routing snapshot).
    readiness: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Long-running coroutines started once the server is bound; cancelled at shutdown.
    tasks: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    # Stop taking work (e.g. stop fetching), before the server's grace period.
    draining: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Release resources, last.
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    grace_seconds: float = 10.0
    # Once ready, health says SERVING only while all of these hold (e.g. the broker is
    # reachable): a router that cannot store an event must not look healthy.
    serving: list[Callable[[], bool]] = field(default_factory=list)
    serving_poll_seconds: float = 0.5
    # Who may call, and so what (runtime/service_auth.py); None: calls are not checked.
    callers: Callers | None = None
    # Served on its own port when the settings give one; gRPC calls counted into it.
    metrics: Metrics | None = None


class ErrorMappingInterceptor(grpc.aio.ServerInterceptor):
    """Turns a raised ServiceError into its status code; anything else is INTERNAL."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        return grpc_wrap.around(await continuation(handler_call_details), _mapped, _mapped_stream)


def _mapped(inner: grpc_wrap.Unary) -> grpc_wrap.Unary:
    async def unary(request: Any, context: Any) -> Any:
        try:
            return await inner(request, context)
        except ServiceError as exc:
            await context.abort(exc.grpc_code, exc.message, trailing_metadata=exc.trailing_metadata())

    return unary


def _mapped_stream(inner: grpc_wrap.Streaming) -> grpc_wrap.Streaming:
    async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
        try:
            async for item in inner(request, context):
                yield item
        except ServiceError as exc:
            await context.abort(exc.grpc_code, exc.message, trailing_metadata=exc.trailing_metadata())

    return stream


async def _mark_ready(app: ServiceApp, health_servicer: health.aio.HealthServicer) -> None:
    for wait in app.readiness:
        await wait()
    log.info("%s ready on %s", app.name, app.address)
    reported: bool | None = None
    while True:
        serving = all(check() for check in app.serving)
        if serving != reported:
            states = health_pb2.HealthCheckResponse
            status = states.SERVING if serving else states.NOT_SERVING
            for name in ["", *(s.name for s in app.services)]:
                await health_servicer.set(name, status)
            if reported is not None or not serving:
                said = "serving again" if serving else "not serving (a dependency is away)"
                log.warning("%s: %s", app.name, said)
            reported = serving
        if not app.serving:
            return
        await asyncio.sleep(app.serving_poll_seconds)


async def supervised(
    name: str,
    task: Callable[[], Coroutine[Any, Any, None]],
    first_delay: float = 0.5,
    max_delay: float = 30.0,
    stopping: asyncio.Event | None = None,
) -> None:
    """Run a background task for the life of the service: one that fails or ends (a database
    error in a loop that did not expect it) is logged and started again after a pause that
    doubles up to `max_delay`, instead of ending the process or leaving the work undone —
    unless the service is stopping (draining ends some tasks on purpose)."""
    delay = first_delay
    while True:
        started = asyncio.get_running_loop().time()
        try:
            await task()
            if stopping is not None and stopping.is_set():
                return
            log.error("%s: background task %s ended; starting it again", name, _name_of(task))
        except asyncio.CancelledError:
            raise
        except Exception:
            if stopping is not None and stopping.is_set():
                return
            log.exception("%s: background task %s failed; starting it again", name, _name_of(task))
        if asyncio.get_running_loop().time() - started > max_delay:
            delay = first_delay  # it ran well for a while: not a crash loop
        await asyncio.sleep(delay)
        delay = min(max_delay, delay * 2)


def _name_of(task: Callable[..., Any]) -> str:
    return getattr(task, "__qualname__", repr(task))


async def serve(app: ServiceApp) -> None:
    """Run until SIGTERM/SIGINT, then drain and stop gracefully."""
    interceptors: list[grpc.aio.ServerInterceptor] = [ErrorMappingInterceptor()]
    if app.callers is not None:
        interceptors.insert(0, RequireCaller(app.callers))
    else:
        log.warning("%s: ES_SERVICE_CALLERS is not set: any caller may use this service", app.name)
    if app.metrics is not None:
        interceptors.insert(0, GrpcServerMetrics(app.metrics))
        app.metrics.serve()
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 16 << 20)],
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for registration in app.services:
        registration.add(registration.servicer, server)
    names = [s.name for s in app.services]
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    if server.add_insecure_port(app.address) == 0:
        raise OSError(f"{app.name}: cannot bind {app.address}")
    await server.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    background = [
        asyncio.create_task(supervised(app.name, task, stopping=stop), name=f"{app.name}-{_name_of(task)}")
        for task in app.tasks
    ]
    readiness = asyncio.create_task(_mark_ready(app, health_servicer))
    stopper = asyncio.create_task(stop.wait())
    await stopper
    background.append(readiness)

    log.info("%s stopping", app.name)
    await health_servicer.enter_graceful_shutdown()
    for drain in app.draining:
        try:
            await asyncio.wait_for(drain(), timeout=app.grace_seconds)
        except Exception:
            log.warning("%s: draining failed or timed out", app.name, exc_info=True)
    await server.stop(app.grace_seconds)
    for task in background:
        task.cancel()
    # Bounded: a task that ignores its cancellation must not keep the process alive.
    done, pending = await asyncio.wait(background, timeout=5)
    for task in pending:
        log.warning("%s: task %s did not stop", app.name, task.get_name())
    for task in done:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            task.result()
    stopper.cancel()
    for close in app.closers:
        try:
            await asyncio.wait_for(close(), timeout=5)
        except Exception:
            log.warning("%s: a closer failed or timed out", app.name, exc_info=True)
    if app.metrics is not None:
        app.metrics.close()
    log.info("%s stopped", app.name)


def run(build: Callable[[Any], Awaitable[ServiceApp]], settings: Any) -> None:
    """Entry point for `python -m services.<name>`."""

    async def main() -> None:
        app = await build(settings)
        settle_garbage_collector()
        await serve(app)

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
    _exit_past_stragglers()


# Allocations (net of frees) before a young collection; Python's default is 700.
YOUNG_COLLECTION_THRESHOLD = 20_000


def settle_garbage_collector() -> None:
    """Everything built at start (modules, the app, compiled validators) is moved out of the
    collector's reach (gc.freeze): a full collection then walks only what the service makes
    while it runs, not its whole heap. The rare full pass over the heap was a ~100 ms stop
    that showed as one second's p99 in every latency run.

    Young collections wait for 20,000 net allocations instead of 700: nearly everything a
    request makes is freed by its reference count, so the collector mostly walked the work in
    flight (a worker's queued events and attempt records) — hundreds of times a second for
    nothing: 0.13 s of a router's and 0.36 s of a worker's CPU over 62,000 batched events
    (gc.callbacks), against 1 ms and 11–29 ms at 20,000."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)


def _exit_past_stragglers(grace_seconds: float = 2.0) -> None:
    """Once the service has stopped, exit even if a library thread lingers (a database
    driver's connection thread still waiting out a lock for a write that shutdown already
    gave up on): a stopped service must not stay a process."""
    deadline = time.monotonic() + grace_seconds
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    lingering = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if lingering:
        log.warning("exiting past threads that did not end: %s", ", ".join(lingering))
        logging.shutdown()
        os._exit(0)
