"""Unit tests for services.delivery.sinks.webhook.split_credentials (pure; no HTTP)."""

from __future__ import annotations

import base64

import pytest

from services.delivery.sinks.webhook.driver import split_credentials

pytestmark = pytest.mark.unit


def basic(header: str) -> tuple[str, str]:
    """(login, password) of an `Authorization: Basic …` value, as a receiver decodes it."""
    scheme, _, token = header.partition(" ")
    assert scheme == "Basic"
    login, _, password = base64.b64decode(token).decode().partition(":")
    return login, password


@pytest.mark.parametrize(
    "destination",
    [
        "https://example.com/hook",
        "https://example.com:8443/hook?a=1&b=2",
        "http://[2001:db8::1]:8080/x",
        "https://EXAMPLE.com/Path",
        "https://example.com/p@th?q=a@b",
    ],
)
def test_without_credentials_unchanged(destination: str) -> None:
    url, auth = split_credentials(destination)
    assert url == destination
    assert auth is None


@pytest.mark.parametrize(
    ("destination", "url", "login", "password"),
    [
        ("https://user:pass@example.com/hook", "https://example.com/hook", "user", "pass"),
        ("https://user:pass@example.com:8443/hook", "https://example.com:8443/hook", "user", "pass"),
        ("http://u:p@example.com/a/b?x=1&y=2", "http://example.com/a/b?x=1&y=2", "u", "p"),
        ("https://user@example.com/hook", "https://example.com/hook", "user", ""),
        ("https://user:@example.com/hook", "https://example.com/hook", "user", ""),
        ("https://user:pa:ss@example.com/", "https://example.com/", "user", "pa:ss"),
        ("https://user:pass@[2001:db8::1]/x", "https://[2001:db8::1]/x", "user", "pass"),
        ("https://user:pass@[2001:db8::1]:8443/x?q=1", "https://[2001:db8::1]:8443/x?q=1", "user", "pass"),
        ("https://user:pass@203.0.113.9:8080", "https://203.0.113.9:8080", "user", "pass"),
        ("https://AC123:Secret@Example.COM/Hook", "https://example.com/Hook", "AC123", "Secret"),
    ],
)
def test_credentials_become_basic_auth(destination: str, url: str, login: str, password: str) -> None:
    stripped, auth = split_credentials(destination)
    assert stripped == url
    assert "@" not in stripped.split("/", 3)[2]
    assert auth is not None
    assert basic(auth) == (login, password)


@pytest.mark.parametrize(
    ("destination", "login", "password"),
    [
        ("https://us%40er:p%40ss@example.com/", "us@er", "p@ss"),
        ("https://user:p%3Ass@example.com/", "user", "p:ss"),
        ("https://Aladdin:open%20sesame@example.com/", "Aladdin", "open sesame"),
    ],
)
def test_percent_encoded_credentials_are_decoded(destination: str, login: str, password: str) -> None:
    _, auth = split_credentials(destination)
    assert auth is not None
    assert basic(auth) == (login, password)
