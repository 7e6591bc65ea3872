"""The tenant portal's signed tokens and its scope: pure, no I/O.

A portal link carries a token that names one account, the account that issued it, when it
was issued (so an account's links can be expired all at once) and when it expires, signed
with HMAC-SHA256 under the gateway's portal secret. The console trades it once for a session
cookie of the same form (another purpose, so neither passes for the other) that expires with
the link. Nothing in either is secret, only unforgeable: a changed byte fails the signature,
an old one its expiry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from runtime.errors import Unauthenticated

VERSION = "p1"
LINK = "link"
SESSION = "session"


@dataclass(frozen=True)
class Grant:
    """Access to one account's portal until `expires_at` (Unix seconds), given by `issuer_sid`
    at `issued_at_ms` (Unix milliseconds; 0 in a token made before tokens said it)."""

    account_sid: str
    issuer_sid: str
    expires_at: int
    issued_at_ms: int = 0


class PortalRefused(Unauthenticated):
    """A portal token that is malformed, forged, for another purpose, or expired: 401 20003,
    as any credential the gateway does not accept."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: str, payload: str) -> bytes:
    return hmac.new(secret, f"{VERSION}.{purpose}.{payload}".encode(), hashlib.sha256).digest()


def sign(secret: bytes, grant: Grant, purpose: str) -> str:
    fields = {"a": grant.account_sid, "i": grant.issuer_sid, "e": grant.expires_at, "t": grant.issued_at_ms}
    return sign_fields(secret, json.dumps(fields, separators=(",", ":")).encode(), purpose)


def sign_fields(secret: bytes, fields: bytes, purpose: str) -> str:
    """A token carrying `fields` (a grant's JSON) as they are: `sign`'s, and a test's way
    to make the tokens of earlier releases or malformed ones."""
    payload = _b64(fields)
    return f"{VERSION}.{payload}.{_b64(_mac(secret, purpose, payload))}"


def verify(secret: bytes, token: str, purpose: str, now: float) -> Grant:
    """The grant `token` carries, if this secret signed it for `purpose` and it has not expired."""
    version, _, rest = token.partition(".")
    payload, _, signature = rest.partition(".")
    if version != VERSION or not payload or not signature:
        raise PortalRefused("Authenticate: not a portal token")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError) as exc:
        raise PortalRefused("Authenticate: not a portal token") from exc
    if not hmac.compare_digest(given, _mac(secret, purpose, payload)):
        raise PortalRefused("Authenticate: the portal token's signature does not match")
    try:
        fields = json.loads(_unb64(payload))
        grant = Grant(str(fields["a"]), str(fields["i"]), int(fields["e"]), int(fields.get("t", 0)))
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise PortalRefused("Authenticate: not a portal token") from exc
    if now >= grant.expires_at:
        raise PortalRefused("Authenticate: the portal link has expired; ask for a new one")
    return grant


# What a portal session may reach: the account's sinks (their health, delivery logs, dead
# letters, replays), its subscriptions, its error log, and the catalogue every account
# reads. Not accounts, keys, auth tokens, usage, or portal links: those are the issuer's.
PORTAL_PREFIXES = ("/v1/Sinks", "/v1/Subscriptions", "/v1/Alerts", "/v1/SinkTypes")
CATALOGUE_PREFIXES = ("/v1/Types", "/v1/Schemas")


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def portal_allows(method: str, path: str) -> bool:
    """Whether a portal session may make this call (the account scope is applied apart)."""
    if _under(path, PORTAL_PREFIXES):
        return True
    return method in ("GET", "HEAD") and _under(path, CATALOGUE_PREFIXES)


def expired_by_account(grant: Grant, not_before_ms: int) -> bool:
    """Whether the account's links were expired (at `not_before_ms`) since this one was issued."""
    return not_before_ms > 0 and grant.issued_at_ms <= not_before_ms


def ttl_problem(ttl: int, cap: int) -> str | None:
    """Why a link's requested lifetime is refused (None: it is fine)."""
    if ttl < 1:
        return "Ttl must be at least 1 second"
    if ttl > cap:
        return f"Ttl must be at most {cap} seconds (ES_PORTAL_MAX_TTL_SECONDS)"
    return None
