"""JetStream's API spoken raw (runtime/natsio/api.py) against a real nats-server: the
answers read as the callers read them — a stream's info, a step-down refused where there
is no cluster, a consumer with a priority group made, a refusal named."""

from __future__ import annotations

import pytest
from nats.js.api import StreamConfig

from launcher.nats_server import NatsServer
from runtime import jetstream
from runtime.natsio import api
from services.delivery import leaders

pytestmark = pytest.mark.integration


async def test_the_raw_api_answers_as_its_callers_read_it(nats_server: NatsServer, unique: str) -> None:
    nc = await jetstream.connect(nats_server.url, "api-test")
    try:
        stream = f"API_{unique}"
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=stream, subjects=[f"api_{unique}.>"]))
        await js.publish(f"api_{unique}.x", b"{}")
        info = await api.stream_info(nc, stream)
        assert info["config"]["name"] == stream
        assert info["state"]["messages"] == 1 and info["state"]["first_ts"]
        assert await jetstream.oldest_stored(nc, stream) is not None
        # One server: no replicas, so no leader to move.
        assert await leaders.placements(nc, [stream]) == {}
        assert await leaders.spread(nc, [[stream]]) == 0
        assert "error" in await api.leader_stepdown(nc, stream, "elsewhere")
        request: dict[str, object] = {
            "stream_name": stream,
            "config": {
                "durable_name": "grouped",
                "ack_policy": "explicit",
                "priority_groups": ["g"],
                "priority_policy": "pinned_client",
                "priority_timeout": 5_000_000_000,
            },
        }
        assert await api.create_consumer(nc, stream, "grouped", request) is None
        assert (await js.consumer_info(stream, "grouped")).config.durable_name == "grouped"
        refused = await api.create_consumer(nc, f"NONE_{unique}", "grouped", request)
        assert refused is not None and "stream" in refused.lower()
    finally:
        await nc.close()
