"""The error taxonomy. Services raise these; the gRPC edge maps them to status codes (and
carries the Twilio code and HTTP status in trailing metadata for the REST gateway)."""

from __future__ import annotations

import grpc

TWILIO_CODE_KEY = "twilio-code"
HTTP_STATUS_KEY = "http-status"


class ServiceError(Exception):
    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    http_status: int = 500
    twilio_code: int = 20500

    def __init__(
        self, message: str, *, twilio_code: int | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if twilio_code is not None:
            self.twilio_code = twilio_code
        if http_status is not None:
            self.http_status = http_status

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return ((TWILIO_CODE_KEY, str(self.twilio_code)), (HTTP_STATUS_KEY, str(self.http_status)))


class InvalidArgument(ServiceError):
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400
    twilio_code = 20001


class NotFound(ServiceError):
    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404
    twilio_code = 20404


class FailedPrecondition(ServiceError):
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 400
    twilio_code = 20001


class LimitExceeded(ServiceError):
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 400
    twilio_code = 20001


class Unauthenticated(ServiceError):
    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401
    twilio_code = 20003


class PermissionDenied(ServiceError):
    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403
    twilio_code = 20403


class Unavailable(ServiceError):
    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503
    twilio_code = 20503


class AlreadyExists(ServiceError):
    grpc_code = grpc.StatusCode.ALREADY_EXISTS
    http_status = 409
    twilio_code = 20001
