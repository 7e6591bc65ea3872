"""NKeys and decentralised (JWT) logins for a customer's nats-server in the NATS sink's tests:
an operator, an account and a user made here, signed as nats-io/jwt signs them (ed25519 over
`header.claims`, base64url), and the `.creds` file a customer's `nsc` would hand out."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import nkeys

UNLIMITED = -1


@dataclass(frozen=True)
class Key:
    seed: str
    public: str

    @classmethod
    def new(cls, prefix: int) -> Key:
        seed = nkeys.encode_seed(os.urandom(32), prefix).decode()
        return cls(seed, nkeys.from_seed(seed.encode()).public_key.decode())

    def sign(self, data: bytes) -> bytes:
        signed: bytes = nkeys.from_seed(self.seed.encode()).sign(data)
        return signed


def user_key() -> Key:
    return Key.new(nkeys.PREFIX_BYTE_USER)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(issuer: Key, subject: str, name: str, nats_claims: dict[str, Any], expires: int = 0) -> str:
    claims: dict[str, Any] = {"iat": int(time.time()), "iss": issuer.public, "name": name, "sub": subject}
    if expires:
        claims["exp"] = expires
    claims["nats"] = {**nats_claims, "version": 2}
    claims["jti"] = (
        base64.b32encode(hashlib.sha256(json.dumps(claims).encode()).digest()).decode().rstrip("=")
    )
    header = {"typ": "JWT", "alg": "ed25519-nkey"}
    signed = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signed}.{_b64(issuer.sign(signed.encode()))}"


def creds(user_jwt: str, seed: str) -> str:
    """A `.creds` file as `nsc generate creds` writes it."""
    return (
        f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )


@dataclass(frozen=True)
class Operator:
    """An operator with one account, for a server in operator mode (its JWTs preloaded)."""

    operator: Key
    account: Key
    system: Key
    operator_jwt: str
    account_jwt: str
    system_jwt: str

    @classmethod
    def new(cls) -> Operator:
        operator = Key.new(nkeys.PREFIX_BYTE_OPERATOR)
        account, system = Key.new(nkeys.PREFIX_BYTE_ACCOUNT), Key.new(nkeys.PREFIX_BYTE_ACCOUNT)
        limits = {
            "subs": UNLIMITED,
            "data": UNLIMITED,
            "payload": UNLIMITED,
            "imports": UNLIMITED,
            "exports": UNLIMITED,
            "wildcards": True,
            "conn": UNLIMITED,
            "leaf": UNLIMITED,
        }
        # JetStream for the account (the server runs it, and it needs a system account too).
        stored = {
            "mem_storage": UNLIMITED,
            "disk_storage": UNLIMITED,
            "streams": UNLIMITED,
            "consumer": UNLIMITED,
        }
        return cls(
            operator,
            account,
            system,
            jwt(operator, operator.public, "customer", {"type": "operator", "system_account": system.public}),
            jwt(operator, account.public, "events", {"type": "account", "limits": {**limits, **stored}}),
            jwt(operator, system.public, "SYS", {"type": "account", "limits": limits}),
        )

    def server_config(self) -> str:
        return (
            f"operator: {self.operator_jwt}\nsystem_account: {self.system.public}\nresolver: MEMORY\n"
            f"resolver_preload: {{\n  {self.account.public}: {self.account_jwt}\n"
            f"  {self.system.public}: {self.system_jwt}\n}}\n"
        )

    def user(self, name: str, signer: Key | None = None, expires: int = 0) -> tuple[Key, str]:
        """A user of the account (signed by `signer`, the account's key unless given; expiring
        at `expires`, a Unix time, when given) and its JWT."""
        user = user_key()
        claims = {
            "type": "user",
            "subs": UNLIMITED,
            "data": UNLIMITED,
            "payload": UNLIMITED,
            "pub": {},
            "sub": {},
        }
        return user, jwt(signer or self.account, user.public, name, claims, expires)
