"""Auth tokens sealed at rest: round trip, legacy plaintext, rotation, wrong keys."""

from __future__ import annotations

import pytest

from runtime.token_cipher import PREFIX, TokenCipher, new_key

pytestmark = pytest.mark.unit

TOKEN = "a" * 32


def test_sealed_tokens_hold_no_plaintext_and_reveal() -> None:
    cipher = TokenCipher(new_key())
    sealed = cipher.seal(TOKEN)
    assert sealed.startswith(PREFIX) and TOKEN not in sealed
    assert cipher.reveal(sealed) == TOKEN
    assert cipher.seal(TOKEN) != sealed  # random IV: equal tokens do not look equal


def test_plaintext_from_before_is_revealed_and_marked_for_sealing() -> None:
    cipher = TokenCipher(new_key())
    assert cipher.reveal(TOKEN) == TOKEN
    assert cipher.needs_sealing(TOKEN)
    assert not cipher.needs_sealing(cipher.seal(TOKEN))


def test_rotation_reveals_old_and_reseals_with_the_new_key() -> None:
    old, new = new_key(), new_key()
    sealed_old = TokenCipher(old).seal(TOKEN)
    rotated = TokenCipher(f"{new},{old}")
    assert rotated.reveal(sealed_old) == TOKEN
    assert rotated.needs_sealing(sealed_old)
    assert not rotated.needs_sealing(rotated.seal(TOKEN))


def test_without_a_key_nothing_is_sealed_and_sealed_values_are_an_error() -> None:
    off = TokenCipher("")
    assert not off.enabled and off.seal(TOKEN) == TOKEN
    with pytest.raises(ValueError, match="not set"):
        off.reveal(TokenCipher(new_key()).seal(TOKEN))
    with pytest.raises(ValueError, match="cannot be decrypted"):
        TokenCipher(new_key()).reveal(TokenCipher(new_key()).seal(TOKEN))
