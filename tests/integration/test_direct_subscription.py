"""The services' NATS client's direct subscriptions (runtime/natsio/client.py): messages handed to
the handler as they are read, headers and status lines as nats-py parses them, a failing
handler never ending the read loop, nothing after unsubscribing — on a real nats-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import nats
import pytest
from nats.aio.msg import Msg

from launcher.nats_server import NatsServer
from runtime import jetstream
from runtime.natsio import client

pytestmark = pytest.mark.integration


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Until `condition` holds, or `seconds` have passed (a loaded machine is slow, not wrong)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def test_direct_handlers_get_every_message_in_order_and_survive_their_own_failures(
    nats_server: NatsServer, unique: str
) -> None:
    nc = await jetstream.connect(nats_server.url, "direct-test")
    publisher = await nats.connect(nats_server.url)
    seen: list[Msg] = []

    def handler(message: Msg) -> None:
        seen.append(message)
        if message.data == b"boom":
            raise RuntimeError("a handler's own failure")

    subscription = await nc.subscribe_direct(f"direct.{unique}", handler)  # type: ignore[attr-defined]
    await nc.flush()  # the server has the subscription before the other connection publishes
    await publisher.publish(f"direct.{unique}", b"boom")
    for number in range(50):
        await publisher.publish(
            f"direct.{unique}", str(number).encode(), reply="r.1", headers={"K": f"v{number}"}
        )
    await publisher.flush()
    await until(lambda: len(seen) == 51)
    assert [m.data for m in seen[1:]] == [str(n).encode() for n in range(50)]
    assert seen[5].headers == {"K": "v4"} and seen[5].reply == "r.1" and seen[5].subject == f"direct.{unique}"

    # A status line (no responders: 503) arrives as nats-py reads it, in the Status header.
    replies: list[Msg] = []
    inbox = nc.new_inbox()
    await nc.subscribe_direct(inbox, replies.append)  # type: ignore[attr-defined]
    await nc.publish(f"nobody.{unique}", b"?", reply=inbox, headers={"x": "1"})
    await until(lambda: bool(replies))
    assert replies and replies[0].headers is not None and replies[0].headers.get("Status") == "503"

    await subscription.unsubscribe()
    await publisher.publish(f"direct.{unique}", b"after")
    await publisher.flush()
    await asyncio.sleep(0.2)
    assert len(seen) == 51
    await publisher.close()
    await nc.close()


async def test_a_plain_client_gets_the_same_through_a_callback(nats_server: NatsServer, unique: str) -> None:
    nc = await nats.connect(nats_server.url)
    seen: list[bytes] = []
    await client.subscribe_direct(nc, f"plain.{unique}", lambda m: seen.append(m.data))
    await nc.flush()
    await nc.publish(f"plain.{unique}", b"x")
    await nc.flush()
    await until(lambda: bool(seen))
    assert seen == [b"x"]
    await nc.close()
