"""The tenant portal's tokens and scope: what a link grants, for how long, and where."""

from __future__ import annotations

import pytest

from gateway.portal_tokens import (
    LINK,
    SESSION,
    Grant,
    PortalRefused,
    expired_by_account,
    portal_allows,
    sign,
    sign_fields,
    ttl_problem,
    verify,
)

pytestmark = pytest.mark.unit

SECRET = b"k" * 32
GRANT = Grant("AC" + "b" * 32, "AC" + "a" * 32, 1_000)


def test_a_token_carries_its_grant_back() -> None:
    assert verify(SECRET, sign(SECRET, GRANT, LINK), LINK, now=999) == GRANT
    issued = Grant(GRANT.account_sid, GRANT.issuer_sid, 1_000, issued_at_ms=123_456)
    assert verify(SECRET, sign(SECRET, issued, LINK), LINK, now=999).issued_at_ms == 123_456


def test_a_token_made_before_tokens_said_when_they_were_issued_counts_as_issued_at_0() -> None:
    token = sign_fields(SECRET, b'{"a":"AC1","i":"AC2","e":1000}', LINK)
    assert verify(SECRET, token, LINK, now=999) == Grant("AC1", "AC2", 1_000, 0)


@pytest.mark.parametrize(
    ("issued_at_ms", "not_before_ms", "expired"),
    [
        (5_000, 0, False),  # the account's links never expired
        (5_000, 4_999, False),  # issued after they were
        (5_000, 5_000, True),  # in the same millisecond: expired
        (5_000, 9_000, True),
        (0, 1, True),  # a token that does not say when it was issued
    ],
)
def test_an_accounts_links_expire_together(issued_at_ms: int, not_before_ms: int, expired: bool) -> None:
    grant = Grant("AC1", "AC2", 1_000, issued_at_ms)
    assert expired_by_account(grant, not_before_ms) is expired


def _tampered_payload(token: str) -> str:
    version, payload, signature = token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    return f"{version}.{flipped}.{signature}"


@pytest.mark.parametrize(
    ("token", "purpose", "now", "says"),
    [
        (sign(SECRET, GRANT, LINK), LINK, 1_000, "expired"),
        (sign(SECRET, GRANT, LINK), LINK, 5_000, "expired"),
        (sign(b"x" * 32, GRANT, LINK), LINK, 0, "signature"),  # another gateway's secret
        (sign(SECRET, GRANT, SESSION), LINK, 0, "signature"),  # a session is not a link
        (sign(SECRET, GRANT, LINK), SESSION, 0, "signature"),  # nor a link a session
        (_tampered_payload(sign(SECRET, GRANT, LINK)), LINK, 0, "signature"),
        (sign(SECRET, GRANT, LINK) + "A", LINK, 0, ""),
        ("p1..", LINK, 0, "not a portal token"),
        ("p2." + sign(SECRET, GRANT, LINK)[3:], LINK, 0, "not a portal token"),
        ("", LINK, 0, "not a portal token"),
        ("p1.e30.%%%", LINK, 0, ""),
    ],
)
def test_a_token_is_refused_when(token: str, purpose: str, now: float, says: str) -> None:
    with pytest.raises(PortalRefused) as refused:
        verify(SECRET, token, purpose, now)
    assert refused.value.http_status == 401 and refused.value.twilio_code == 20003
    assert says in refused.value.message


def test_a_signed_token_with_a_bad_payload_is_refused() -> None:
    """Signed, but not what a grant looks like: refused, not a 500."""
    token = sign_fields(SECRET, b'{"a":"AC1"}', LINK)
    with pytest.raises(PortalRefused, match="not a portal token"):
        verify(SECRET, token, LINK, 0)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/Sinks", True),
        ("POST", "/v1/Sinks", True),
        ("DELETE", "/v1/Sinks/DG1", True),
        ("GET", "/v1/Sinks/DG1/Deliveries", True),
        ("POST", "/v1/Sinks/DG1/DeadLetters/Redrive", True),
        ("GET", "/v1/Subscriptions/DF1/SubscribedEvents", True),
        ("GET", "/v1/Alerts", True),
        ("GET", "/v1/Types", True),
        ("GET", "/v1/Schemas/x/Versions", True),
        ("POST", "/v1/Types", False),  # the catalogue is read, never written
        ("POST", "/v1/PortalLinks", False),  # a portal cannot open another
        ("GET", "/v1/Usage", False),
        ("GET", "/v1/SinksX", False),  # a prefix is a path segment, not a string
        ("GET", "/2010-04-01/Accounts.json", False),
        ("POST", "/2010-04-01/Accounts/AC1/Keys.json", False),
        ("POST", "/v1/AuthTokens/Secondary", False),
        ("GET", "/", False),
    ],
)
def test_what_a_portal_session_reaches(method: str, path: str, allowed: bool) -> None:
    assert portal_allows(method, path) is allowed


@pytest.mark.parametrize(
    ("ttl", "cap", "problem"),
    [(1, 60, None), (60, 60, None), (0, 60, "at least"), (-5, 60, "at least"), (61, 60, "at most 60")],
)
def test_a_links_lifetime_is_capped(ttl: int, cap: int, problem: str | None) -> None:
    found = ttl_problem(ttl, cap)
    assert found == problem if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("method", "origin", "host", "allowed"),
    [
        ("POST", None, "gw:8080", True),  # not a browser's cross-site call: no Origin
        ("POST", "http://gw:8080", "gw:8080", True),
        ("DELETE", "https://gw:8080", "gw:8080", True),  # the scheme is the proxy's to judge
        ("POST", "https://elsewhere.example", "gw:8080", False),
        ("POST", "http://gw:8081", "gw:8080", False),
        ("GET", "https://elsewhere.example", "gw:8080", True),  # reads change nothing
        ("HEAD", "https://elsewhere.example", "gw:8080", True),
    ],
)
def test_a_cookie_call_that_writes_comes_from_the_gateways_pages(
    method: str, origin: str | None, host: str, allowed: bool
) -> None:
    from starlette.requests import Request

    from gateway.portal import same_origin

    headers = [(b"host", host.encode())] + ([(b"origin", origin.encode())] if origin else [])
    request = Request({"type": "http", "method": method, "path": "/v1/Sinks", "headers": headers})
    assert same_origin(request) is allowed
