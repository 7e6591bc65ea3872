"""A NATS sink's NKey and `.creds` logins as its configuration takes them: a user seed whose
checksum holds, a `.creds` file whose seed is the key its user JWT names — laid out afresh
when a form lost its line breaks — and one way to log in at a time."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.errors import InvalidArgument
from runtime.sinks import nats
from tests.support.nats_auth import Operator, creds, user_key

pytestmark = pytest.mark.unit

BASE = {"url": "tls://connect.ngs.global", "subject": "twilio.events"}
OPERATOR = Operator.new()
USER, USER_JWT = OPERATOR.user("event-streams")
CREDS = creds(USER_JWT, USER.seed)
OTHER = user_key()
EXPIRED, EXPIRED_JWT = OPERATOR.user("expired", expires=1_700_000_000)
SIGNATURE = "s" * 86  # an ed25519 signature's length in base64url


def flipped(seed: str, at: int) -> str:
    """The seed with one character changed (a typo the checksum catches)."""
    return seed[:at] + ("B" if seed[at] != "B" else "C") + seed[at + 1 :]


def test_an_nkey_seed_is_taken_as_it_is() -> None:
    parsed = nats.parse({**BASE, "nkey_seed": f" {USER.seed} "})
    assert parsed.nkey_seed == USER.seed and not parsed.credentials


def test_a_creds_file_is_taken_and_laid_out_as_clients_read_it() -> None:
    parsed = nats.parse({**BASE, "credentials": CREDS})
    assert parsed.credentials == nats.creds_file(USER_JWT, USER.seed)
    # Pasted into a one-line text field, its line breaks gone, it reads the same.
    assert nats.parse({**BASE, "credentials": CREDS.replace("\n", "")}).credentials == parsed.credentials


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"nkey_seed": "SUxyz"}, "nkey_seed must be an NKey user seed"),
        ({"nkey_seed": OTHER.seed.replace("SU", "SA", 1)}, "nkey_seed must be an NKey user seed"),
        ({"nkey_seed": flipped(USER.seed, 20)}, "nkey_seed is not a valid NKey seed: its checksum"),
        ({"credentials": USER_JWT}, "credentials must be a .creds file's contents"),
        ({"credentials": creds(USER_JWT, OTHER.seed)}, "the seed is not the key of the JWT's user"),
        ({"credentials": creds(OPERATOR.account_jwt, USER.seed)}, "the JWT is not a user's"),
        ({"credentials": creds(f"e30.e30.{SIGNATURE}", USER.seed)}, "the JWT is not a user's"),
        ({"credentials": creds(f"a.!.{SIGNATURE}", USER.seed)}, "must be a .creds file's contents"),
        ({"credentials": creds(f"a.bm90IGpzb24.{SIGNATURE}", USER.seed)}, "the user JWT does not decode"),
        (
            {"credentials": creds(USER_JWT, flipped(USER.seed, 20))},
            "credentials' seed is not a valid NKey seed",
        ),
        ({"credentials": CREDS + "*" * nats.MAX_CREDS_LENGTH}, "credentials is longer than"),
        (
            {"credentials": creds(EXPIRED_JWT, EXPIRED.seed)},
            "the user JWT expired at 2023-11-14T22:13:20+00:00",
        ),
        ({"credentials": CREDS, "token": "t"}, "are ways to log in: give one"),
        ({"nkey_seed": USER.seed, "username": "u", "password": "p"}, "are ways to log in: give one"),
        ({"nkey_seed": USER.seed, "credentials": CREDS}, "are ways to log in: give one"),
    ],
)
def test_what_is_refused_and_why(config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        nats.parse({**BASE, **config})
    assert message in str(refused.value) and refused.value.twilio_code == 91000
