"""HTTP Basic with Account SID + auth token or API key SID + secret, verified by control."""

from __future__ import annotations

import base64
import binascii
import hashlib
import time

import grpc

from eventstreams.v1 import control_pb2, control_pb2_grpc
from gateway.login_throttle import FailedLogins
from runtime.errors import Unauthenticated


class Authenticator:
    def __init__(
        self,
        control: control_pb2_grpc.ControlAsyncStub,
        cache_seconds: float,
        failures: FailedLogins | None = None,
    ) -> None:
        self._control = control
        self._ttl = cache_seconds
        self._failures = failures or FailedLogins()
        # username -> (verified at, sha256 of the password, principal)
        self._cache: dict[str, tuple[float, str, control_pb2.Principal]] = {}

    async def principal(self, authorization: str | None, client: str | None = None) -> control_pb2.Principal:
        """The principal `authorization` names, asked for from the address `client`."""
        failure = Unauthenticated("Authenticate", twilio_code=20003)
        if not authorization or not authorization.lower().startswith("basic "):
            raise failure
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise failure from exc
        username, _, password = decoded.partition(":")
        if not username or not password:
            raise failure
        digest = hashlib.sha256(password.encode()).hexdigest()
        cached = self._cache.get(username)
        now = time.monotonic()
        if cached is not None and cached[1] == digest and now - cached[0] < self._ttl:
            return cached[2]
        wait = self._failures.refused_for(username, client, now)
        if wait > 0:
            # Refused unchecked, as any wrong credential is (401, 20003: what clients and
            # Twilio's spec expect), so guessing from here gains nothing until the window
            # has passed; the same username from another address is still checked.
            raise Unauthenticated(
                f"Authenticate: too many failed sign-ins for {username}; try again in {wait:.0f} s",
                twilio_code=20003,
            )
        try:
            principal = await self._control.Authenticate(
                control_pb2.AuthenticateRequest(username=username, password=password), timeout=5
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                self._failures.failed(username, client, now)
                raise failure from exc
            raise
        self._failures.succeeded(username, client)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[username] = (now, digest, principal)
        return principal

    def forget(self, username: str) -> None:
        """A credential revoked through this gateway stops working here at once (other
        replicas trust their cache for at most `cache_seconds`)."""
        self._cache.pop(username, None)

    def forget_account(self, account_sid: str) -> None:
        """Every credential of an account (its tokens and its keys) checked again next time:
        after a rotation or a change of its status."""
        for username in [u for u, (_, _, p) in self._cache.items() if p.account.sid == account_sid]:
            del self._cache[username]
