"""Why a Kafka producer could not bootstrap (services/delivery/sinks/kafka/bootstrap.py):
every bootstrap server is asked at once, against servers of our own that take a connection
and never answer it."""

from __future__ import annotations

import asyncio

import pytest

from services.delivery.sinks.kafka import bootstrap

pytestmark = pytest.mark.unit


class Silent:
    """A TCP listener that takes connections and says nothing; counts those open at once."""

    def __init__(self) -> None:
        self.open = 0
        self.most_open = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._take, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _take(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            await reader.read()  # until the client gives up
        finally:
            self.open -= 1
            writer.close()


async def test_every_bootstrap_server_is_asked_at_once() -> None:
    silent = Silent()
    port = await silent.start()
    servers = [("127.0.0.1", port)] * 4
    # SASL: the client waits for the broker's handshake answer, which never comes.
    connection = {
        "request_timeout_ms": 1000,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "u",
        "sasl_plain_password": "p",
    }
    try:
        found = await bootstrap.reason(servers, connection)
    finally:
        assert silent.server is not None
        silent.server.close()
    assert silent.most_open == len(servers), f"{silent.most_open} asked at a time"
    assert found is None  # a server that never answers says no more than aiokafka did
