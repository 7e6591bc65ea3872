"""Input checks shared by control's resources."""

from __future__ import annotations

from runtime import sids
from runtime.errors import InvalidArgument, NotFound
from runtime.filters import FilterError, compile_filter
from runtime.text import control_character

MAX_DESCRIPTION = 255


def plain(value: str, field: str, twilio_code: int = 20001, *, layout: bool = False) -> str:
    """`value`, refused if it holds a control character (runtime/text.py): every text control
    stores or looks up passes here, so a NUL is a 400 and never a failed write."""
    found = control_character(value, layout=layout)
    if found is not None:
        raise InvalidArgument(
            f"{field} must not contain control characters (found {found})", twilio_code=twilio_code
        )
    return value


def description(value: str, twilio_code: int, what: str) -> str:
    cleaned = plain(value, "Description", twilio_code).strip()
    if not cleaned:
        raise InvalidArgument(f"{what} could not be created: description is empty", twilio_code=twilio_code)
    if len(cleaned) > MAX_DESCRIPTION:
        raise InvalidArgument(
            f"Description must be at most {MAX_DESCRIPTION} characters", twilio_code=twilio_code
        )
    return cleaned


def sid_or_not_found(value: str, prefix: str, what: str) -> str:
    """A malformed SID names nothing: it is NOT_FOUND, as Twilio answers."""
    if not sids.is_sid(value, prefix):
        raise NotFound(f"The requested resource {what} {value} was not found", twilio_code=20404)
    return value


def event_filter(text: str) -> str | None:
    """A subscription filter, checked; None for no filter."""
    plain(text, "Filter", layout=True)
    if not text.strip():
        return None
    try:
        compile_filter(text)
    except FilterError as exc:
        raise InvalidArgument(f"Invalid Filter: {exc}", twilio_code=20001) from exc
    return text.strip()
