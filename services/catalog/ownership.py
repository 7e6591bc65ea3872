"""Who may change a registered event type or schema: the caller that registered it, its owner,
or an operator (the admin role). Pure: the registry asks before each change.

Twilio's catalogue is the platform's (and refreshed by the seed at every start, so the registry
refuses to change it for anyone); so is what was registered before owners were recorded, which
only an operator may change. PLATFORM cannot be a caller's name (service_auth.NAME has no
parentheses), so no credential can own the platform's.
"""

from __future__ import annotations

from runtime.errors import PermissionDenied
from runtime.service_auth import Caller
from services.catalog.models import PLATFORM

OPERATOR_ROLE = "admin"


def may_change(who: Caller, owner: str) -> bool:
    return who.role == OPERATOR_ROLE or (owner != PLATFORM and who.name == owner)


def check(who: Caller, owner: str, what: str) -> None:
    if not may_change(who, owner):
        belongs = "the platform" if owner == PLATFORM else owner
        raise PermissionDenied(
            f"{what} belongs to {belongs}: only the caller that registered it (or an operator) may change it"
        )
