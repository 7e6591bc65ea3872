"""The gateway's OpenAPI document: Twilio's own Events v1 spec (vendored unchanged in
gateway/openapi/), served with `servers` pointing at this gateway.

Rendering the document costs ~170 ms of CPU, and anyone may ask for it: it is rendered once
per format with a placeholder server URL, and each request only puts its own URL in."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SPEC = Path(__file__).parent / "openapi" / "twilio_events_v1.yaml"
# A URL no spec text contains; rendered as a plain scalar in YAML and a plain string in JSON.
PLACEHOLDER = "https://gateway-url.invalid/4f1c2d"

Format = Literal["json", "yaml"]


def document(base_url: str) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    spec["servers"] = [{"url": base_url}]
    for item in spec.get("paths", {}).values():
        if isinstance(item, dict) and "servers" in item:
            item["servers"] = [{"url": base_url}]
    return spec


@cache
def rendered(kind: Format) -> str:
    spec = document(PLACEHOLDER)
    if kind == "json":
        return json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)


def forget_rendered() -> None:
    rendered.cache_clear()


def served(kind: Format, base_url: str) -> str:
    """The document for a gateway at `base_url`. A JSON string is a valid YAML double-quoted
    scalar, so one quoting serves both formats whatever the URL holds."""
    if kind == "json":
        return rendered(kind).replace(json.dumps(PLACEHOLDER), json.dumps(base_url))
    return rendered(kind).replace(PLACEHOLDER, json.dumps(base_url))


def routes(public_url: str) -> list[Route]:
    def base(request: Request) -> str:
        return public_url or str(request.base_url).rstrip("/")

    async def as_json(request: Request) -> Response:
        return Response(served("json", base(request)), media_type="application/json")

    async def as_yaml(request: Request) -> Response:
        return Response(served("yaml", base(request)), media_type="application/yaml")

    return [
        Route("/openapi.json", as_json, methods=["GET"]),
        Route("/openapi.yaml", as_yaml, methods=["GET"]),
    ]
