"""The NATS header block: `NATS/1.0[ <status>[ <description>]]`, then `Name: value` lines,
then a blank line.

The stream's header block is written by `runtime/stream_codec.header_block` — the one
encoder, formatted in one pass with `OPEN`, `clean` and `CLOSE` from here — and read with
`parse_header_lines` (the services' client) or nats-py's own reader (any other client)."""

from __future__ import annotations

OPEN = "NATS/1.0\r\n"  # a header block's first line, without a status
CLOSE = "\r\n"  # the blank line that ends it
# The header nats-py puts an inline status's code in (a status line `NATS/1.0 408 …`).
STATUS = "Status"
DESCRIPTION = "Description"


def clean(value: str) -> str:
    """A value may not break the header block: stripped, CR and LF made spaces, as nats-py
    does (replace after a membership test, not str.translate: translate looks up every
    character in a dict, and nearly no value has anything to translate)."""
    value = value.strip()
    if "\r" in value or "\n" in value:
        value = value.replace("\r", " ").replace("\n", " ")
    return value


def status_code(block: bytes | None) -> int | None:
    """The status of a raw header block (`NATS/1.0 503` → 503); None for a block with no
    status, or no block."""
    if not block or block[8:9] != b" ":
        return None
    code = block[9:12]
    return int(code) if code.isdigit() else None


# What bytes.strip() strips (str.strip() would strip more: \x1c-\x1f, and beyond ASCII).
ASCII_WHITESPACE = " \t\n\r\x0b\x0c"


def parse_header_lines(raw: bytes) -> dict[str, str]:
    """nats-py's header-block parser, with the same results, faster: it tests a name for
    whitespace with a generator over its characters (`any(c.isspace() …)`) — 7 % of a worker
    at full load, every message carrying five headers; `str.split()` splits on exactly the
    characters `isspace` names. A block all ASCII (the router's always are) is decoded once,
    not two decodes per line."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return _parse_header_bytes(raw)
    out: dict[str, str] = {}
    for line in text.split("\r\n"):
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip(ASCII_WHITESPACE)
        if key and len(key.split()) != 1:
            continue
        out[key] = value.strip(ASCII_WHITESPACE)
    return out


def _parse_header_bytes(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in raw.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        try:
            key = name.strip().decode("ascii")
        except UnicodeDecodeError:
            continue
        if key and len(key.split()) != 1:
            continue
        out[key] = value.strip().decode("utf-8", "replace")
    return out
