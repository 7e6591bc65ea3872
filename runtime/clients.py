"""gRPC channels to the other services, created the same way everywhere."""

from __future__ import annotations

import json

import grpc

from runtime.service_auth import attach_token

# A call that finds its replica gone (UNAVAILABLE: a process killed a moment ago, its
# connection not yet seen broken) is sent again, to the next replica round robin picks: one
# replica's death is not the caller's error. UNAVAILABLE means the call was not served, so a
# retry is safe; Publish, the one call producers repeat, is idempotent by event id anyway.
RETRY_SERVICE_CONFIG = {
    "methodConfig": [
        {
            "name": [{}],
            "retryPolicy": {
                "maxAttempts": 3,
                "initialBackoff": "0.05s",
                "maxBackoff": "0.5s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ]
}

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.enable_retries", 1),
    ("grpc.service_config", json.dumps(RETRY_SERVICE_CONFIG)),
    # Over every address a target resolves to (replicas; a headless Service), skipping one
    # that is down; with a single address the same as pick_first.
    ("grpc.lb_policy_name", "round_robin"),
]


def channel(address: str, service_token: str = "") -> grpc.aio.Channel:
    """A channel to another service, carrying this caller's credential when there is one
    (runtime/service_auth.py)."""
    interceptors = attach_token(service_token) if service_token else None
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS, interceptors=interceptors)
