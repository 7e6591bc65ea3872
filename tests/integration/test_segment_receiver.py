"""The Segment stand-in, over real HTTP: it accepts what Segment's HTTP Tracking API accepts,
refuses what it refuses (401 for the write key, 400 for shape and size), and misbehaves on
demand (statuses, delays, dropped connections, refused connections)."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from typing import Any

import aiohttp
import pytest

from tests.support.segment_receiver import (
    DEV_WRITE_KEY,
    MAX_MESSAGE_BYTES,
    MAX_REQUEST_BYTES,
    SegmentReceiver,
    message_size,
    track_message,
)

pytestmark = pytest.mark.integration

AUTH = {"Authorization": aiohttp.encode_basic_auth(DEV_WRITE_KEY, "")}


async def post(
    segment: SegmentReceiver,
    body: Any,
    *,
    path: str = "/v1/batch",
    auth: dict[str, str] | None = AUTH,
    timeout: float = 10.0,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.post(f"{segment.url}{path}", json=body, headers=auth) as response,
    ):
        return response.status, await response.json(), dict(response.headers)


def batch(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"batch": list(messages)}


async def test_a_good_batch_is_accepted_and_recorded_in_order(segment: SegmentReceiver) -> None:
    first = track_message("Call Completed", user_id="AC1", properties={"n": 1})
    second = track_message("Call Completed", anonymous_id="anon-7", properties={"n": 2})

    status, body, _ = await post(segment, batch(first, second))

    assert (status, body) == (200, {"success": True})
    assert segment.messages() == [first, second]
    assert {record.write_key for record in segment.accepted} == {DEV_WRITE_KEY}
    assert segment.requests_received == 1
    assert segment.non_2xx == 0


async def test_track_endpoint_gzip_and_duplicates_are_kept_but_countable(segment: SegmentReceiver) -> None:
    message = track_message("Message Sent", user_id="AC2")
    async with aiohttp.ClientSession() as session:
        data = gzip.compress(json.dumps(batch(message, message)).encode())
        async with session.post(
            f"{segment.url}/v1/batch",
            data=data,
            headers={**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"},
        ) as response:
            assert response.status == 200, await response.text()
    status, _, _ = await post(segment, message, path="/v1/track")
    assert status == 200

    messages = await segment.wait_for_messages(3, timeout=5)
    assert len(messages) == 3
    assert segment.distinct_message_ids() == 1


async def test_a_missing_or_unknown_write_key_is_401(segment: SegmentReceiver) -> None:
    good = batch(track_message("Call Completed"))

    for auth in (None, {"Authorization": aiohttp.encode_basic_auth("not-a-key")}):
        status, body, _ = await post(segment, good, auth=auth)
        assert status == 401
        assert body["success"] is False

    segment.add_write_key("second-key")
    status, _, _ = await post(segment, good, auth={"Authorization": aiohttp.encode_basic_auth("second-key")})
    assert status == 200
    assert [record.write_key for record in segment.accepted] == ["second-key"]
    assert segment.non_2xx == 2


async def test_a_message_without_user_id_or_anonymous_id_is_400(segment: SegmentReceiver) -> None:
    message = track_message("Call Completed")
    del message["userId"]

    status, body, _ = await post(segment, batch(track_message("fine"), message))

    assert status == 400
    assert body["success"] is False
    assert "batch[1]" in body["message"] and "userId or anonymousId" in body["message"]
    assert segment.accepted == []  # refused whole


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"event": ""}, "event"),
        ({"messageId": 42}, "messageId"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"properties": []}, "properties"),
        ({"type": "identify"}, "type"),
        ({"userId": ""}, "userId"),
    ],
)
async def test_a_malformed_message_is_400(
    segment: SegmentReceiver, change: dict[str, Any], complaint: str
) -> None:
    status, body, _ = await post(segment, batch({**track_message("Call Completed"), **change}))

    assert status == 400
    assert complaint in body["message"]


async def test_a_body_that_is_not_a_json_batch_is_400(segment: SegmentReceiver) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{segment.url}/v1/batch", data=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
        ) as response:
            assert (response.status, (await response.json())["message"]) == (400, "Invalid JSON")
        async with session.post(
            f"{segment.url}/v1/batch", data=b"{}", headers={**AUTH, "Content-Type": "text/plain"}
        ) as response:
            assert response.status == 400
    bodies: list[Any] = [{"messages": []}, {"batch": []}, [track_message("x")]]
    for body in bodies:
        status, _, _ = await post(segment, body)
        assert status == 400


async def test_a_message_over_32kb_is_400(segment: SegmentReceiver) -> None:
    message = track_message("Big", properties={"pad": "x" * MAX_MESSAGE_BYTES})
    assert message_size(message) > MAX_MESSAGE_BYTES

    status, body, _ = await post(segment, batch(message))
    assert status == 400
    assert "more than the 32768 allowed" in body["message"]
    status, _, _ = await post(segment, message, path="/v1/track")
    assert status == 400

    just_fits = track_message("Fits", properties={"pad": ""})
    just_fits["properties"]["pad"] = "x" * (MAX_MESSAGE_BYTES - message_size(just_fits))
    assert message_size(just_fits) == MAX_MESSAGE_BYTES
    status, _, _ = await post(segment, batch(just_fits))
    assert status == 200


async def test_a_batch_over_500kb_is_400(segment: SegmentReceiver) -> None:
    messages = [track_message("Padded", properties={"pad": "x" * 30_000}) for _ in range(18)]
    assert all(message_size(message) <= MAX_MESSAGE_BYTES for message in messages)
    assert len(json.dumps(batch(*messages))) > MAX_REQUEST_BYTES

    status, body, _ = await post(segment, batch(*messages))
    assert status == 400
    assert "512000 allowed" in body["message"]

    status, _, _ = await post(segment, batch(*messages[:15]))  # ≈ 450 KB
    assert status == 200
    assert len(segment.accepted) == 15


async def test_an_injected_500_for_the_next_two_requests_then_ok(segment: SegmentReceiver) -> None:
    segment.fail(500, count=2)
    message = track_message("Retried")

    statuses = [(await post(segment, batch(message)))[0] for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert segment.statuses == [500, 500, 200]
    assert (segment.requests_received, segment.non_2xx) == (3, 2)
    assert segment.messages() == [message]


async def test_an_injected_429_carries_retry_after_until_cleared(segment: SegmentReceiver) -> None:
    segment.fail(429, retry_after=3)
    for _ in range(3):
        status, body, headers = await post(segment, batch(track_message("Throttled")))
        assert (status, headers["Retry-After"], body["success"]) == (429, "3", False)

    segment.clear_faults()
    status, _, _ = await post(segment, batch(track_message("Throttled")))
    assert status == 200


async def test_a_delay_makes_the_client_time_out(segment: SegmentReceiver) -> None:
    segment.delay(1.0, count=1)

    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await post(segment, batch(track_message("Slow")), timeout=0.3)
    assert time.monotonic() - started < 1.0

    started = time.monotonic()
    status, _, _ = await post(segment, batch(track_message("Fast")))  # the delay was for one request
    assert status == 200
    assert time.monotonic() - started < 0.5

    segment.delay(0.3)
    started = time.monotonic()
    status, _, _ = await post(segment, batch(track_message("Slowish")))
    assert status == 200
    assert time.monotonic() - started >= 0.3


async def test_a_dropped_connection_and_a_receiver_that_is_down(segment: SegmentReceiver) -> None:
    segment.drop(count=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(segment, batch(track_message("Dropped")))
    assert segment.dropped == 1

    url = segment.url
    segment.delay(30)
    held = asyncio.create_task(post(segment, batch(track_message("In flight"))))
    await segment.wait_for(lambda receiver: receiver.requests_received == 2, timeout=5)
    await segment.go_down()
    with pytest.raises(aiohttp.ServerDisconnectedError):  # going down cuts a held request off
        await held
    segment.clear_faults()
    assert segment.down
    with pytest.raises(aiohttp.ClientConnectorError):
        await post(segment, batch(track_message("Refused")))

    await segment.come_up()
    assert segment.url == url
    status, _, _ = await post(segment, batch(track_message("Back")))
    assert status == 200
    assert [message["event"] for message in segment.messages()] == ["Back"]
    assert (segment.requests_received, segment.dropped) == (3, 2)  # the refused one never arrived
