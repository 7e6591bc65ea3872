"""How the webhook client splits a URL once per sink (services/delivery/sinks/http1.py)."""

from __future__ import annotations

import pytest

from services.delivery.sinks.http1 import Origin, Target

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("url", "origin", "host_header", "path"),
    [
        ("https://example.com/hook", Origin("https", "example.com", 443), "example.com", "/hook"),
        ("http://example.com", Origin("http", "example.com", 80), "example.com", "/"),
        (
            "http://example.com:8080/a?b=1&c=%20",
            Origin("http", "example.com", 8080),
            "example.com:8080",
            "/a?b=1&c=%20",
        ),
        ("https://[2001:db8::1]:8443/x", Origin("https", "2001:db8::1", 8443), "[2001:db8::1]:8443", "/x"),
        ("https://[2001:db8::1]/x", Origin("https", "2001:db8::1", 443), "[2001:db8::1]", "/x"),
        ("https://Example.COM/Path", Origin("https", "example.com", 443), "example.com", "/Path"),
        ("https://example.com:443/p#frag", Origin("https", "example.com", 443), "example.com", "/p"),
    ],
)
def test_a_url_split_into_where_to_connect_and_the_request_line(
    url: str, origin: Origin, host_header: str, path: str
) -> None:
    target = Target.of(url)
    assert (target.origin, target.origin.host_header, target.path) == (origin, host_header, path)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "http:///nohost",
        "https://example.com/a b",
        "https://example.com/é",
        "/relative",
    ],
)
def test_what_cannot_go_on_a_request_line_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        Target.of(url)
