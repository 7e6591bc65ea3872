"""Prometheus metrics: one registry per process (built by its composition root, never the
client library's global one), served on a port of its own (`ES_METRICS_PORT`), and the
gRPC server's own figures — the names go-grpc-prometheus made the convention, so existing
dashboards and alerts read them.

Labels are bounded by design: sink type, outcome, error code, gRPC method and code, HTTP
route template — never a sink, account or event id (a label per sink is a time series per
sink: unbounded at scale; per-sink figures are the REST API's: GET /v1/Sinks/{Sid}/Health).
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from runtime import grpc_wrap

log = logging.getLogger(__name__)

# Seconds: from a millisecond call to the 4-hour retry window's end.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 14400)
CALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Readings(Collector):
    """Figures read when scraped, from functions the service hands over (a queue's depth,
    a counter another object keeps): nothing to keep in step."""

    def __init__(self) -> None:
        self._gauges: list[tuple[str, str, Callable[[], Iterable[tuple[dict[str, str], float]]]]] = []
        self._counters: list[tuple[str, str, Callable[[], float]]] = []

    def gauge(
        self, name: str, documentation: str, read: Callable[[], Iterable[tuple[dict[str, str], float]]]
    ) -> None:
        self._gauges.append((name, documentation, read))

    def counter(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self._counters.append((name, documentation, read))

    def collect(self) -> Iterable[Metric]:
        for name, documentation, read_many in self._gauges:
            rows = list(read_many())
            labels = sorted({key for row, _ in rows for key in row})
            family = GaugeMetricFamily(name, documentation, labels=labels)
            for row, value in rows:
                family.add_metric([row.get(key, "") for key in labels], value)
            yield family
        for name, documentation, read in self._counters:
            yield CounterMetricFamily(name, documentation, value=read())


class LoopCounter(Collector):
    """A labelled counter updated only from the event loop: a plain dict of floats, no lock
    (prometheus_client takes a lock per update and validates the labels on every lookup: 4–5 %
    of a delivery worker at full load, three figures per event). Read by the exporter's
    thread at scrape time; copying a dict is one step under the GIL."""

    def __init__(self, name: str, documentation: str, labels: Iterable[str]) -> None:
        self._name, self._documentation, self._labels = name, documentation, list(labels)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, labels: tuple[str, ...], amount: float = 1.0) -> None:
        self._values[labels] = self._values.get(labels, 0.0) + amount

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labels)
        for labels, value in list(self._values.items()):
            family.add_metric(list(labels), value)
        yield family


class LoopHistogram(Collector):
    """A labelled histogram updated only from the event loop (see LoopCounter): per label set,
    a count per bucket, the sum and the count."""

    def __init__(
        self, name: str, documentation: str, labels: Iterable[str], buckets: Iterable[float]
    ) -> None:
        self._name, self._documentation, self._labels = name, documentation, list(labels)
        self._bounds = sorted(buckets)
        self._values: dict[tuple[str, ...], list[float]] = {}

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        self.observe_many(labels, (value,))

    def observe_many(self, labels: tuple[str, ...], values: Sequence[float]) -> None:
        """Each of `values` observed, in order (a delivery call's events, at once)."""
        if not values:
            return
        row = self._values.get(labels)
        if row is None:
            row = self._values[labels] = [0.0] * (len(self._bounds) + 3)  # buckets, +Inf, sum, count
        bounds, total = self._bounds, row[-2]
        for value in values:
            row[bisect.bisect_left(bounds, value)] += 1
            total += value
        row[-2] = total
        row[-1] += len(values)

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._labels)
        for labels, row in list(self._values.items()):
            row = list(row)
            cumulative, buckets = 0.0, []
            for bound, count in zip([*map(floatToGoString, self._bounds), "+Inf"], row[:-2], strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            family.add_metric(list(labels), buckets, row[-2])
        yield family


class Metrics:
    """One process's metrics."""

    def __init__(self, service: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.service = service
        self.host = host
        self.port = port  # 0: not served
        self.registry = CollectorRegistry(auto_describe=True)
        self.readings = Readings()
        self.registry.register(self.readings)
        self._server: Any = None

    def counter(self, name: str, documentation: str, labels: Iterable[str] = ()) -> Counter:
        return Counter(name, documentation, list(labels), registry=self.registry)

    def gauge(self, name: str, documentation: str, labels: Iterable[str] = ()) -> Gauge:
        return Gauge(name, documentation, list(labels), registry=self.registry)

    def loop_counter(self, name: str, documentation: str, labels: Iterable[str] = ()) -> LoopCounter:
        counter = LoopCounter(name, documentation, labels)
        self.registry.register(counter)
        return counter

    def loop_histogram(
        self,
        name: str,
        documentation: str,
        labels: Iterable[str] = (),
        buckets: Iterable[float] = LATENCY_BUCKETS,
    ) -> LoopHistogram:
        histogram = LoopHistogram(name, documentation, labels, buckets)
        self.registry.register(histogram)
        return histogram

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Iterable[str] = (),
        buckets: Iterable[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        return Histogram(name, documentation, list(labels), registry=self.registry, buckets=tuple(buckets))

    @classmethod
    def of(cls, service: str, settings: Any) -> Metrics | None:
        """A service's metrics, served where its settings say (ServiceSettings); None when
        they give no port: then nothing is counted at all (make bench measures the cost)."""
        if not settings.metrics_port:
            return None
        return cls(service, settings.metrics_host, settings.metrics_port)

    def serve(self) -> None:
        """/metrics on the port (a thread of the client library's own), until `close`."""
        if not self.port:
            return
        self._server, _ = start_http_server(self.port, addr=self.host, registry=self.registry)
        log.info("%s: metrics on http://%s:%d/metrics", self.service, self.host, self.port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class GrpcServerMetrics(grpc.aio.ServerInterceptor):
    """grpc_server_handled_total{grpc_service, grpc_method, grpc_code} and
    grpc_server_handling_seconds{grpc_service, grpc_method} of every call (streams: when
    they end). Outermost: it sees the code the error mapping gave."""

    def __init__(self, metrics: Metrics) -> None:
        self._handled = metrics.counter(
            "grpc_server_handled_total",
            "gRPC calls completed on the server, by method and status code",
            ["grpc_service", "grpc_method", "grpc_code"],
        )
        self._seconds = metrics.histogram(
            "grpc_server_handling_seconds",
            "time from a call's start to its end on the server",
            ["grpc_service", "grpc_method"],
            CALL_BUCKETS,
        )

    def _done(self, method: str, context: Any, started: float, failed: BaseException | None) -> None:
        service, _, name = method.lstrip("/").rpartition("/")
        code = context.code()
        if code is None:
            code = grpc.StatusCode.UNKNOWN if failed is not None else grpc.StatusCode.OK
        if isinstance(code, int):  # set as a number by a plain abort
            code = next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)
        self._handled.labels(service, name, code.name).inc()
        self._seconds.labels(service, name).observe(time.perf_counter() - started)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler: Any = await continuation(handler_call_details)
        method = handler_call_details.method
        if method.startswith("/grpc."):  # health and reflection: not ours
            return handler

        def timed(inner: grpc_wrap.Unary) -> grpc_wrap.Unary:
            async def unary(request: Any, context: Any) -> Any:
                started = time.perf_counter()
                failed: BaseException | None = None
                try:
                    return await inner(request, context)
                except BaseException as exc:
                    failed = exc
                    raise
                finally:
                    self._done(method, context, started, failed)

            return unary

        def timed_stream(inner: grpc_wrap.Streaming) -> grpc_wrap.Streaming:
            async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
                started = time.perf_counter()
                failed: BaseException | None = None
                try:
                    async for item in inner(request, context):
                        yield item
                except BaseException as exc:
                    failed = exc
                    raise
                finally:
                    self._done(method, context, started, failed)

            return stream

        return grpc_wrap.around(handler, timed, timed_stream)
