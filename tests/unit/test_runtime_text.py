"""What stored or routed text may not hold: control characters (C0, DEL, C1); filters keep
their layout (tab, line feed, carriage return)."""

from __future__ import annotations

import pytest

from runtime.text import control_character


@pytest.mark.parametrize(
    ("text", "layout", "found"),
    [
        ("EZ123", False, None),
        ("ünïcödé – ✓ 日本", False, None),  # printable beyond ASCII is fine
        ("", False, None),
        ("a\x00b", False, "\\x00"),
        ("a\x00b", True, "\\x00"),
        ("tab\there", False, "\\x09"),
        ("tab\there", True, None),
        ("line\nfeed\r\n", True, None),
        ("line\nfeed", False, "\\x0a"),
        ("bell\x07", True, "\\x07"),
        ("del\x7f", True, "\\x7f"),
        ("c1\x85", False, "\\x85"),
        ("c1\x9f", True, "\\x9f"),
        ("nbsp\xa0", False, None),
    ],
)
def test_control_characters(text: str, layout: bool, found: str | None) -> None:
    assert control_character(text, layout=layout) == found
