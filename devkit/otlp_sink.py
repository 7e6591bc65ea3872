"""A stand-in OpenTelemetry collector for the bench: takes OTLP/HTTP trace exports
(`POST /v1/traces`, protobuf), counts requests and bytes, and answers as a collector does —
so tracing's cost can be measured with the exporter really exporting.

    python -m devkit.otlp_sink --port 4318      # GET /_stats: {"requests", "bytes"}
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web


def app() -> web.Application:
    stats = {"requests": 0, "bytes": 0}

    async def traces(request: web.Request) -> web.Response:
        body = await request.read()
        stats["requests"] += 1
        stats["bytes"] += len(body)
        # An empty ExportTraceServiceResponse: everything accepted.
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def read_stats(_request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(stats), content_type="application/json")

    made = web.Application(client_max_size=64 << 20)
    made.router.add_post("/v1/traces", traces)
    made.router.add_get("/_stats", read_stats)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=4318)
    args = parser.parse_args()
    web.run_app(app(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
