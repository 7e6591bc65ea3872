"""Which addresses a webhook may reach. Loopback, private, link-local, multicast and
reserved addresses are refused unless the operator allows them (the local dev profile).

The check runs where the connection is made — in the resolver, on every address a name
resolves to — so a name that later resolves somewhere private (DNS rebinding) is refused
too; numeric hosts, which aiohttp may never resolve (and the legacy forms of which it
takes for names on some versions), are checked before the request."""

from __future__ import annotations

import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from runtime import addresses
from services.delivery.errors import DestinationRefused


def check_host(host: str, allow_private: bool) -> None:
    """Refuse, before any lookup, a host that is a legacy numeric form of an address, or a
    non-public address when private destinations are not allowed (runtime.addresses)."""
    reason = addresses.refusal(host, allow_private)
    if reason is not None:
        raise DestinationRefused(reason)


class PublicOnlyResolver(AbstractResolver):
    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        refused = [r["host"] for r in results if not addresses.is_public(r["host"])]
        if refused:
            raise DestinationRefused(f"destination {host} resolves to non-public {refused[0]}")
        return results

    async def close(self) -> None:
        await self._inner.close()


def resolver(allow_private: bool) -> Any:
    return DefaultResolver() if allow_private else PublicOnlyResolver()
