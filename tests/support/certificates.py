"""Certificates for the TLS a test's server speaks: a self-signed one for localhost and
127.0.0.1 (what the client is told to trust), and a client certificate issued by an authority
of its own (Erlang's TLS, RabbitMQ's, refuses a self-signed peer: the authority is what the
server trusts)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _builder(subject: str, issuer: str, public: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )


def _write(
    directory: Path, name: str, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert, private = directory / f"{name}.pem", directory / f"{name}-key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert, private


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(certificate, PKCS#8 private key), PEM files in `directory`, valid for an hour."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        _builder("localhost", "localhost", key.public_key())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _write(directory, "cert", certificate, key)


def client_of_authority(directory: Path) -> tuple[Path, Path, Path]:
    """(the authority's certificate, a client certificate it issued, that certificate's key)."""
    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority = (
        _builder("test client authority", "test client authority", authority_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(authority_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    client = (
        _builder("event-streams", "test client authority", key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(authority_key, hashes.SHA256())
    )
    authority_path, _ = _write(directory, "client-authority", authority, authority_key)
    client_path, client_key = _write(directory, "client", client, key)
    return authority_path, client_path, client_key
