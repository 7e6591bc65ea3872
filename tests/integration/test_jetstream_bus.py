"""The router's JetStream bus against a real nats-server: acknowledged publishes, a retried
publish (same Nats-Msg-Id) that does not duplicate, a full stream refusing new events, and
a window of unacknowledged publishes that no failure leaks (oversized events, outages)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js.errors import NoStreamResponseError

from launcher.nats_server import NatsServer
from runtime import jetstream, stream_codec
from runtime.jetstream import StreamSpec
from runtime.natsio.client import HeaderParsingClient
from services.router.acks import MessageTooLarge
from services.router.bus import JetStreamBus, OutMessage

pytestmark = pytest.mark.integration


def kept(name: str, subject_prefix: str, max_bytes: int = -1) -> StreamSpec:
    """A stream that keeps what it stores (limits retention), so a test reads it back: the
    events stream itself lets go of what is delivered (tests/integration/test_replay_archive.py)."""
    return StreamSpec(name=name, subject_prefix=subject_prefix, max_bytes=max_bytes, interest=False)


def message(msg_id: str, sink: str = "DG" + "1" * 32) -> OutMessage:
    return OutMessage("AC" + "1" * 32, sink, "EZ1", "com.example", msg_id, b'{"x":1}')


async def until_connected(nc: Client, connected: bool, seconds: float = 10.0) -> None:
    """Until the client has noticed the broker going (False) or coming back (True)."""
    for _ in range(int(seconds / 0.05)):
        if nc.is_connected == connected:
            return
        await asyncio.sleep(0.05)


async def test_publish_is_acknowledged_and_deduplicated(nats_server: NatsServer, unique: str) -> None:
    spec = kept(name=f"EVENTS_{unique}", subject_prefix=f"events_{unique}")
    nc = await jetstream.connect(nats_server.url, "test")
    try:
        js = nc.jetstream()
        await jetstream.ensure_stream(js, spec)
        await jetstream.ensure_stream(js, spec)  # idempotent
        bus = JetStreamBus(nc, spec, timeout_seconds=5)
        first = await bus.put([message("EZ1:DGa"), message("EZ2:DGa")])
        again = await bus.put([message("EZ1:DGa"), message("EZ2:DGa"), message("EZ3:DGa")])
        assert first == [None, None]
        assert again == [None, None, None]
        info = await js.stream_info(spec.name)
        assert info.state.messages == 3
        stored = await js.get_msg(spec.name, 1)
        assert stored.subject == spec.subject("AC" + "1" * 32, "DG" + "1" * 32)
        assert stored.headers is not None
        assert stored.headers[stream_codec.EVENT_ID] == "EZ1"
        assert spec.addressee(stored.subject) == ("AC" + "1" * 32, "DG" + "1" * 32)
    finally:
        await nc.close()


async def test_publish_without_a_stream_fails_per_message(nats_server: NatsServer, unique: str) -> None:
    spec = StreamSpec(name=f"MISSING_{unique}", subject_prefix=f"missing_{unique}")
    nc = await jetstream.connect(nats_server.url, "test")
    try:
        bus = JetStreamBus(nc, spec, timeout_seconds=2)
        outcomes = await bus.put([message("EZ1:DGa")])
        assert len(outcomes) == 1
        # The broker's "no responders" status, not a timeout: sent again (an election may be
        # under way) until the call's deadline, then answered as it was.
        assert isinstance(outcomes[0], NoStreamResponseError)
    finally:
        await nc.close()


async def test_a_full_stream_refuses_new_events_and_keeps_every_stored_one(
    nats_server: NatsServer, unique: str
) -> None:
    spec = kept(name=f"FULL_{unique}", subject_prefix=f"full_{unique}", max_bytes=4096)
    nc = await jetstream.connect(nats_server.url, "test")
    try:
        js = nc.jetstream()
        await jetstream.ensure_stream(js, spec)
        bus = JetStreamBus(nc, spec, timeout_seconds=5)
        outcomes = []
        for i in range(100):
            outcomes += await bus.put([message(f"EZ{i}:DGa")])
        stored = (await js.stream_info(spec.name)).state
        assert outcomes[0] is None and outcomes[-1] is not None  # refused once full: the producer retries
        assert stored.first_seq == 1  # discard new: nothing stored was dropped to make room
        assert stored.messages == outcomes.count(None)
        assert spec.too_full_to_replay(stored.bytes)
        assert not spec.too_full_to_replay(0)
        assert not StreamSpec().too_full_to_replay(10**15)  # no limit, never too full
    finally:
        await nc.close()


@pytest.fixture
def small_payload_server(tmp_path: Path) -> Iterator[NatsServer]:
    config = tmp_path / "nats.conf"
    config.write_text("max_payload: 4096\n")
    server = NatsServer.create(tmp_path / "store", None)
    server.config_file = config
    server.start()
    yield server
    server.stop()


async def test_oversized_events_are_refused_one_by_one_and_never_jam_the_window(
    small_payload_server: NatsServer, unique: str
) -> None:
    spec = kept(name=f"BIG_{unique}", subject_prefix=f"big_{unique}")
    nc = await jetstream.connect(small_payload_server.url, "test")
    try:
        await jetstream.ensure_stream(nc.jetstream(), spec)
        bus = JetStreamBus(nc, spec, timeout_seconds=5, window=4000)
        big = OutMessage("AC" + "1" * 32, "DG" + "1" * 32, "EZbig", "com.example", "", b"x" * 5000)
        for start in range(0, 5000, 500):
            outcomes = await bus.put([replace(big, msg_id=f"big{i}") for i in range(start, start + 500)])
            assert all(isinstance(outcome, MessageTooLarge) for outcome in outcomes)
        assert bus.waiting == 0
        # Afterwards an ordinary event is stored at once: no slot was leaked.
        assert await asyncio.wait_for(bus.put([message("EZ1:DGa")]), timeout=2) == [None]
    finally:
        await nc.close()


async def test_outages_that_overflow_the_reconnect_buffer_leak_no_slot(
    nats_server: NatsServer, unique: str
) -> None:
    spec = kept(name=f"OUT_{unique}", subject_prefix=f"out_{unique}")
    # A small reconnect buffer: nc.publish raises OutboundBufferLimitError once it is full.
    nc = await nats.connect(
        nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2, pending_size=64 * 1024
    )
    try:
        await jetstream.ensure_stream(nc.jetstream(), spec)
        bus = JetStreamBus(nc, spec, timeout_seconds=1, window=50)
        for outage in range(3):
            nats_server.kill()
            await until_connected(nc, False)
            padded = [replace(message(f"o{outage}-{i}"), payload=b"y" * 2000) for i in range(200)]
            outcomes = await bus.put(padded)
            assert all(outcome is not None for outcome in outcomes)  # nothing acknowledged
            nats_server.start()
            await until_connected(nc, True)
            assert bus.waiting == 0  # every slot came back
            for _ in range(50):  # the stream answers again once its leader is back
                if await bus.put([message(f"after{outage}")]) == [None]:
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"no publish succeeded after outage {outage}")
    finally:
        await nc.close()


async def test_a_publish_unanswered_while_the_broker_is_away_is_sent_again_and_stored_once(
    nats_server: NatsServer, unique: str
) -> None:
    spec = kept(name=f"BACK_{unique}", subject_prefix=f"back_{unique}")
    nc = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        js = nc.jetstream()
        await jetstream.ensure_stream(js, spec)
        bus = JetStreamBus(nc, spec, timeout_seconds=15, attempt_seconds=0.5)
        assert await bus.put([message("EZ0:DGa")]) == [None]
        nats_server.kill()
        await until_connected(nc, False)
        putting = asyncio.create_task(bus.put([message("EZ1:DGa"), message("EZ2:DGa")]))
        await asyncio.sleep(1.5)  # several attempts go unanswered
        assert not putting.done()
        nats_server.start()
        assert await putting == [None, None]
        assert bus.resent >= 2
        # Sent more than once, stored once: the stream deduplicated on Nats-Msg-Id.
        assert (await js.stream_info(spec.name)).state.messages == 3
    finally:
        await nc.close()


async def test_every_publish_is_acknowledged_at_once_while_pings_are_answered(
    nats_server: NatsServer, unique: str
) -> None:
    # A PONG (or PING) is a line nats-py's own parser reads, with the rest of that read: the
    # JetStream acks read behind it must still reach the bus (once they were lost, and each
    # such call waited out its attempt — 2 s — and sent its messages again).
    spec = kept(name=f"PING_{unique}", subject_prefix=f"ping_{unique}")
    nc = HeaderParsingClient()
    await nc.connect(nats_server.url, ping_interval=0.005, max_outstanding_pings=100_000)  # type: ignore[arg-type]
    try:
        await jetstream.ensure_stream(nc.jetstream(), spec)
        bus = JetStreamBus(nc, spec, timeout_seconds=10)
        for call in range(60):
            batch = [message(f"EZ{call}-{n}:DGa") for n in range(200)]
            assert await asyncio.wait_for(bus.put(batch), timeout=10) == [None] * 200
        assert bus.resent == 0
    finally:
        await nc.close()


async def test_the_header_block_written_is_what_the_server_hands_a_plain_reader(
    nats_server: NatsServer, unique: str
) -> None:
    # The one header encoder (stream_codec.header_block), sent as HPUB by the seam: a plain
    # nats-py client reads back every header, values as `clean` leaves them.
    spec = kept(name=f"HDR_{unique}", subject_prefix=f"hdr_{unique}")
    odd = replace(
        message("AC1:EZ1:DG1"),
        event_id=" EZ\r\n1 ",
        failure="cannot be projected\nto v2",
        revision=7,
        trace="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        order_key="SM\r1",
    )
    nc = await jetstream.connect(nats_server.url, "test")
    plain = await nats.connect(nats_server.url)
    try:
        await jetstream.ensure_stream(nc.jetstream(), spec.ordered())  # an order key: stored there
        bus = JetStreamBus(nc, spec, timeout_seconds=5)
        assert await bus.put([odd]) == [None]
        stored = await plain.jetstream().get_msg(spec.ordered().name, 1)
        assert stored.headers == {
            stream_codec.MSG_ID: "AC1:EZ1:DG1",
            stream_codec.EVENT_TYPE: "com.example",
            stream_codec.EVENT_ID: "EZ  1",
            stream_codec.FAILURE: "cannot be projected to v2",
            stream_codec.REVISION: "7",
            stream_codec.TRACEPARENT: odd.trace,
            stream_codec.ORDER_KEY: "SM 1",
        }
    finally:
        await plain.close()
        await nc.close()
