"""The delivery log's error taxonomy: what the database refused (the records' fault: set
aside) against an outage (the records wait); and `Apart`, which finds refused records by
halves and writes the others in order."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)

from services.delivery.settling.journal import Apart, refused


class DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("driver")
        self.sqlstate = sqlstate


def dbapi(kind: type[DBAPIError], sqlstate: str | None = None) -> DBAPIError:
    return kind("INSERT …", None, DriverError(sqlstate))


@pytest.mark.parametrize(
    ("error", "is_refused"),
    [
        (dbapi(DBAPIError, "22021"), True),  # a NUL in text (asyncpg's generic Error)
        (dbapi(DBAPIError, "22001"), True),  # a value longer than its column
        (dbapi(DBAPIError, "23505"), True),  # a duplicate key
        (dbapi(DataError), True),
        (dbapi(IntegrityError), True),
        (StatementError("bind", "INSERT …", None, ValueError("x")), True),
        (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), True),
        (dbapi(DBAPIError, "08006"), False),  # connection failure
        (dbapi(DBAPIError, "42P01"), False),  # a table missing: the schema, not the records
        (dbapi(DBAPIError, None), False),
        (dbapi(OperationalError), False),
        (dbapi(InterfaceError), False),
        (ConnectionResetError(), False),
        (TimeoutError(), False),
    ],
)
def test_refused_or_outage(error: BaseException, is_refused: bool) -> None:
    assert refused(error) is is_refused


async def test_apart_writes_around_refused_records_in_order() -> None:
    written: list[int] = []
    calls = 0

    async def write(chunk: list[int]) -> None:
        nonlocal calls
        calls += 1
        if 13 in chunk or 40 in chunk:
            raise dbapi(DBAPIError, "22021")
        written.extend(chunk)

    apart = Apart.of(range(64))
    await apart.write(write)
    assert written == [i for i in range(64) if i not in (13, 40)]
    assert [record for record, _ in apart.refused] == [13, 40]
    assert calls <= 4 * 7  # by halves: a few writes per refused record, not one per record


async def test_apart_stops_at_an_outage_and_keeps_what_is_not_written() -> None:
    written: list[int] = []

    async def write(chunk: list[int]) -> None:
        if 3 in chunk and len(chunk) > 1:
            raise dbapi(DBAPIError, "22021")
        if chunk == [4, 5, 6, 7]:  # the database goes away after the first half
            raise dbapi(OperationalError)
        written.extend(chunk)

    apart = Apart.of(range(8))
    with pytest.raises(OperationalError):
        await apart.write(write)
    assert written == [0, 1, 2, 3]
    assert apart.remaining() == [4, 5, 6, 7]
    assert apart.refused == []
