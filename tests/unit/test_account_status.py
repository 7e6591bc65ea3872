"""services.control.accounts.status_change: who may set a subaccount's status, to what."""

from __future__ import annotations

import pytest

from runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied, ServiceError
from services.control.accounts import status_change
from services.control.models import AccountRow

pytestmark = pytest.mark.unit

PARENT = "AC" + "1" * 32
SUB = "AC" + "2" * 32


def _account(sid: str, owner: str | None, status: str) -> AccountRow:
    return AccountRow(sid=sid, owner_account_sid=owner, status=status)


@pytest.mark.parametrize(
    ("caller", "target", "wanted", "refusal"),
    [
        (PARENT, _account(SUB, PARENT, "active"), "suspended", None),
        (PARENT, _account(SUB, PARENT, "suspended"), "active", None),
        (PARENT, _account(SUB, PARENT, "suspended"), "closed", None),
        (PARENT, _account(SUB, PARENT, "active"), "active", None),  # unchanged: allowed
        (PARENT, _account(SUB, PARENT, "closed"), "closed", None),
        (PARENT, _account(SUB, PARENT, "closed"), "active", FailedPrecondition),  # closed is final
        (PARENT, _account(SUB, PARENT, "closed"), "suspended", FailedPrecondition),
        (SUB, _account(SUB, PARENT, "active"), "suspended", PermissionDenied),  # not itself
        (PARENT, _account(PARENT, None, "active"), "closed", PermissionDenied),  # a main account
        (SUB, _account(PARENT, None, "active"), "suspended", PermissionDenied),  # not its parent
        (PARENT, _account(SUB, PARENT, "active"), "paused", InvalidArgument),
        (PARENT, _account(SUB, PARENT, "active"), "Suspended", InvalidArgument),
    ],
)
def test_status_change(
    caller: str, target: AccountRow, wanted: str, refusal: type[ServiceError] | None
) -> None:
    if refusal is None:
        status_change(caller, target, wanted)
    else:
        with pytest.raises(refusal):
            status_change(caller, target, wanted)
