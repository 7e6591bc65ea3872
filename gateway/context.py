"""What every REST handler needs: the authenticated account, the backends, URL building."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from eventstreams.v1 import catalog_pb2_grpc, control_pb2, control_pb2_grpc, delivery_pb2_grpc
from gateway import forms
from gateway.auth import Authenticator


class Sessions(Protocol):
    """A credential the browser holds as a cookie (the tenant portal's session)."""

    async def principal_of(self, request: Request) -> control_pb2.Principal | None: ...


@dataclass(frozen=True)
class Backends:
    control: control_pb2_grpc.ControlAsyncStub
    catalog: catalog_pb2_grpc.CatalogAsyncStub
    delivery: delivery_pb2_grpc.DeliveryAsyncStub
    auth: Authenticator
    public_url: str
    portal: Sessions | None = None


@dataclass(frozen=True)
class Call:
    request: Request
    principal: control_pb2.Principal
    backends: Backends

    @property
    def account(self) -> control_pb2.Account:
        return self.principal.account

    @property
    def base(self) -> str:
        return self.backends.public_url or str(self.request.base_url).rstrip("/")

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    async def form(self) -> Any:
        return await forms.read(self.request)


Handler = Callable[[Call], Awaitable[Response]]


def authenticated(backends: Backends, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        authorization = request.headers.get("authorization")
        # A portal session answers only when no credential is given: an explicit one wins.
        principal = None
        if authorization is None and backends.portal is not None:
            principal = await backends.portal.principal_of(request)
        if principal is None:
            client = request.client.host if request.client else None
            principal = await backends.auth.principal(authorization, client)
        return await handler(Call(request, principal, backends))

    return endpoint


def created(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=201)


def ok(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body)


def no_content() -> Response:
    return Response(status_code=204)
