"""Which addresses a webhook may reach (runtime.addresses, and the delivery check before a
request), and the check at connection on every address a name resolves to (with DNS
answered in memory: the resolver is the seam)."""

from __future__ import annotations

import pytest

from runtime.addresses import is_public, numeric_host, refusal
from services.delivery.errors import DestinationRefused, Permanent
from services.delivery.sinks.webhook.destinations import Addresses, Lookup, check_host

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
def test_private_literals_are_refused_before_the_request(host: str) -> None:
    with pytest.raises(DestinationRefused) as info:
        check_host(host, allow_private=False)
    assert str(numeric_host(host)) in info.value.message
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
        "internal.corp",
        "",
        "127.0.0.1.nip.io",
    ],
)
def test_public_literals_and_names_pass_before_the_request(host: str) -> None:
    assert check_host(host, allow_private=False) is None


# The forms the C resolver reads as IPv4 (inet_aton) that a URL parser takes for names: they
# reached a loopback listener on aiohttp 3.13.2.
LEGACY = {
    "2130706433": "127.0.0.1",
    "127.1": "127.0.0.1",
    "0177.0.0.1": "127.0.0.1",
    "0": "0.0.0.0",
    "0x7f.1": "127.0.0.1",
    "0x7f000001": "127.0.0.1",
    "10.1": "10.0.0.1",
    "134744072": "8.8.8.8",
}


@pytest.mark.parametrize(("host", "address"), LEGACY.items())
def test_legacy_numeric_hosts_are_read_as_the_resolver_reads_them(host: str, address: str) -> None:
    assert str(numeric_host(host)) == address


@pytest.mark.parametrize("host", LEGACY)
@pytest.mark.parametrize("allow_private", [False, True])
def test_legacy_numeric_hosts_are_refused_permanently(host: str, allow_private: bool) -> None:
    with pytest.raises(DestinationRefused) as info:
        check_host(host, allow_private)
    assert info.value.code == 91307 and not info.value.retryable
    assert "legacy numeric form" in info.value.message


@pytest.mark.parametrize("host", ["cafe.be", "face.b00c", "deadbeef.example", "example.com", "a.b"])
def test_names_of_hex_letters_stay_names(host: str) -> None:
    assert numeric_host(host) is None


@pytest.mark.parametrize(
    ("host", "allow_private", "refused"),
    [
        ("localhost", False, True),
        ("LOCALHOST.", False, True),
        ("api.localhost", False, True),
        ("localhost", True, False),
        ("127.0.0.1", True, False),
        ("[::1]", True, False),
        ("127.0.0.1", False, True),
        ("8.8.8.8", False, False),
        ("[2606:4700::1111]", False, False),
        ("[2606:4700:0::1111]", False, False),  # IPv6 written longer is still that address
        ("example.com", False, False),
    ],
)
def test_refusal_by_policy(host: str, allow_private: bool, refused: bool) -> None:
    assert (refusal(host, allow_private) is not None) is refused


def answers(*found: str) -> Lookup:
    """DNS as the name's owner chooses to answer it (rebinding: a public name, a private address)."""

    async def lookup(host: str, port: int) -> list[str]:
        return list(found)

    return lookup


async def test_a_name_resolving_to_any_private_address_is_refused_at_connection() -> None:
    with pytest.raises(DestinationRefused) as refused:
        await Addresses(False, lookup=answers("93.184.216.34", "10.0.0.5"))("rebound.example", 443)
    assert "10.0.0.5" in refused.value.message and refused.value.code == 91307
    assert await Addresses(False, lookup=answers("93.184.216.34"))("example.com", 443) == ["93.184.216.34"]


async def test_private_answers_pass_when_allowed_and_answers_are_kept_for_their_ttl() -> None:
    asked: list[str] = []

    async def lookup(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["10.0.0.5"]

    addresses = Addresses(True, ttl_seconds=60, lookup=lookup)
    assert await addresses("internal.example", 80) == ["10.0.0.5"]
    assert await addresses("internal.example", 80) == ["10.0.0.5"]
    assert asked == ["internal.example"]
    assert await Addresses(True, ttl_seconds=0, lookup=lookup)("internal.example", 80) == ["10.0.0.5"]


async def test_a_numeric_host_is_its_own_address_without_a_lookup() -> None:
    async def lookup(host: str, port: int) -> list[str]:
        raise AssertionError("no lookup for a numeric host")

    assert await Addresses(False, lookup=lookup)("[2001:db8::1]", 443) == ["2001:db8::1"]
    assert await Addresses(False, lookup=lookup)("203.0.113.9", 443) == ["203.0.113.9"]
