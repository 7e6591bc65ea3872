"""What a destination's host means as an address, as the C resolver reads it — including the
legacy IPv4 forms `inet_aton` accepts (`127.1`, `2130706433`, `0177.0.0.1`, `0x7f.1`, `0`),
which look like names to a URL parser but reach the address they encode — and whether that
address is public. Shared by control (refusing at creation) and delivery (refusing at
connection)."""

from __future__ import annotations

import ipaddress
import re
import socket

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# What inet_aton might read as a number: digits, hex digits with 0x, dots. A name made of
# hex letters only ("cafe.be") is not accepted by inet_aton (no 0x), so stays a name.
_NUMERIC = re.compile(r"[0-9a-fA-FxX.]+")


def numeric_host(host: str) -> Address | None:
    """The address a host stands for when it is numeric in any form; None for a name."""
    bare = host.strip("[]").split("%", 1)[0]
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


def is_public(address: Address | str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
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
    unless the operator allows private destinations. Other names are checked where they
    are resolved (delivery), on every address they resolve to."""
    address = numeric_host(host)
    if address is not None and not is_canonical(host, address):
        return f"destination host {host} is a legacy numeric form of {address}: write it as {address}"
    if allow_private:
        return None
    if address is not None and not is_public(address):
        return f"destination {address} is not a public address"
    if address is None and host.rstrip(".").lower().split(".")[-1] == "localhost":
        return f"destination {host} is not a public address"
    return None
