"""Twilio's error body from a backend's gRPC error: the status and code it maps to, and a
server-side failure's own text (an exception, an address) kept from the client."""

from __future__ import annotations

import json

import grpc
import pytest

from gateway.errors import from_grpc
from runtime.errors import HTTP_STATUS_KEY, TWILIO_CODE_KEY

pytestmark = pytest.mark.unit


def rpc_error(
    code: grpc.StatusCode, details: str, trailing: tuple[tuple[str, str], ...] = ()
) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing), details=details)


@pytest.mark.parametrize(
    ("code", "details", "status", "message"),
    [
        (
            grpc.StatusCode.UNKNOWN,
            "Exception calling application: (sqlite3.OperationalError) disk I/O",
            500,
            "Internal Server Error",
        ),
        (
            grpc.StatusCode.INTERNAL,
            "asyncpg.exceptions.ConnectionDoesNotExistError",
            500,
            "Internal Server Error",
        ),
        (
            grpc.StatusCode.UNAVAILABLE,
            "failed to connect to all addresses; last error: ipv4:10.0.3.7:50052: Connection refused",
            503,
            "Service Unavailable: please retry",
        ),
        (
            grpc.StatusCode.INVALID_ARGUMENT,
            "Sink could not be created: method must be POST or GET",
            400,
            None,
        ),
        (grpc.StatusCode.NOT_FOUND, "The requested resource /Sinks/DGx was not found", 404, None),
    ],
)
def test_server_side_text_stays_in_the_gateway(
    code: grpc.StatusCode, details: str, status: int, message: str | None
) -> None:
    response = from_grpc(rpc_error(code, details))
    body = json.loads(bytes(response.body))
    assert (response.status_code, body["status"]) == (status, status)
    assert body["message"] == (message or details)


def test_an_error_our_service_raised_on_purpose_keeps_its_words() -> None:
    error = rpc_error(
        grpc.StatusCode.UNAVAILABLE,
        "Catalog is starting; try again",
        ((TWILIO_CODE_KEY, "20503"), (HTTP_STATUS_KEY, "503")),
    )
    body = json.loads(bytes(from_grpc(error).body))
    assert (body["code"], body["message"]) == (20503, "Catalog is starting; try again")
