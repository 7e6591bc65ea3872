"""An extension: the sink types this deployment offers, each as its declaration describes it
(`runtime.sinks.registry`) — title, summary, initial status, usage category, limits and its
configuration form as JSON Schema — for the console and `evs` to build their forms from, so
that neither spells the list itself.

    GET /v1/SinkTypes"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from gateway.context import Backends, Call, authenticated, ok
from gateway.routing import resources
from runtime.sinks import registry


async def list_sink_types(call: Call) -> Any:
    return ok({"sink_types": [kind.describe() for kind in registry.TYPES], "url": call.url("/v1/SinkTypes")})


def routes(backends: Backends) -> list[Route]:
    return resources(("/v1/SinkTypes", "GET", authenticated(backends, list_sink_types)))
