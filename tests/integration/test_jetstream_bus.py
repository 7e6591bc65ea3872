"""The router's JetStream bus against a real nats-server: acknowledged publishes, and a
retried publish (same Nats-Msg-Id) that does not duplicate."""

from __future__ import annotations

import pytest

from devkit.nats_server import NatsServer
from runtime import jetstream, stream_codec
from runtime.jetstream import StreamSpec
from services.router.bus import JetStreamBus, OutMessage

pytestmark = pytest.mark.integration


def message(msg_id: str, sink: str = "DG" + "1" * 32) -> OutMessage:
    return OutMessage("AC" + "1" * 32, sink, "EZ1", "com.example", msg_id, b'{"x":1}')


async def test_publish_is_acknowledged_and_deduplicated(nats_server: NatsServer, unique: str) -> None:
    spec = StreamSpec(name=f"EVENTS_{unique}", subject_prefix=f"events_{unique}")
    nc = await jetstream.connect(nats_server.url, "test")
    try:
        js = nc.jetstream()
        await jetstream.ensure_stream(js, spec)
        await jetstream.ensure_stream(js, spec)  # idempotent
        bus = JetStreamBus(js, spec, timeout_seconds=5)
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
        bus = JetStreamBus(nc.jetstream(), spec, timeout_seconds=2)
        outcomes = await bus.put([message("EZ1:DGa")])
        assert len(outcomes) == 1
        assert outcomes[0] is not None
    finally:
        await nc.close()
