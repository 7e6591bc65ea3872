"""The subscription filter language, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.filters import MAX_DEPTH, MAX_LENGTH, FilterError, compile_filter

pytestmark = pytest.mark.unit

MESSAGE = {
    "messageStatus": "FAILED",
    "errorCode": 30004,
    "numberOfSegments": 2,
    "to": "+14155550123",
    "tags": {"campaign": "spring", "tier": "gold"},
    "price": 0.0075,
    "urgent": True,
    "note": None,
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("messageStatus == 'FAILED' AND errorCode == 30004", True),  # Twilio's own example
        ("messageStatus == 'FAILED' AND errorCode == 30005", False),
        ('messageStatus == "FAILED"', True),
        ("messageStatus != 'DELIVERED'", True),
        ("messageStatus == 'failed'", False),  # values are case-sensitive
        ("messagestatus == 'FAILED'", False),  # so are names: a missing field is null
        ("errorCode > 30000 and errorCode < 31000", True),  # keywords in any case
        ("errorCode >= 30004 AND errorCode <= 30004", True),
        ("numberOfSegments > 2", False),
        ("price < 0.01", True),
        ("urgent == true", True),
        ("note == null", True),
        ("missing == null", True),
        ("missing != null", False),
        ("missing > 1", False),  # ordering with null: false
        ("to > 5", False),  # ordering across kinds: false
        ("errorCode == '30004'", False),  # a number is not a string
        ("tags.campaign == 'spring'", True),  # nested with dots
        ("tags.campaign.deeper == 'x'", False),
        ("messageStatus IN ('FAILED', 'UNDELIVERED')", True),
        ("errorCode in (1, 2, 3)", False),
        ("NOT messageStatus == 'DELIVERED'", True),
        ("not (messageStatus == 'FAILED' or urgent == false)", False),
        (
            "messageStatus == 'SENT' OR messageStatus == 'FAILED' AND errorCode == 1",
            False,
        ),  # AND binds tighter
        ("(messageStatus == 'SENT' OR messageStatus == 'FAILED') AND errorCode == 30004", True),
        ("to == '+14155550123'", True),
        ("messageStatus == 'it\\'s'", False),
    ],
)
def test_evaluation(expression: str, expected: bool) -> None:
    assert compile_filter(expression)(MESSAGE) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "   ",
        "messageStatus",
        "messageStatus ==",
        "== 'FAILED'",
        "messageStatus = 'FAILED'",
        "messageStatus == 'FAILED' AND",
        "(messageStatus == 'FAILED'",
        "messageStatus == 'FAILED')",
        "messageStatus == FAILED",  # a bare word is not a value
        "messageStatus IN ()",
        "messageStatus IN ('A' 'B')",
        "messageStatus == 'unterminated",
        "a == 1 b == 2",
        "a == 1; drop table",
        "x" * (MAX_LENGTH + 1),
        # Deep nesting within the length limit: refused with a reason, not a RecursionError.
        "(" * 340 + "a == 1" + ")" * 340,
        "not " * 250 + "a == 1",
        "(not " * 150 + "a == 1" + ")" * 150,
    ],
)
def test_invalid_filters_are_refused_with_a_reason(expression: str) -> None:
    with pytest.raises(FilterError) as refused:
        compile_filter(expression)
    assert str(refused.value)


@pytest.mark.parametrize("data", [None, [], "text", 5, {"a": [1, 2]}])
def test_odd_data_never_raises(data: Any) -> None:
    assert compile_filter("a == 1 OR a.b > 2 OR a IN (1)")(data) is False


def test_nesting_up_to_the_limit_is_a_filter() -> None:
    text = "(" * MAX_DEPTH + "a == 1" + ")" * MAX_DEPTH
    assert compile_filter(text)({"a": 1}) is True
    assert compile_filter("not " * MAX_DEPTH + "a == 1")({"a": 1}) is (MAX_DEPTH % 2 == 0)
