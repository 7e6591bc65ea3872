"""The tenant portal (an extension; Svix calls it the App Portal): an account issues a signed,
expiring link that opens the console scoped to one of its subaccounts (or itself).

    POST   /v1/PortalLinks      AccountSid=AC… [Ttl=seconds]  → {url, token, date_expires, …}
    POST   /v1/PortalLinks/ExpireAll  [AccountSid=AC…]  every link and session issued until now
                                                         refused (Svix's "expire all")
    POST   /v1/PortalSessions   Token=…  → a session cookie (HttpOnly, SameSite=Strict)
    DELETE /v1/PortalSessions   the cookie cleared

The browser never holds an auth token: the link's token is traded for a cookie scripts cannot
read, and every call made with that cookie is answered as the subaccount (the scope is the
account every handler already reads, `Call.account`), on the resources `portal_allows` names.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from eventstreams.v1 import control_pb2, control_pb2_grpc
from gateway import forms
from gateway.accounts import require_auth_token
from gateway.context import Backends, Call, authenticated, created, ok
from gateway.errors import twilio_error
from gateway.portal_tokens import (
    LINK,
    SESSION,
    Grant,
    PortalRefused,
    expired_by_account,
    portal_allows,
    sign,
    ttl_problem,
    verify,
)
from gateway.routing import resources
from runtime.errors import InvalidArgument, PermissionDenied

COOKIE = "evs_portal"
DEFAULT_TTL_SECONDS = 3600


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


class Portal:
    """Issues and checks portal tokens; knows which account a session cookie stands for."""

    def __init__(
        self,
        control: control_pb2_grpc.ControlAsyncStub,
        secret: str,
        max_ttl_seconds: int,
        cache_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._control = control
        # No secret configured: one of this process's own, so its links work on this replica only.
        self._secret = (secret or secrets.token_hex(32)).encode()
        self.max_ttl_seconds = max_ttl_seconds
        self._cache_seconds = cache_seconds
        self._clock = clock
        # session token -> (checked at, principal)
        self._cache: dict[str, tuple[float, control_pb2.Principal]] = {}

    def now(self) -> float:
        return self._clock()

    def link(self, account_sid: str, issuer_sid: str, ttl: int) -> tuple[str, int]:
        now = self.now()
        expires = int(now) + ttl
        return sign(self._secret, Grant(account_sid, issuer_sid, expires, int(now * 1000)), LINK), expires

    def forget(self, account_sid: str) -> None:
        """Drop this replica's trust in the account's sessions at once (its links were
        expired); other replicas re-check theirs within the cache's seconds."""
        for token, (_, principal) in list(self._cache.items()):
            if principal.account.sid == account_sid:
                del self._cache[token]

    async def session(self, link_token: str) -> tuple[str, Grant, control_pb2.Account]:
        """A session token for the link's account, expiring with the link."""
        grant = verify(self._secret, link_token, LINK, self.now())
        account = await self._account(grant)
        return sign(self._secret, grant, SESSION), grant, account

    async def principal(self, session_token: str, method: str, path: str) -> control_pb2.Principal:
        """The account a session cookie stands for, if the call is one the portal may make."""
        now = self.now()
        grant = verify(self._secret, session_token, SESSION, now)
        if not portal_allows(method, path):
            raise PermissionDenied("The tenant portal does not reach this resource")
        cached = self._cache.get(session_token)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        principal = control_pb2.Principal(account=await self._account(grant))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[session_token] = (now, principal)
        return principal

    async def _account(self, grant: Grant) -> control_pb2.Account:
        """The granted account, still the issuer's own or its subaccount, and active — checked
        again as a credential is, so suspending either ends the portal's sessions."""
        try:
            issuer = await self._control.GetAccount(
                control_pb2.GetAccountRequest(account_sid=grant.issuer_sid, sid=grant.issuer_sid)
            )
            account = await self._control.GetAccount(
                control_pb2.GetAccountRequest(account_sid=grant.issuer_sid, sid=grant.account_sid)
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:  # gone, or no longer the issuer's
                raise PortalRefused("Authenticate: the portal link's account is gone") from exc
            raise
        if issuer.status != "active" or account.status != "active":
            raise PortalRefused("Authenticate: the portal link's account is not active")
        if expired_by_account(grant, account.portal_links_not_before_ms):
            raise PortalRefused("Authenticate: the portal link was expired by its issuer; ask for a new one")
        return account

    async def principal_of(self, request: Request) -> control_pb2.Principal | None:
        """The principal of a request's portal session cookie (None: it carries none)."""
        token = request.cookies.get(COOKIE)
        if token is None:
            return None
        if not same_origin(request):
            raise PermissionDenied("A portal session is used from the gateway's own pages only")
        method = "GET" if request.method == "HEAD" else request.method
        return await self.principal(token, method, request.url.path)


def same_origin(request: Request) -> bool:
    """A cookie-carrying call that changes something must come from the gateway's own pages
    (SameSite=Strict already keeps other sites' requests from carrying it; this is the
    second lock for browsers that ignore it)."""
    origin = request.headers.get("origin")
    if origin is None or request.method in ("GET", "HEAD"):
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _portal(call: Call) -> Portal:
    assert isinstance(call.backends.portal, Portal)
    return call.backends.portal


async def create_link(call: Call) -> Response:
    # Only the auth token: a portal opens another account's data, as managing accounts does.
    require_auth_token(call)
    form = await call.form()
    forms.reject_unknown(form, {"AccountSid", "Ttl"})
    portal = _portal(call)
    account_sid = forms.optional(form, "AccountSid") or call.account.sid
    raw_ttl = forms.optional(form, "Ttl")
    try:
        ttl = int(raw_ttl) if raw_ttl else min(DEFAULT_TTL_SECONDS, portal.max_ttl_seconds)
    except ValueError as exc:
        raise InvalidArgument("Ttl must be a whole number of seconds") from exc
    if (problem := ttl_problem(ttl, portal.max_ttl_seconds)) is not None:
        raise InvalidArgument(problem)
    # The caller's own account or one of its subaccounts: 404 otherwise.
    account = await call.backends.control.GetAccount(
        control_pb2.GetAccountRequest(account_sid=call.account.sid, sid=account_sid)
    )
    token, expires = portal.link(account.sid, call.account.sid, ttl)
    return created(
        {
            "account_sid": account.sid,
            "issuer_sid": call.account.sid,
            "ttl": ttl,
            "date_expires": iso(expires),
            # The token rides in the fragment: browsers never send it to a server or a log.
            "url": call.url(f"/console/#/portal/{token}"),
            "token": token,
        }
    )


async def expire_links(call: Call) -> Response:
    """Every link and session of the account (the caller's own, or one of its subaccounts)
    issued until now refused; links made afterwards work."""
    require_auth_token(call)
    form = await call.form()
    forms.reject_unknown(form, {"AccountSid"})
    account_sid = forms.optional(form, "AccountSid") or call.account.sid
    account = await call.backends.control.ExpirePortalLinks(
        control_pb2.GetAccountRequest(account_sid=call.account.sid, sid=account_sid)
    )
    _portal(call).forget(account.sid)
    return ok({"account_sid": account.sid, "date_expired": iso(account.portal_links_not_before_ms / 1000)})


def _set_cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def session_routes(backends: Backends) -> list[Route]:
    async def open_session(request: Request) -> Response:
        portal = backends.portal
        if not isinstance(portal, Portal):
            return twilio_error(404, 20404, "The tenant portal is not enabled")
        form = await forms.read(request)
        forms.reject_unknown(form, {"Token"})
        token, grant, account = await portal.session(forms.required(form, "Token"))
        response = JSONResponse(
            {
                "account_sid": account.sid,
                "friendly_name": account.friendly_name,
                "date_expires": iso(grant.expires_at),
            },
            status_code=201,
        )
        _set_cookie(response, request, token, max(1, grant.expires_at - int(portal.now())))
        return response

    async def close_session(request: Request) -> Response:
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return resources(
        ("/v1/PortalSessions", "POST", open_session),
        ("/v1/PortalSessions", "DELETE", close_session),
    )


def routes(backends: Backends) -> list[Route]:
    return [
        *resources(
            ("/v1/PortalLinks", "POST", authenticated(backends, create_link)),
            ("/v1/PortalLinks/ExpireAll", "POST", authenticated(backends, expire_links)),
        ),
        *session_routes(backends),
    ]
