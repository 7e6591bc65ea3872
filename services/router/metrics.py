"""The router's Prometheus figures (runtime/metrics.py): events by result, deliveries routed
by sink type, publishes sent again and awaiting JetStream."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import grpc

from eventstreams.v1 import router_pb2
from runtime.metrics import Metrics
from services.router.bus import JetStreamBus

CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


class RouterMetrics:
    """Observes Publish (services/router/publishing.py's PublishObserver)."""

    def __init__(self, metrics: Metrics, bus: JetStreamBus) -> None:
        self._events = metrics.counter(
            "es_router_events_total",
            "events given to Publish, by result: OK (on JetStream for every matching sink) or "
            "the gRPC code it was refused with (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, "
            "UNAVAILABLE: publish again)",
            ["result"],
        )
        self._routed = metrics.counter(
            "es_router_deliveries_routed_total",
            "(event, sink) messages JetStream acknowledged, by sink type",
            ["sink_type"],
        )
        metrics.readings.counter(
            "es_router_publish_resends",
            "publishes JetStream left unanswered, sent again with the same Nats-Msg-Id",
            lambda: float(bus.resent),
        )
        metrics.readings.gauge(
            "es_router_publishes_awaiting_ack",
            "publishes sent to JetStream and not answered yet",
            lambda: [({}, float(bus.waiting))],
        )

    def published(self, results: Sequence[router_pb2.EventResult]) -> None:
        # One increment per result code, not per event: a batch is mostly one code.
        for code, count in Counter(result.code for result in results).items():
            self._events.labels(CODE_NAMES.get(code, str(code))).inc(count)

    def routed(self, sink_type: str, count: int) -> None:
        self._routed.labels(sink_type or "unknown").inc(count)
