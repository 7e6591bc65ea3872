"""The bare gRPC floor: a grpc.aio server with nothing but grpc.health on uvloop, as our
services run it, and none of our code (no interceptors, no token check, no metrics) — what
any call to one of our services costs before it does anything (devkit.bench_producer).

    python -m devkit.grpc_floor PORT
"""

from __future__ import annotations

import sys

import grpc
import uvloop
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


async def serve(port: int) -> None:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
