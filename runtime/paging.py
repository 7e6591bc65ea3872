"""Keyset paging shared by every list RPC.

A page token names a key and a direction: rows after it (next page) or before it (previous
page). Tokens are opaque to clients; a malformed one is an InvalidArgument (Twilio 21481), and
so is one whose key the list's key column cannot hold (a string where rows are numbered, a
number past the column's range, text PostgreSQL refuses): a database is never asked with it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import BigInteger, Integer, Select, SmallInteger, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from runtime.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

R = TypeVar("R")
Key = int | str


@dataclass(frozen=True)
class Cursor:
    direction: Literal["after", "before"]
    key: Key


def encode(cursor: Cursor) -> str:
    prefix = "PA" if cursor.direction == "after" else "PB"
    raw = json.dumps(cursor.key, separators=(",", ":")).encode()
    return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid() -> InvalidArgument:
    return InvalidArgument("Invalid PageToken", twilio_code=21481)


def decode(token: str) -> Cursor | None:
    if not token:
        return None
    invalid = _invalid()
    if token[:2] not in ("PA", "PB"):
        raise invalid
    body = token[2:]
    try:
        key = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise invalid from exc
    if not isinstance(key, (int, str)) or isinstance(key, bool):
        raise invalid
    return Cursor("after" if token[:2] == "PA" else "before", key)


INTEGER_BITS: tuple[tuple[type[Integer], int], ...] = ((BigInteger, 64), (SmallInteger, 16), (Integer, 32))


def holds(key_column: InstrumentedAttribute[Any], key: Key) -> bool:
    """Whether `key` is a value of `key_column`'s type: what the database may compare it to.
    Bounds are PostgreSQL's (SQLite's integers are 64-bit, so they hold at least these)."""
    column_type = key_column.type
    if isinstance(column_type, Integer):
        if not isinstance(key, int):
            return False
        bits: int = next(b for kind, b in INTEGER_BITS if isinstance(column_type, kind))
        return bool(-(2 ** (bits - 1)) <= key < 2 ** (bits - 1))
    if isinstance(column_type, String):
        # PostgreSQL's text holds no NUL, and a lone surrogate is no UTF-8.
        return isinstance(key, str) and "\x00" not in key and _utf8(key)
    return True


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def clamp_page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument("PageSize must be positive", twilio_code=20001)
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


@dataclass(frozen=True)
class Page(Generic[R]):
    items: Sequence[R]
    next_token: str
    previous_token: str


async def fetch_page(
    session: AsyncSession,
    statement: Select[Any],
    key_column: InstrumentedAttribute[Any],
    key_of: Callable[[Any], Key],
    page_size: int,
    token: str,
) -> Page[Any]:
    """Run `statement` (already filtered, selecting one entity) one page at a time."""
    size = clamp_page_size(page_size)
    cursor = decode(token)
    if cursor is not None and not holds(key_column, cursor.key):
        raise _invalid()
    if cursor is None or cursor.direction == "after":
        if cursor is not None:
            statement = statement.where(key_column > cursor.key)
        rows = list((await session.scalars(statement.order_by(key_column).limit(size + 1))).all())
        more_after = len(rows) > size
        rows = rows[:size]
        more_before = cursor is not None
    else:
        statement = statement.where(key_column < cursor.key)
        rows = list((await session.scalars(statement.order_by(key_column.desc()).limit(size + 1))).all())
        more_before = len(rows) > size
        rows = list(reversed(rows[:size]))
        more_after = True
    next_token = encode(Cursor("after", key_of(rows[-1]))) if rows and more_after else ""
    previous_token = encode(Cursor("before", key_of(rows[0]))) if rows and more_before else ""
    return Page(rows, next_token, previous_token)
