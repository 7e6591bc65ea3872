"""Which addresses a webhook may reach (runtime.addresses, and the delivery check before a
request), and the check at connection on every address a name resolves to (with DNS
answered in memory: the resolver is the seam)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest

from runtime.addresses import is_public, numeric_host, refusal, wire_host, wire_url
from runtime.errors import InvalidArgument
from runtime.sink_configs import WebhookConfig
from services.control.sinks import SinkStore
from services.delivery.errors import DestinationRefused, Permanent
from services.delivery.sinks.base import SinkSpec
from services.delivery.sinks.http1 import Target
from services.delivery.sinks.webhook import WebhookDriver
from services.delivery.sinks.webhook.destinations import Addresses, Lookup, check_host
from services.delivery.sinks.webhook.driver import split_credentials

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

    assert await Addresses(False, lookup=lookup)("[2606:4700::1111]", 443) == ["2606:4700::1111"]
    assert await Addresses(False, lookup=lookup)("8.8.8.8", 443) == ["8.8.8.8"]
    assert await Addresses(True, lookup=lookup)("127.0.0.1", 443) == ["127.0.0.1"]
    assert await Addresses(True, lookup=lookup)("[fe80::1%eth0]", 443) == ["fe80::1%eth0"]
    # Judged as a name's answers are: documentation and loopback addresses are not public.
    for host in ("[2001:db8::1]", "203.0.113.9", "127.0.0.1"):
        with pytest.raises(DestinationRefused):
            await Addresses(False, lookup=lookup)(host, 443)


# Every form tried of a destination that reaches a non-public address: (destination, the
# address it reaches). Each is refused at creation (control, private destinations refused),
# when its sink is opened (delivery) and, when numeric, by the resolver the client connects
# through — all three on the host the client connects to, not on the host as typed.
DISGUISED = [
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "127.0.0.1"),  # fullwidth digits
    (
        "http://\uff11\uff16\uff19.\uff12\uff15\uff14.\uff11\uff16\uff19.\uff12\uff15\uff14/",
        "169.254.169.254",
    ),
    ("http://127\u30020\u30020\u30021/", "127.0.0.1"),  # ideographic full stops
    ("http://\u2460\u2461\u2466.0.0.1/", "127.0.0.1"),  # circled digits (NFKC)
    ("http://\uff11\uff10.\uff10.\uff10.\uff11/", "10.0.0.1"),
    ("http://2130706433/", "127.0.0.1"),  # decimal integer
    ("http://0x7f000001/", "127.0.0.1"),  # hex integer
    ("http://0x7f.1/", "127.0.0.1"),
    ("http://0177.0.0.1/", "127.0.0.1"),  # octal
    ("http://127.1/", "127.0.0.1"),
    ("http://0/", "0.0.0.0"),
    (
        "http://\uff12\uff11\uff13\uff10\uff17\uff10\uff16\uff14\uff13\uff13/",
        "127.0.0.1",
    ),  # fullwidth integer
    ("http://127.0.0.1./", "127.0.0.1"),  # trailing dot
    ("http://0x7f.1./", "127.0.0.1"),
    ("http://evil.example@127.0.0.1/", "127.0.0.1"),  # userinfo
    ("http://evil.example:x@127.0.0.1:8080/", "127.0.0.1"),
    ("http://u:p@127.1/", "127.0.0.1"),
    ("http://[::1]/", "::1"),
    ("http://[::ffff:127.0.0.1]/", "127.0.0.1"),  # IPv4-mapped
    ("http://[::ffff:7f00:1]/", "127.0.0.1"),
    ("http://[::ffff:169.254.169.254]/", "169.254.169.254"),
    ("http://[::ffff:0:7f00:1]/", "127.0.0.1"),  # IPv4-translated (SIIT)
    ("http://[::127.0.0.1]/", "127.0.0.1"),  # IPv4-compatible
    ("http://[64:ff9b::7f00:1]/", "127.0.0.1"),  # NAT64 well-known prefix
    ("http://[64:ff9b::a9fe:a9fe]/", "169.254.169.254"),
    ("http://[64:ff9b:1::7f00:1]/", "127.0.0.1"),  # NAT64 local-use
    ("http://[2002:7f00:1::]/", "127.0.0.1"),  # 6to4
    ("http://[2002:a9fe:a9fe::1]/", "169.254.169.254"),
    ("http://[2002:808:808::1]/", "8.8.8.8"),  # 6to4 is refused whatever it embeds
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "127.0.0.1"),  # Teredo (client obfuscated)
    ("http://[fe80::1]/", "fe80::1"),
    ("http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/", "localhost"),  # fullwidth name
    ("http://LOCALHOST./", "localhost"),
]


@pytest.mark.parametrize(("destination", "reaches"), DISGUISED)
def test_every_disguised_form_is_refused_at_creation(destination: str, reaches: str) -> None:
    config = json.dumps({"destination": destination, "method": "POST"})
    store = SinkStore(cast(Any, None), 10, cast(Any, None), allow_private_destinations=False)
    with pytest.raises(InvalidArgument) as refused:
        asyncio.run(store.create("AC" + "a" * 32, "x", "webhook", config))
    assert refused.value.twilio_code == 91000
    assert "destination" in refused.value.message


@pytest.mark.parametrize(("destination", "reaches"), DISGUISED)
async def test_every_disguised_form_is_refused_when_its_sink_is_opened(
    destination: str, reaches: str
) -> None:
    driver = WebhookDriver(1.0, allow_private=False, user_agent="test")
    config = WebhookConfig(destination=destination, method="POST", batch_events=False)
    sink = driver.open(SinkSpec("DG" + "c" * 32, "AC" + "a" * 32, config, "t" * 32))
    with pytest.raises(DestinationRefused) as refused:
        await sink.prepare()
    assert refused.value.code == 91307
    await driver.close()


# The names among them (localhost) are judged by their answers: see the rebinding tests.
@pytest.mark.parametrize(("destination", "reaches"), [(d, r) for d, r in DISGUISED if r != "localhost"])
async def test_the_resolver_refuses_every_numeric_form_it_is_asked_for(
    destination: str, reaches: str
) -> None:
    async def lookup(host: str, port: int) -> list[str]:
        raise AssertionError("no lookup for a numeric host")

    host = wire_host(destination)
    assert numeric_host(host) is not None
    with pytest.raises(DestinationRefused):
        await Addresses(False, lookup=lookup)(host, 80)


@pytest.mark.parametrize(
    ("destination", "host"),
    [
        ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:8080/x", "127.0.0.1"),
        ("http://127\u30020\u30020\u30021/", "127.0.0.1"),
        ("http://\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com/", "example.com"),
        ("http://\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444/", "xn--e1afmkfd.xn--p1ai"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
        ("http://u:p@Example.COM/", "example.com"),
    ],
)
def test_the_host_judged_is_the_host_the_client_connects_to(destination: str, host: str) -> None:
    assert wire_host(destination) == host
    assert Target.of(wire_url(split_credentials(destination)[0])).origin.host == host


@pytest.mark.parametrize(
    "destination",
    [
        "https://example.com/hook",
        "https://\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444/hook",
        "http://8.8.8.8/",
        "http://[2606:4700::1111]/",
        "http://[64:ff9b::808:808]/",  # NAT64 to a public address
        "http://[::ffff:8.8.8.8]/",
    ],
)
def test_public_destinations_stay_accepted(destination: str) -> None:
    assert refusal(wire_host(destination), allow_private=False) is None
