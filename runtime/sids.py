"""Twilio-style SIDs: a two-letter prefix and 32 lowercase hex digits."""

from __future__ import annotations

import re
import secrets

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
