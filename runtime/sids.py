"""Twilio-style SIDs: a two-letter prefix and 32 lowercase hex digits — and the ids the hot
path's records carry, each a type of its own, so that two of them swapped in a positional
constructor (an account SID where a sink SID goes) is a type error. `typing.NewType` is a
`str` at run time; making one is a call of a built-in identity function, done where the id
is read off the wire or a request, once."""

from __future__ import annotations

import re
import secrets
from typing import NewType

AccountSid = NewType("AccountSid", str)
SinkSid = NewType("SinkSid", str)
# A producer's event id (unique per producer account; not a SID: any string up to 128).
EventId = NewType("EventId", str)

ACCOUNT = "AC"
API_KEY = "SK"
SINK = "DG"
SUBSCRIPTION = "DF"
EVENT = "EZ"


def new(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def is_sid(value: str, prefix: str) -> bool:
    return re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value) is not None


def new_secret() -> str:
    """An auth token or API key secret: 32 hex digits, like Twilio's."""
    return secrets.token_hex(16)
