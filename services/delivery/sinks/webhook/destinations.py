"""Which addresses a webhook may reach. Loopback, private, link-local, multicast and
reserved addresses are refused unless the operator allows them (the local dev profile).

The check runs where the connection is made — in the resolver, on every address a name
resolves to — so a name that later resolves somewhere private (DNS rebinding) is refused
too. Numeric hosts, which are never resolved (and the legacy forms of which URL parsers take
for names), are checked when the sink is opened and again in the resolver, on the host the
client connects to (its wire form: runtime.addresses.wire_host), never on the host as typed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from runtime import addresses
from services.delivery.errors import ConnectFailed, DestinationRefused


def check_host(host: str, allow_private: bool) -> None:
    """Refuse, before any lookup, a host that is a legacy numeric form of an address, or a
    non-public address when private destinations are not allowed (runtime.addresses)."""
    reason = addresses.refusal(host, allow_private)
    if reason is not None:
        raise DestinationRefused(reason)


# A name and port → its addresses (the seam the unit tests answer in memory).
Lookup = Callable[[str, int], Awaitable[list[str]]]


async def system_lookup(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Addresses:
    """The webhook client's resolver (services/delivery/sinks/http1.py): a name's addresses,
    kept `ttl_seconds`, every one of them public unless private destinations are allowed.
    A numeric host is its own address, checked here as a name's are (whatever path reached
    the client with it)."""

    def __init__(
        self, allow_private: bool, ttl_seconds: float = 60.0, lookup: Lookup = system_lookup
    ) -> None:
        self._allow_private = allow_private
        self._lookup = lookup
        self._ttl = ttl_seconds
        self._known: dict[str, tuple[float, list[str]]] = {}

    async def __call__(self, host: str, port: int) -> list[str]:
        address = addresses.numeric_host(host)
        if address is not None:
            check_host(host, self._allow_private)
            # Connected to as checked: the address itself (an IPv6 link-local keeps its zone).
            zone = host.strip("[]").partition("%")[2]
            return [f"{address}%{zone}" if zone and address.version == 6 else str(address)]
        loop = asyncio.get_running_loop()
        known = self._known.get(host)
        if known is not None and known[0] > loop.time():
            return known[1]
        try:
            found = await self._lookup(host, port)
        except OSError as exc:
            raise ConnectFailed(f"cannot resolve {host}: {exc}") from exc
        if not self._allow_private:
            refused = [a for a in found if not addresses.is_public(a)]
            if refused:
                raise DestinationRefused(f"destination {host} resolves to non-public {refused[0]}")
        self._known[host] = (loop.time() + self._ttl, found)
        return found
