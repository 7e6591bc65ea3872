"""PEM material in a sink's configuration — the certificate authority to trust, and a client
certificate with its key (mutual TLS) — checked when the sink is made: each block parsed, the
key unencrypted and the certificate's own. A block pasted into a one-line form field (its
line breaks gone) reads the same: the blocks are found by their markers and laid out afresh."""

from __future__ import annotations

import base64
import binascii
import re
import textwrap
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from runtime.sinks.base import Field, invalid, optional_string

MAX_PEM_LENGTH = 64 * 1024
BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END \1-----")
KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY")


def _blocks(value: str, key: str) -> list[tuple[str, bytes]]:
    if len(value) > MAX_PEM_LENGTH:
        raise invalid(f"{key} is longer than {MAX_PEM_LENGTH} characters")
    found = []
    for match in BLOCK.finditer(value):
        body = re.sub(r"\s+", "", match.group(2))
        try:
            found.append((match.group(1), base64.b64decode(body, validate=True)))
        except (binascii.Error, ValueError) as exc:
            raise invalid(f"{key}: a {match.group(1)} block is not base64") from exc
    return found


def _pem(label: str, der: bytes) -> str:
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def certificates(value: str, key: str) -> str:
    """One or more PEM certificates (a chain, or the authorities to trust), laid out afresh."""
    if not value:
        return ""
    blocks = [(label, der) for label, der in _blocks(value, key) if label == "CERTIFICATE"]
    if not blocks:
        raise invalid(f"{key} must hold PEM certificates (-----BEGIN CERTIFICATE-----)")
    for _, der in blocks:
        try:
            x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise invalid(f"{key}: a certificate does not parse ({exc})") from exc
    return "".join(_pem("CERTIFICATE", der) for _, der in blocks)


def private_key(value: str, key: str) -> str:
    """An unencrypted PEM private key, laid out afresh."""
    if not value:
        return ""
    blocks = [(label, der) for label, der in _blocks(value, key) if label in KEY_LABELS]
    if len(blocks) != 1:
        raise invalid(f"{key} must hold one PEM private key (-----BEGIN PRIVATE KEY-----)")
    label, der = blocks[0]
    if label == "ENCRYPTED PRIVATE KEY":
        raise invalid(f"{key} is encrypted: give the key without a passphrase")
    pem = _pem(label, der)
    try:
        serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise invalid(f"{key} does not parse as a private key") from exc
    return pem


def client_pair(certificate: str, key: str, names: tuple[str, str]) -> tuple[str, str]:
    """A client certificate (its chain) and its key, both or neither; the key the first
    certificate's."""
    chain, private = certificates(certificate, names[0]), private_key(key, names[1])
    if bool(chain) != bool(private):
        missing = names[1] if chain else names[0]
        raise invalid(f"{missing} is empty ({names[0]} and {names[1]} go together)")
    if chain:
        leaf = x509.load_pem_x509_certificate(chain.encode())
        loaded = serialization.load_pem_private_key(private.encode(), password=None)
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        encoding = serialization.Encoding.DER
        if leaf.public_key().public_bytes(encoding, public) != loaded.public_key().public_bytes(
            encoding, public
        ):
            raise invalid(f"{names[1]} is not the key of {names[0]}")
    return chain, private


KEYS = ("ca_certificate", "client_certificate", "client_key")


def from_config(config: dict[str, Any], on_tls: bool, how: str) -> tuple[str, str, str]:
    """(ca_certificate, client_certificate, client_key) of a sink's configuration, checked;
    given only when it connects with TLS (`how` says how to ask for it)."""
    authority = certificates(optional_string(config, "ca_certificate"), "ca_certificate")
    chain, key = client_pair(
        optional_string(config, "client_certificate"),
        optional_string(config, "client_key"),
        ("client_certificate", "client_key"),
    )
    if (authority or chain) and not on_tls:
        raise invalid(f"ca_certificate and client_certificate are for TLS: {how}")
    return authority, chain, key


# Multi-line text (JSON Schema's contentMediaType): a form shows a text area for it.
PEM = {"contentMediaType": "application/x-pem-file"}


def fields(server: str, when: str) -> tuple[Field, Field, Field]:
    """The three fields as a sink type's form shows them."""
    return (
        Field(
            "ca_certificate",
            f"PEM certificates of the authorities that sign {server} certificates (a private CA),"
            f" trusted instead of the public ones ({when})",
            required=False,
            constraints=PEM,
        ),
        Field(
            "client_certificate",
            "PEM client certificate for mutual TLS (with client_key)",
            required=False,
            constraints=PEM,
        ),
        Field(
            "client_key", "That certificate's unencrypted PEM private key", required=False, constraints=PEM
        ),
    )
