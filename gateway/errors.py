"""Twilio's error body at the REST edge, from our own errors and from gRPC statuses."""

from __future__ import annotations

import grpc
from starlette.responses import JSONResponse

from runtime.errors import HTTP_STATUS_KEY, TWILIO_CODE_KEY, ServiceError

# Used when a gRPC error carries no Twilio code of its own.
GRPC_DEFAULTS: dict[grpc.StatusCode, tuple[int, int]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, 20001),
    grpc.StatusCode.FAILED_PRECONDITION: (400, 20001),
    grpc.StatusCode.OUT_OF_RANGE: (400, 20001),
    grpc.StatusCode.ALREADY_EXISTS: (409, 20001),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, 20429),
    grpc.StatusCode.NOT_FOUND: (404, 20404),
    grpc.StatusCode.UNAUTHENTICATED: (401, 20003),
    grpc.StatusCode.PERMISSION_DENIED: (403, 20403),
    grpc.StatusCode.UNAVAILABLE: (503, 20503),
    grpc.StatusCode.DEADLINE_EXCEEDED: (503, 20503),
}


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def from_service_error(exc: ServiceError) -> JSONResponse:
    return twilio_error(exc.http_status, exc.twilio_code, exc.message)


# What a client is told of a server-side failure: a backend's own text (an exception, an
# address it could not reach) stays in the gateway's log.
SERVER_SIDE_MESSAGES = {503: "Service Unavailable: please retry"}


def from_grpc(exc: grpc.aio.AioRpcError) -> JSONResponse:
    status, code = GRPC_DEFAULTS.get(exc.code(), (500, 20500))
    ours = False
    for key, value in exc.trailing_metadata() or ():
        if key == TWILIO_CODE_KEY:
            code, ours = int(value), True
        elif key == HTTP_STATUS_KEY:
            status = int(value)
    if status >= 500 and not ours:
        return twilio_error(status, code, SERVER_SIDE_MESSAGES.get(status, "Internal Server Error"))
    return twilio_error(status, code, exc.details() or exc.code().name)
