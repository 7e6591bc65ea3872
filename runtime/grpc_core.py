"""gRPC core's process-wide switches. gRPC reads them from the environment once, when grpc is
first imported, so a service sets them first thing in its `__main__`, before any import that
brings grpc in.

The one we set: a server's accepted connections are served by gRPC's long-standing TCP
server rather than its EventEngine listener (the `event_engine_listener` experiment, on by
default in grpcio 1.85). With the EventEngine each message read or written on a connection
hops between gRPC's own threads and the one that polls for the event loop: a bidirectional
stream at 500 messages a second woke 7.2 threads per message against 4.0 with the older
server, for ~25 % more of the server's CPU per message (`python -m devkit.bench_grpc_core`).
At steady rates, one event a message, that is what a Publish costs most of.

An operator's own GRPC_EXPERIMENTS (even empty) is left as it is."""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

VARIABLE = "GRPC_EXPERIMENTS"
SERVER_EXPERIMENTS = "-event_engine_listener"


def configure(environ: MutableMapping[str, str] = os.environ) -> str:
    """Set our switches unless the environment already names its own; the ones in effect.
    Raises if grpc is already imported: the switches would be ignored without a word."""
    if VARIABLE in environ:
        return environ[VARIABLE]
    if "grpc" in sys.modules:
        raise RuntimeError("grpc_core.configure() must run before grpc is imported")
    environ[VARIABLE] = SERVER_EXPERIMENTS
    return SERVER_EXPERIMENTS
