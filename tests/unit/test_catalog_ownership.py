"""Who may change a registered type or schema: its owner or an operator; the platform's
(Twilio's catalogue, what was registered before owners were recorded) only an operator."""

from __future__ import annotations

import pytest

from runtime.errors import PermissionDenied
from runtime.service_auth import ANONYMOUS, Caller
from services.catalog import ownership
from services.catalog.models import PLATFORM

pytestmark = pytest.mark.unit

TEAM_A = Caller("team-a", "producer")
TEAM_B = Caller("team-b", "producer")
OPERATOR = Caller("ops", "admin")


@pytest.mark.parametrize(
    ("who", "owner", "may"),
    [
        (TEAM_A, "team-a", True),
        (TEAM_B, "team-a", False),
        (OPERATOR, "team-a", True),
        (ANONYMOUS, "team-a", True),  # a server that checks no caller: anyone is an operator
        (TEAM_A, PLATFORM, False),
        (Caller(PLATFORM, "producer"), PLATFORM, False),  # never a caller's name, but if it were
        (OPERATOR, PLATFORM, True),
        (Caller("team-a", "gateway"), "team-a", True),  # its role's allow-list decides the methods
    ],
)
def test_may_change(who: Caller, owner: str, may: bool) -> None:
    assert ownership.may_change(who, owner) is may


def test_a_refusal_names_the_owner() -> None:
    with pytest.raises(PermissionDenied, match=r"schema A\.Order belongs to team-a"):
        ownership.check(TEAM_B, "team-a", "schema A.Order")
    with pytest.raises(PermissionDenied, match="belongs to the platform"):
        ownership.check(TEAM_B, PLATFORM, "event type com.acme.x")
