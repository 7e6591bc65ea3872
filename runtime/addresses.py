"""What a destination's host means as an address, as the C resolver reads it — including the
legacy IPv4 forms `inet_aton` accepts (`127.1`, `2130706433`, `0177.0.0.1`, `0x7f.1`, `0`),
which look like names to a URL parser but reach the address they encode — and whether that
address is public. Shared by control (refusing at creation) and delivery (refusing at
connection).

Both judge the host the webhook client will connect to, not the host as it was typed: the
client puts a URL on the wire in yarl's form, whose host is IDNA-encoded (UTS 46, NFKC
first), so fullwidth digits (`１２７.０.０.１`) and ideographic full stops (`127。0。0。1`)
arrive as `127.0.0.1`. `wire_url` / `normalise_host` are that one normalisation."""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from yarl import URL

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# What inet_aton might read as a number: digits, hex digits with 0x, dots. A name made of
# hex letters only ("cafe.be") is not accepted by inet_aton (no 0x), so stays a name.
_NUMERIC = re.compile(r"[0-9a-fA-FxX.]+")

# IPv6 prefixes that carry an IPv4 address in their last 32 bits and reach it: IPv4-mapped,
# IPv4-translated (SIIT), IPv4-compatible (deprecated; ::/96 also holds :: and ::1), and the
# NAT64 well-known prefix. Such an address is as public as the IPv4 address inside it.
_EMBEDS_IPV4_LOW32 = tuple(
    ipaddress.IPv6Network(prefix) for prefix in ("::ffff:0:0/96", "::ffff:0:0:0/96", "::/96", "64:ff9b::/96")
)
# Prefixes refused outright: 6to4 (relays send to the IPv4 address in bits 16-48; deprecated,
# RFC 7526), Teredo (the client's IPv4 obfuscated inside; the server's in clear) and
# local-use NAT64 (RFC 8215: an operator's own translator, the IPv4 position set by its
# prefix length).
_TRANSITION = tuple(ipaddress.IPv6Network(prefix) for prefix in ("2002::/16", "2001::/32", "64:ff9b:1::/48"))


def wire_url(url: str) -> str:
    """The URL as the webhook client sends it (and signs it): yarl's normalised form. Raises
    ValueError for what yarl cannot encode."""
    return str(URL(url))


def wire_host(url: str) -> str:
    """The host the webhook client connects to for `url` (lowercase, IDNA, IPv6 without
    brackets); "" for none."""
    return urlsplit(wire_url(url)).hostname or ""


def normalise_host(host: str) -> str:
    """One host as `wire_host` would give it. A host yarl cannot encode is judged as written
    (lowercased): the client cannot connect to it either."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not bare:
        return ""
    try:
        return URL.build(scheme="http", host=bare).raw_host or ""
    except ValueError:
        return bare.lower()


def numeric_host(host: str) -> Address | None:
    """The address a host stands for when it is numeric in any form — including with a
    trailing dot, which some resolvers strip — ; None for a name."""
    bare = host.strip("[]").split("%", 1)[0]
    if bare.endswith(".") and not bare.endswith(".."):
        bare = bare[:-1]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if not _NUMERIC.fullmatch(bare):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


def is_canonical(host: str, address: Address) -> bool:
    """Written as the address's own standard form (dotted quad; IPv6 as Python prints it,
    any case)."""
    bare = host.strip("[]").split("%", 1)[0].lower()
    return bare == str(address) or (isinstance(address, ipaddress.IPv6Address) and _ipv6_equal(bare, address))


def _ipv6_equal(text: str, address: ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.IPv6Address(text) == address
    except ValueError:
        return False


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through a prefix that embeds one in its
    last 32 bits; None for any other IPv6 address."""
    if any(address in prefix for prefix in _EMBEDS_IPV4_LOW32):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address | str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in prefix for prefix in _TRANSITION):
            return False
        inner = embedded_ipv4(ip)
        if inner is not None:
            ip = inner
    # is_global also excludes shared address space (100.64.0.0/10, where some clouds keep
    # their metadata service), which is_private does not cover on every Python.
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def refusal(host: str, allow_private: bool) -> str | None:
    """Why a destination host is refused before any lookup, or None: a numeric host in a
    legacy form always (write the address plainly), a non-public address or `localhost`
    unless the operator allows private destinations. The host is judged as the client
    connects to it (`normalise_host`). Other names are checked where they are resolved
    (delivery), on every address they resolve to."""
    normal = normalise_host(host)
    address = numeric_host(normal)
    if address is not None and not is_canonical(normal, address):
        return f"destination host {host} is a legacy numeric form of {address}: write it as {address}"
    if allow_private:
        return None
    if address is not None and not is_public(address):
        return f"destination {address} is not a public address"
    if address is None and normal.rstrip(".").split(".")[-1] == "localhost":
        return f"destination {host} is not a public address"
    return None
