"""A test whose tool is missing skips on a developer's machine and fails under CI."""

from __future__ import annotations

import pytest

from tests.helpers import import_or_missing, missing_tool

pytestmark = pytest.mark.unit


def test_a_missing_tool_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI"):
        missing_tool("kubectl not found")
    with pytest.raises(pytest.fail.Exception):
        import_or_missing("no_such_module_here", "install it")


def test_a_missing_tool_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        missing_tool("kubectl not found")


def test_a_present_module_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert import_or_missing("json", "stdlib").dumps([]) == "[]"
    with pytest.raises(pytest.fail.Exception, match=">= 999"):
        import_or_missing("pytest", "pytest", minversion="999")
