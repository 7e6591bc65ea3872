"""Unit tests for services.delivery.sinks.webhook.destinations: which addresses a webhook may reach.
Only the pure address checks; the resolver is not exercised (it does DNS)."""

from __future__ import annotations

import pytest

from services.delivery.errors import DestinationRefused, Permanent
from services.delivery.sinks.webhook.destinations import check_literal, is_public

pytestmark = pytest.mark.unit

NOT_PUBLIC = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456:789a::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.1.2.3",
    "::ffff:169.254.169.254",
    "::ffff:192.168.0.1",
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "172.15.255.255",
    "172.32.0.1",
    "93.184.216.34",
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_is_public_false(address: str) -> None:
    assert is_public(address) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_is_public_true(address: str) -> None:
    assert is_public(address) is True


@pytest.mark.parametrize("address", ["example.com", "localhost", "", "256.1.1.1", "[::1]"])
def test_is_public_rejects_non_addresses(address: str) -> None:
    with pytest.raises(ValueError):
        is_public(address)


@pytest.mark.parametrize("address", ["100.64.0.1", "100.100.100.200", "::ffff:100.64.0.1"])
def test_shared_address_space_is_not_public(address: str) -> None:
    assert is_public(address) is False


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.5",
        "192.168.0.10",
        "169.254.169.254",
        "0.0.0.0",
        "::1",
        "[::1]",
        "[fe80::1]",
        "[::ffff:127.0.0.1]",
        "224.0.0.1",
    ],
)
def test_check_literal_refuses_private_literals(host: str) -> None:
    with pytest.raises(DestinationRefused) as info:
        check_literal(host)
    assert host in info.value.message
    assert info.value.retryable is False
    assert isinstance(info.value, Permanent)
    assert info.value.code == 91307


@pytest.mark.parametrize(
    "host",
    [
        "8.8.8.8",
        "[2606:4700::1111]",
        "2606:4700::1111",
        "example.com",
        "localhost",  # names are checked when resolved, not here
        "internal.corp",
        "",
        "127.0.0.1.nip.io",
    ],
)
def test_check_literal_allows_public_literals_and_names(host: str) -> None:
    assert check_literal(host) is None
