"""What one call to a sink sent and got back, as the delivery log keeps it beside the call's
attempts: the request (method, URL, headers, and what its body was — never the body's bytes:
they are the events, which the archive keeps) and the response (status, headers, the prefix
of its body the driver read anyway). A driver fills one per call, cheaply (strings it has
already made, the raw header pairs the parser handed it); the journal writes it off the hot
path. Optional: a driver that fills none leaves its attempts without detail.

No credential is ever kept: a sink's URL is shown without its userinfo and with the values of
secret-looking query parameters hidden (`shown_url`), its Authorization header hidden
(`shown_header`); the account's auth token never enters an exchange at all."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import orjson

HIDDEN = "[redacted]"
# Caps on what one exchange keeps: the log's rows stay small whatever a receiver answers.
MAX_HEADERS = 32
MAX_HEADER_VALUE = 256
MAX_RESPONSE_BODY = 1024
# Query parameters and headers whose values are credentials by their name.
SECRET_NAME = re.compile(
    r"(?i)(pass(word|wd)?|pwd|secret|token|api[-_]?key|access[-_]?key|auth|credential|"
    r"session|^key$|^sig$|signature|private)"
)
# Headers that carry credentials whatever their value looks like.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})

# What a call's body was.
BODY_EVENT = "event"  # the event itself, as the archive keeps it
BODY_BATCH = "batch"  # a JSON array of the call's events, in order
BODY_QUERY = "query"  # no body: the event travels in the URL's `event` parameter (not kept)
BODY_RECORDS = "records"  # an API call's records, one per event (Kinesis PutRecords)
BODY_MESSAGES = "messages"  # the events translated into the sink's own messages (Segment)


def shown_url(url: str) -> str:
    """`url` as the log may show it: no userinfo, secret-looking query values hidden."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return HIDDEN
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(SECRET_NAME.search(name) for name, _ in pairs):
            query = "&".join(
                f"{quote(name, safe='')}={HIDDEN if SECRET_NAME.search(name) else quote(value, safe='')}"
                for name, value in pairs
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def shown_header(name: str, value: str) -> str:
    """A header's value as the log may show it."""
    lowered = name.lower()
    # A signature header's value is a digest the receiver checks, not a credential: shown.
    if lowered in SECRET_HEADERS or (SECRET_NAME.search(name) and "signature" not in lowered):
        return HIDDEN
    return value[:MAX_HEADER_VALUE]


def header_pairs(lines: str) -> list[tuple[str, str]]:
    """`Name: value\\r\\n` lines (as the webhook client is given them) as shown pairs."""
    pairs = []
    for line in lines.split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            pairs.append((name, shown_header(name, value.strip())))
    return pairs[:MAX_HEADERS]


@dataclass(slots=True)
class Exchange:
    """One call: built by the driver, the same object carried on every event's outcome.
    `url` and `headers` are already shown forms (the sink makes them once, when opened);
    `response_headers` and `response_body` are raw, capped and shown when written."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: str  # BODY_*
    body_bytes: int
    events: int
    status: int | None = None
    # Raw, as the receiver sent them: left out of the repr (a refused record's log line).
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list, repr=False)
    response_body: bytes = field(default=b"", repr=False)
    # By event id, where a call answers event by event (Kinesis: the record's shard and
    # sequence number, or its error code).
    results: dict[str, str] | None = None
    # Set by the journal: where this call's detail was written in full (its first event's
    # attempt); the call's other attempts refer to it, so a batch's detail is kept once.
    written_as: tuple[str, int] | None = None

    def record(self, event_id: str, attempt: int) -> str:
        """The detail kept with the attempt of `event_id`: in full with the call's first
        attempt written, and with each other a reference to it (and its own result) — a
        batch's detail is written once, not once per event. The same attempt written again
        (a write retried) gets the full detail again."""
        own = self.results.get(event_id) if self.results else None
        if self.written_as is None or self.written_as == (event_id, attempt):
            self.written_as = (event_id, attempt)
            detail: dict[str, Any] = {"request": self.request(), "response": self.response()}
        else:
            first_event, first_attempt = self.written_as
            detail = {"same_call_as": {"event_id": first_event, "attempt": first_attempt}}
        if own is not None:
            detail["result"] = own
        # orjson: the detail is made once per call on the worker's loop (a tenth of json's
        # cost). It refuses a lone surrogate, which json escapes: never a record held back.
        try:
            return orjson.dumps(detail).decode()
        except TypeError:
            return json.dumps(detail, separators=(",", ":"))

    def request(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": joined(self.headers),
            "body": {"form": self.body, "bytes": self.body_bytes, "events": self.events},
        }

    def response(self) -> dict[str, Any] | None:
        if self.status is None:
            return None  # no answer: refused, timed out, closed
        headers: dict[str, str] = {}
        for raw_name, raw_value in self.response_headers:
            name, hidden = header_name(raw_name)
            value = HIDDEN if hidden else raw_value.decode("latin-1")[:MAX_HEADER_VALUE]
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        text = self.response_body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
        return {"status": self.status, "headers": headers, "body": text[:MAX_RESPONSE_BODY]}


@lru_cache(maxsize=1024)
def header_name(raw: bytes) -> tuple[str, bool]:
    """A response header's name as text, and whether its value is hidden — judged once per
    name (receivers answer with the same few)."""
    name = raw.decode("latin-1")
    return name, shown_header(name, "") == HIDDEN


def joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Header pairs as one JSON object; a repeated header's values joined (as HTTP allows)."""
    out: dict[str, str] = {}
    for name, value in pairs:
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out
