"""The gateway's OpenAPI document: Twilio's own Events v1 spec (vendored unchanged in
gateway/openapi/), served with `servers` pointing at this gateway."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SPEC = Path(__file__).parent / "openapi" / "twilio_events_v1.yaml"


@cache
def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    return loaded


def document(base_url: str) -> dict[str, Any]:
    spec = copy.deepcopy(_document())
    spec["servers"] = [{"url": base_url}]
    for item in spec.get("paths", {}).values():
        if isinstance(item, dict) and "servers" in item:
            item["servers"] = [{"url": base_url}]
    return spec


def routes(public_url: str) -> list[Route]:
    def base(request: Request) -> str:
        return public_url or str(request.base_url).rstrip("/")

    async def as_json(request: Request) -> Response:
        return JSONResponse(document(base(request)))

    async def as_yaml(request: Request) -> Response:
        return Response(
            yaml.safe_dump(document(base(request)), sort_keys=False), media_type="application/yaml"
        )

    return [
        Route("/openapi.json", as_json, methods=["GET"]),
        Route("/openapi.yaml", as_yaml, methods=["GET"]),
    ]
