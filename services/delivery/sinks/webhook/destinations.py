"""Which addresses a webhook may reach. Loopback, private, link-local, multicast and
reserved addresses are refused unless the operator allows them (the local dev profile).

The check runs where the connection is made — in the resolver, on every address a name
resolves to — so a name that later resolves somewhere private (DNS rebinding) is refused
too; IP literals, which aiohttp never resolves, are checked before the request."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from services.delivery.errors import DestinationRefused


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
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


def check_literal(host: str) -> None:
    """Refuse an IP-literal host that is not public; names are checked at resolution."""
    try:
        public = is_public(host.strip("[]"))
    except ValueError:
        return
    if not public:
        raise DestinationRefused(f"destination {host} is not a public address")


class PublicOnlyResolver(AbstractResolver):
    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        refused = [r["host"] for r in results if not is_public(r["host"])]
        if refused:
            raise DestinationRefused(f"destination {host} resolves to non-public {refused[0]}")
        return results

    async def close(self) -> None:
        await self._inner.close()


def resolver(allow_private: bool) -> Any:
    return DefaultResolver() if allow_private else PublicOnlyResolver()
