"""Unit tests for services.delivery.sinks.webhook.signature: X-Twilio-Signature as twilio-python checks it."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from twilio.request_validator import RequestValidator

from services.delivery.sinks.webhook.signature import sign, with_body_hash

pytestmark = pytest.mark.unit

TOKEN = "0123456789abcdef0123456789abcdef"
BODY = '{"specversion":"1.0","type":"com.twilio.messaging.message.sent","data":{"to":"+15005550006"}}'

URLS = [
    pytest.param("https://example.com/hook", id="no-query"),
    pytest.param("https://example.com/hook?tenant=acme&x=1", id="with-query"),
    pytest.param("https://example.com:8443/hook", id="with-port"),
    pytest.param("http://example.com:8080/hook?a=b", id="http-port-query"),
    pytest.param("https://example.com/", id="root-path"),
    pytest.param("https://example.com/hook?", id="empty-query"),
]

BODIES = [
    pytest.param(BODY, id="ascii-json"),
    pytest.param('{"body":"héllo wörld — 你好 🎉"}', id="unicode-json"),
    pytest.param("", id="empty"),
    pytest.param('[{"a":1},{"b":2}]', id="batch"),
]


def _signed(url: str, body: str, token: str = TOKEN) -> tuple[str, str]:
    signed_url = with_body_hash(url, body.encode("utf-8"))
    return signed_url, sign(signed_url, token)


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("body", BODIES)
def test_official_validator_accepts_signature(url: str, body: str) -> None:
    signed_url, signature = _signed(url, body)
    assert RequestValidator(TOKEN).validate(signed_url, body, signature) is True


@pytest.mark.parametrize("url", URLS)
def test_other_token_fails_validation(url: str) -> None:
    signed_url, signature = _signed(url, BODY)
    assert RequestValidator(TOKEN + "x").validate(signed_url, BODY, signature) is False
    assert RequestValidator("").validate(signed_url, BODY, signature) is False


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize(
    "tampered",
    [
        pytest.param(BODY.replace("+15005550006", "+15005550007"), id="changed-value"),
        pytest.param(BODY + " ", id="trailing-space"),
        pytest.param("", id="emptied"),
    ],
)
def test_modified_body_fails_validation(url: str, tampered: str) -> None:
    signed_url, signature = _signed(url, BODY)
    assert RequestValidator(TOKEN).validate(signed_url, tampered, signature) is False


def test_modified_url_fails_validation() -> None:
    signed_url, signature = _signed("https://example.com/hook", BODY)
    other = signed_url.replace("/hook", "/hook2")
    assert RequestValidator(TOKEN).validate(other, BODY, signature) is False


@pytest.mark.parametrize(
    ("url", "body", "expected"),
    [
        (
            "https://example.com/hook",
            b"abc",
            "https://example.com/hook?bodySHA256=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "https://example.com/hook?a=1",
            b"",
            "https://example.com/hook?a=1&bodySHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            "https://example.com:8443/p?",
            b"abc",
            "https://example.com:8443/p?&bodySHA256=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
    ],
)
def test_with_body_hash_appends_sha256_hex(url: str, body: bytes, expected: str) -> None:
    assert with_body_hash(url, body) == expected


def test_with_body_hash_hashes_utf8_bytes() -> None:
    body = "ünïcødé ✓".encode()
    assert with_body_hash("https://h.example/x", body).endswith(
        "bodySHA256=" + hashlib.sha256(body).hexdigest()
    )


def test_known_answer_vector_from_twilio_docs() -> None:
    # The JSON-body vector from twilio-python's own request validator tests.
    url = with_body_hash(
        "https://mycompany.com/myapp.php?foo=1&bar=2", b'{"property": "value", "boolean": true}'
    )
    assert url == (
        "https://mycompany.com/myapp.php?foo=1&bar=2"
        "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    )
    assert sign(url, "12345") == "a9nBmqA0ju/hNViExpshrM61xv4="


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("https://example.com/hook?bodySHA256=00", "secret"),
        ("https://exämple.com/ü?q=✓", "tökén"),
        ("", "k"),
    ],
)
def test_sign_matches_independent_hmac_sha1(url: str, token: str) -> None:
    expected = base64.b64encode(hmac.new(token.encode(), url.encode(), hashlib.sha1).digest()).decode()
    assert sign(url, token) == expected
    assert len(sign(url, token)) == 28  # base64 of a 20-byte SHA-1 digest


def test_sign_depends_on_token_and_url() -> None:
    assert sign("https://a.example/", "t1") != sign("https://a.example/", "t2")
    assert sign("https://a.example/", "t1") != sign("https://b.example/", "t1")
