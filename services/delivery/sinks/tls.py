"""A broker sink's TLS context (Kafka, NATS): the driver's own (the system's authorities)
unless the sink's configuration names authorities to trust or a client certificate to
present (runtime/sinks/tls.py checked them), then one of its own. Python's ssl loads a
certificate and key from files only: they are written to a private directory (0700) for the
load and removed at once."""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class PemConfig(Protocol):
    @property
    def ca_certificate(self) -> str: ...

    @property
    def client_certificate(self) -> str: ...

    @property
    def client_key(self) -> str: ...


class SystemTrust:
    """A driver's TLS context for every sink that brings no PEM of its own: the system's
    authorities (or the context given, in tests), loaded once — loading them is not free."""

    def __init__(self, given: ssl.SSLContext | None = None) -> None:
        self._context = given

    def __call__(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context()
        return self._context


def context(config: PemConfig, shared: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    if not config.ca_certificate and not config.client_certificate:
        return shared()
    if config.ca_certificate:
        made = ssl.create_default_context(cadata=config.ca_certificate)
    else:
        made = trusting_as(shared())
    if config.client_certificate:
        with tempfile.TemporaryDirectory(prefix="evs-tls-") as directory:
            certificate, key = Path(directory) / "certificate.pem", Path(directory) / "key.pem"
            certificate.write_text(config.client_certificate)
            key.touch(mode=0o600)
            key.write_text(config.client_key)
            made.load_cert_chain(certificate, key)
    return made


def trusting_as(shared: ssl.SSLContext) -> ssl.SSLContext:
    """A context of its own that trusts what the driver's does: the system's authorities and
    any it was given (a client certificate is loaded into a context, so a sink that presents
    one cannot use the shared one)."""
    made = ssl.create_default_context()
    for authority in shared.get_ca_certs(binary_form=True):
        made.load_verify_locations(cadata=ssl.DER_cert_to_PEM_cert(authority))
    return made
