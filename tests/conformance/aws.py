"""Tier 1's AWS drivers, made alike for every AWS sink type's module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.delivery.sinks.aws.clients import AwsOptions
from services.delivery.sinks.base import SinkDriver
from tests.support.aws_proxy import AwsProxy


def drivers(factory: Callable[[AwsOptions], SinkDriver]) -> tuple[Any, Any]:
    """A tier 1 module's `driver` and `impatient` fixtures (10 s and 1 s timeouts), each made
    with the worker's identity against the module's own proxy (`aws_proxy_of_module`)."""

    async def made(proxy: AwsProxy, timeout: float) -> AsyncIterator[SinkDriver]:
        opened = factory(AwsOptions(endpoint_url=proxy.url, timeout_seconds=timeout))
        yield opened
        await opened.close()

    @pytest.fixture(scope="module")
    async def driver(aws_identity: None, aws_proxy_of_module: AwsProxy) -> AsyncIterator[SinkDriver]:
        async for opened in made(aws_proxy_of_module, 10):
            yield opened

    @pytest.fixture(scope="module")
    async def impatient(aws_identity: None, aws_proxy_of_module: AwsProxy) -> AsyncIterator[SinkDriver]:
        async for opened in made(aws_proxy_of_module, 1):
            yield opened

    return driver, impatient
