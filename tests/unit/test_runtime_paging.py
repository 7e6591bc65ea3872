"""Unit tests for runtime.paging: page tokens and page-size clamping (no database)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapped, mapped_column

from runtime.errors import InvalidArgument
from runtime.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Cursor, clamp_page_size, decode, encode, holds

pytestmark = pytest.mark.unit


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("direction", ["after", "before"])
@pytest.mark.parametrize(
    "key",
    [
        0,
        1,
        -7,
        2**62,
        "",
        "DG0123456789abcdef0123456789abcdef",
        "2024-05-01T12:00:00Z|DG01",
        "ünïcødé ✓ 🎉",
        'quote " and \\ backslash',
        "a" * 500,
    ],
)
def test_round_trip(direction: str, key: int | str) -> None:
    cursor = Cursor(direction, key)  # type: ignore[arg-type]
    token = encode(cursor)
    decoded = decode(token)
    assert decoded == cursor
    assert type(decoded.key) is type(key)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        (Cursor("after", 5), "PANQ"),
        (Cursor("before", 5), "PBNQ"),
        (Cursor("after", "ab"), "PAImFiIg"),
        (Cursor("before", 1234), "PBMTIzNA"),
    ],
)
def test_encode_known_tokens(cursor: Cursor, expected: str) -> None:
    assert encode(cursor) == expected


@pytest.mark.parametrize("key", [1, "x", "ünï", "a" * 33])
def test_tokens_are_url_safe_without_padding(key: int | str) -> None:
    token = encode(Cursor("after", key))
    assert "=" not in token
    assert all(c.isalnum() or c in "-_" for c in token)


def test_int_and_str_keys_are_distinct() -> None:
    assert encode(Cursor("after", 5)) != encode(Cursor("after", "5"))
    assert decode(encode(Cursor("after", "5"))) == Cursor("after", "5")


def test_direction_distinguishes_tokens() -> None:
    assert encode(Cursor("after", 9)) != encode(Cursor("before", 9))


def test_decode_empty_is_none() -> None:
    assert decode("") is None


def test_decode_accepts_padded_token() -> None:
    assert decode("PA" + base64.urlsafe_b64encode(b"42").decode()) == Cursor("after", 42)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("XX123", id="bad-prefix"),
        pytest.param("pa" + _b64(b"1"), id="lowercase-prefix"),
        pytest.param("P", id="too-short"),
        pytest.param("PA!!!", id="not-base64"),
        pytest.param("PA", id="prefix-only"),
        pytest.param("PB", id="prefix-only-before"),
        pytest.param("PAé", id="non-ascii"),
        pytest.param("PA" + _b64(b"[1, 2]"), id="json-list"),
        pytest.param("PA" + _b64(b"true"), id="json-true"),
        pytest.param("PB" + _b64(b"false"), id="json-false"),
        pytest.param("PA" + _b64(b"null"), id="json-null"),
        pytest.param("PA" + _b64(b'{"k": 1}'), id="json-object"),
        pytest.param("PA" + _b64(b"1.5"), id="json-float"),
        pytest.param("PA" + _b64(b"NaN"), id="json-nan"),
        pytest.param("PA" + _b64(b"{not json"), id="malformed-json"),
        pytest.param("PA" + _b64(b"\xff\xfe\xfd"), id="not-utf8"),
        pytest.param("PA" + _b64(b"9" * 5000), id="int-too-many-digits"),
    ],
)
def test_decode_malformed_raises_21481(token: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        decode(token)
    assert info.value.twilio_code == 21481
    assert info.value.http_status == 400
    assert info.value.message == "Invalid PageToken"


def test_decode_deeply_nested_token_raises_21481() -> None:
    with pytest.raises(InvalidArgument) as info:
        decode("PA" + _b64(b"[" * 100_000))
    assert info.value.twilio_code == 21481


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (0, DEFAULT_PAGE_SIZE),
        (1, 1),
        (5, 5),
        (50, 50),
        (999, 999),
        (1000, 1000),
        (1001, MAX_PAGE_SIZE),
        (5000, MAX_PAGE_SIZE),
        (2**31 - 1, MAX_PAGE_SIZE),
    ],
)
def test_clamp_page_size(requested: int, expected: int) -> None:
    assert clamp_page_size(requested) == expected


def test_page_size_constants() -> None:
    assert (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE) == (50, 1000)


@pytest.mark.parametrize("requested", [-1, -50, -(2**31)])
def test_clamp_page_size_negative_raises(requested: int) -> None:
    with pytest.raises(InvalidArgument) as info:
        clamp_page_size(requested)
    assert info.value.twilio_code == 20001
    assert info.value.http_status == 400


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "paging_keys"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))


@pytest.mark.parametrize(
    ("column", "key", "held"),
    [
        (_Row.id, 7, True),
        (_Row.id, 2**63 - 1, True),
        (_Row.id, 2**63, False),  # past BIGINT
        (_Row.id, -(2**63), True),
        (_Row.id, -(2**63) - 1, False),
        (_Row.id, "7", False),  # a string where rows are numbered
        (_Row.version, 2**31 - 1, True),
        (_Row.version, 2**31, False),  # past INTEGER
        (_Row.name, "com.twilio.messaging.message.sent", True),
        (_Row.name, 7, False),  # a number where rows are named
        (_Row.name, "a\x00b", False),  # PostgreSQL's text holds no NUL
        (_Row.name, "\ud800", False),  # a lone surrogate is no UTF-8
        (_Row.name, "ünï ✓", True),
    ],
)
def test_a_key_the_column_cannot_hold(column: InstrumentedAttribute[Any], key: int | str, held: bool) -> None:
    assert holds(column, key) is held
