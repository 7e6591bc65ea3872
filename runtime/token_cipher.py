"""Auth tokens at rest: sealed with a key from the environment, revealed where they are used.

Control must know each account's auth token in the clear — deliveries are signed with it
(X-Twilio-Signature), so a one-way hash will not do — but a copy of its database (a backup, a
read replica, a leaked dump) must not hand them out. Tokens are stored as
`enc:v1:<Fernet token>` (AES-128-CBC with HMAC-SHA256, from the `cryptography` package rather
than anything hand-made) under `ES_TOKEN_ENCRYPTION_KEY`: one or more Fernet keys, comma-
separated, the first used to seal and all tried to reveal (rotate by putting a new key first,
restarting, and letting control re-seal at start). A value without the prefix is a token
stored before encryption was configured: revealed as it is, and sealed at the next start.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "enc:v1:"


class TokenCipher:
    def __init__(self, keys: str) -> None:
        fernets = [Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()]
        self._fernet = MultiFernet(fernets) if fernets else None
        self._primary = fernets[0] if fernets else None
        # Older keys listed after the first: tokens sealed under them are sealed again.
        self.rotating = len(fernets) > 1

    @property
    def enabled(self) -> bool:
        return self._fernet is not None

    def seal(self, token: str) -> str:
        if self._primary is None:
            return token
        return PREFIX + self._primary.encrypt(token.encode()).decode()

    def reveal(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored
        if self._fernet is None:
            raise ValueError("an auth token is encrypted but ES_TOKEN_ENCRYPTION_KEY is not set")
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise ValueError("an auth token cannot be decrypted with ES_TOKEN_ENCRYPTION_KEY") from exc

    def needs_sealing(self, stored: str) -> bool:
        """Stored in the clear, or under a key that is no longer the first."""
        if self._primary is None:
            return False
        if not stored.startswith(PREFIX):
            return True
        try:
            self._primary.decrypt(stored[len(PREFIX) :].encode())
        except InvalidToken:
            return True
        return False


def new_key() -> str:
    return Fernet.generate_key().decode()
