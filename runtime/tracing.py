"""OpenTelemetry traces: publish → route → JetStream → deliver, one connected trace per
event. The router starts a `route` span per event (under the Publish call's span, itself
under the producer's when it sent a `traceparent`), and carries its context in the
message's headers (W3C `traceparent`); the worker's `deliver` span per attempt is its child.

Off by default: with no `ES_OTLP_ENDPOINT` a service gets no tracer and spends nothing on
it. The provider is the service's own (built by its composition root), never the global one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATOR = TraceContextTextMapPropagator()
TRACE_HEADERS = ("traceparent", "tracestate")

# Span attributes (OpenTelemetry's messaging conventions where they fit, ours otherwise).
EVENT_ID = "event_streams.event.id"
SINK_SID = "event_streams.sink.sid"
SINK_TYPE = "event_streams.sink.type"
EVENT_TYPE = "event_streams.event.type"
ACCOUNT_SID = "event_streams.account.sid"
OUTCOME = "event_streams.delivery.outcome"
ATTEMPT = "event_streams.delivery.attempt"


def provider(service: str, exporter: SpanExporter, ratio: float = 1.0) -> TracerProvider:
    """Spans of a `ratio` of the traces started here; a span whose parent was (not) sampled
    is (not) sampled either, so a trace is whole or absent."""
    made = TracerProvider(
        resource=Resource.create({"service.name": f"event-streams-{service}"}),
        sampler=ParentBased(TraceIdRatioBased(ratio)),
    )
    made.add_span_processor(BatchSpanProcessor(exporter))
    return made


def tracer_for(
    service: str, otlp_endpoint: str, ratio: float = 1.0
) -> tuple[Tracer | None, TracerProvider | None]:
    """The service's tracer (and its provider, to shut down), exporting over OTLP/HTTP to
    `otlp_endpoint`; (None, None) when it is empty: tracing off."""
    if not otlp_endpoint:
        return None, None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = otlp_endpoint.rstrip("/")
    if not endpoint.endswith("/v1/traces"):
        endpoint += "/v1/traces"
    made = provider(service, OTLPSpanExporter(endpoint=endpoint), ratio)
    return made.get_tracer("event-streams"), made


def inject(context: Context | None = None) -> dict[str, str]:
    """The W3C trace headers of `context` (the current one when None)."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier, context=context)
    return carrier


def extract(headers: Mapping[str, str] | None) -> Context | None:
    """The context a message's headers carry, None when they carry none."""
    if not headers or "traceparent" not in headers:
        return None
    return PROPAGATOR.extract(dict(headers))


def extract_grpc(metadata: Iterable[tuple[str, str | bytes]] | None) -> Context | None:
    """The context a gRPC call's metadata carries (a producer that traces sends it)."""
    carrier: MutableMapping[str, str] = {}
    for key, value in metadata or ():
        if key in TRACE_HEADERS and isinstance(value, str):
            carrier[key] = value
    return PROPAGATOR.extract(carrier) if "traceparent" in carrier else None
