"""The broker sinks' PEM material as their configurations take it (Kafka, NATS): the
authorities to trust and a client certificate with its key, each parsed, the key the
certificate's and unencrypted, laid out afresh when a form dropped the line breaks — and only
with TLS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from runtime.errors import InvalidArgument
from runtime.sinks import kafka, nats
from tests.support.certificates import self_signed

pytestmark = pytest.mark.unit

BASE = {"bootstrap_servers": "kafka.example.com:9093", "topic": "events", "tls": True}


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    first, other = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("other")
    cert, key = self_signed(first)
    other_cert, other_key = self_signed(other)
    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    encrypted = loaded.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    return {
        "cert": cert.read_text(),
        "key": key.read_text(),
        "other_key": other_key.read_text(),
        "other_cert": other_cert.read_text(),
        "encrypted_key": encrypted.decode(),
    }


def test_pems_are_taken_and_laid_out_afresh(pems: dict[str, str]) -> None:
    given = {"ca_certificate": pems["cert"] + pems["other_cert"], "client_certificate": pems["cert"]}
    parsed = kafka.parse({**BASE, **given, "client_key": pems["key"]})
    assert parsed.ca_certificate.count("BEGIN CERTIFICATE") == 2
    assert parsed.client_certificate == pems["cert"] and parsed.client_key == pems["key"]
    flattened = {k: v.replace("\n", "") for k, v in {**given, "client_key": pems["key"]}.items()}
    assert kafka.parse({**BASE, **flattened}) == parsed


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"ca_certificate": "not a certificate"}, "ca_certificate must hold PEM certificates"),
        (
            {"ca_certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"},
            "does not parse",
        ),
        ({"ca_certificate": "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----"}, "must hold PEM"),
        ({"client_certificate": "{cert}"}, "client_key is empty"),
        ({"client_key": "{key}"}, "client_certificate is empty"),
        ({"client_certificate": "{cert}", "client_key": "{other_key}"}, "client_key is not the key of"),
        ({"client_certificate": "{cert}", "client_key": "{encrypted_key}"}, "client_key is encrypted"),
        (
            {"client_certificate": "{cert}", "client_key": "{cert}"},
            "client_key must hold one PEM private key",
        ),
        ({"ca_certificate": "{cert}", "tls": False}, "set tls to true"),
        ({"ca_certificate": "{cert}" * 200}, "ca_certificate is longer than"),
    ],
)
def test_what_is_refused_and_why(pems: dict[str, str], config: dict[str, Any], message: str) -> None:
    filled = {k: v.format(**pems) if isinstance(v, str) else v for k, v in config.items()}
    with pytest.raises(InvalidArgument) as refused:
        kafka.parse({**BASE, **filled})
    assert message in str(refused.value) and refused.value.twilio_code == 91000


def test_without_pems_nothing_changes(tmp_path: Path) -> None:
    parsed = kafka.parse(BASE)
    assert (parsed.ca_certificate, parsed.client_certificate, parsed.client_key) == ("", "", "")


def test_a_nats_sink_takes_them_over_tls_only(pems: dict[str, str]) -> None:
    config = {"url": "tls://nats.example.com", "subject": "events", "ca_certificate": pems["cert"]}
    config |= {"client_certificate": pems["cert"], "client_key": pems["key"]}
    parsed = nats.parse(config)
    assert (parsed.ca_certificate, parsed.client_certificate, parsed.client_key) == (
        pems["cert"],
        pems["cert"],
        pems["key"],
    )
    with pytest.raises(InvalidArgument, match="use a tls:// url"):
        nats.parse({**config, "url": "nats://nats.example.com"})
    with pytest.raises(InvalidArgument, match="client_key is not the key of"):
        nats.parse({**config, "client_key": pems["other_key"]})
