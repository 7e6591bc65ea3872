"""Text handed to us to store or to route: what none of it may hold.

A control character is refused at the edge rather than stored: PostgreSQL's text cannot
hold a NUL at all (the write fails — a 500 for a description, a stuck delivery log for an
event id), and the others are invisible in a console, a log line or a header. Filters are
expressions a person may lay out over lines: those keep tab, line feed and carriage return.
"""

from __future__ import annotations

import re

# C0, DEL and C1.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LAYOUT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character(text: str, *, layout: bool = False) -> str | None:
    """The first control character in `text`, shown as an escape (`\\x00`); None when there
    is none. `layout`: tab, line feed and carriage return are allowed."""
    found = (_CONTROL_BUT_LAYOUT if layout else _CONTROL).search(text)
    return None if found is None else f"\\x{ord(found.group()):02x}"
