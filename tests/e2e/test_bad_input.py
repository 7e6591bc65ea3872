"""Bad input gets a clear error and changes nothing: Twilio's error body at the REST edge,
INVALID_ARGUMENT / NOT_FOUND in gRPC."""

from __future__ import annotations

import json
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devkit.receiver import Receiver
from eventstreams.v1 import control_pb2, control_pb2_grpc, router_pb2, router_pb2_grpc
from runtime import clients
from tests.helpers import create_webhook_sink, kinesis_external_id, sample

pytestmark = pytest.mark.e2e

WEBHOOK = {"destination": "https://example.com/hook", "method": "POST", "batch_events": False}


def assert_twilio_error(response: httpx.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["code"] == code
    assert body["status"] == status
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert body["message"]


async def sink_count(rest: httpx.AsyncClient) -> int:
    response = await rest.get("/v1/Sinks")
    assert response.status_code == 200
    return len(response.json()["sinks"])


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"Description": "x", "SinkType": "webhook"}, 20001),
        ({"SinkType": "webhook", "SinkConfiguration": json.dumps(WEBHOOK)}, 20001),
        ({"Description": "x", "SinkType": "webhook", "SinkConfiguration": "{not json"}, 91000),
        ({"Description": "x", "SinkType": "webhook", "SinkConfiguration": "[1, 2]"}, 91000),
        ({"Description": "x", "SinkType": "carrier-pigeon", "SinkConfiguration": json.dumps(WEBHOOK)}, 91000),
        (
            {
                "Description": "x",
                "SinkType": "webhook",
                "SinkConfiguration": json.dumps({**WEBHOOK, "destination": "not a url"}),
            },
            91000,
        ),
        (
            {
                "Description": "x",
                "SinkType": "webhook",
                "SinkConfiguration": json.dumps({**WEBHOOK, "method": "PUT"}),
            },
            91000,
        ),
        (
            {
                "Description": "x",
                "SinkType": "webhook",
                "SinkConfiguration": json.dumps({**WEBHOOK, "colour": "red"}),
            },
            91000,
        ),
        ({"Description": "x" * 300, "SinkType": "webhook", "SinkConfiguration": json.dumps(WEBHOOK)}, 91000),
        # PostgreSQL's text cannot hold a NUL: refused as bad input, never a failed write (500).
        ({"Description": "nul\x00", "SinkType": "webhook", "SinkConfiguration": json.dumps(WEBHOOK)}, 91000),
        (
            {
                "Description": "x",
                "SinkType": "webhook",
                "SinkConfiguration": json.dumps(WEBHOOK),
                "Extra": "1",
            },
            20001,
        ),
        (
            {"Description": "x", "SinkType": "kinesis", "SinkConfiguration": json.dumps({"arn": "nope"})},
            91000,
        ),
    ],
)
async def test_bad_sink_is_refused_and_stores_nothing(rest: httpx.AsyncClient, form: dict, code: int) -> None:
    response = await rest.post("/v1/Sinks", data=form)
    assert_twilio_error(response, 400, code)
    assert await sink_count(rest) == 0


async def test_wrong_credentials_are_401_20003(suite, account: control_pb2.Account) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=suite.gateway_url) as client:
        for auth in [(account.sid, "0" * 32), ("AC" + "0" * 32, account.auth_token), None]:
            response = await client.get("/v1/Sinks", auth=auth) if auth else await client.get("/v1/Sinks")
            assert_twilio_error(response, 401, 20003)


async def test_failed_sign_ins_are_throttled(suite, account: control_pb2.Account) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=suite.gateway_url) as client:
        for _ in range(10):
            assert_twilio_error(await client.get("/v1/Sinks", auth=(account.sid, "0" * 32)), 401, 20003)
        # Past ten failures in a minute, even the right password is not checked for a while:
        # guessing runs at ten a minute, not at the gateway's request rate.
        response = await client.get("/v1/Sinks", auth=(account.sid, account.auth_token))
        assert_twilio_error(response, 401, 20003)
        assert "too many failed sign-ins" in response.json()["message"]


async def test_unknown_resources_are_404_20404(rest: httpx.AsyncClient) -> None:
    for path in [
        "/v1/Sinks/DG" + "0" * 32,
        "/v1/Sinks/not-a-sid",
        "/v1/Subscriptions/DF" + "0" * 32,
        "/v1/Types/com.example.nothing",
        "/v1/Schemas/Nope.Nothing",
        "/v1/Nowhere",
    ]:
        assert_twilio_error(await rest.get(path), 404, 20404)


async def test_bad_subscriptions_are_refused_and_store_nothing(rest: httpx.AsyncClient) -> None:
    sink = await create_webhook_sink(rest, "https://example.com/hook")
    delivered = json.dumps({"type": "com.twilio.messaging.message.delivered"})
    cases = [
        ({"Description": "x", "SinkSid": sink["sid"]}, 91103),
        ({"Description": "x", "SinkSid": sink["sid"], "Types": ["{broken"]}, 91104),
        (
            {"Description": "x", "SinkSid": sink["sid"], "Types": [json.dumps({"type": "com.example.none"})]},
            91104,
        ),
        ({"Description": "x", "SinkSid": sink["sid"], "Types": [delivered, delivered]}, 91101),
        ({"Description": "", "SinkSid": sink["sid"], "Types": [delivered]}, 20001),
        ({"Description": "x", "SinkSid": "DG" + "0" * 32, "Types": [delivered]}, 91001),
        (
            {
                "Description": "x",
                "SinkSid": sink["sid"],
                "Types": [
                    json.dumps({"type": "com.twilio.messaging.message.delivered", "schema_version": 99})
                ],
            },
            91104,
        ),
        (
            {
                "Description": "x",
                "SinkSid": sink["sid"],
                "Types": [json.dumps({"type": "com.twilio.conversations.delivery.updated"})],
            },
            91104,
        ),
    ]
    for form, code in cases:
        assert_twilio_error(await rest.post("/v1/Subscriptions", data=form), 400, code)
    listed = await rest.get("/v1/Subscriptions")
    assert listed.json()["subscriptions"] == []


async def test_subscription_needs_an_active_sink(rest: httpx.AsyncClient) -> None:
    kinesis = await rest.post(
        "/v1/Sinks",
        data={
            "Description": "k",
            "SinkType": "kinesis",
            "SinkConfiguration": json.dumps(
                {
                    "arn": "arn:aws:kinesis:us-east-1:111111111111:stream/test",
                    "role_arn": "arn:aws:iam::111111111111:role/Role",
                    "external_id": await kinesis_external_id(rest),
                }
            ),
        },
    )
    assert kinesis.status_code == 201
    assert kinesis.json()["status"] == "initialized"
    response = await rest.post(
        "/v1/Subscriptions",
        data={
            "Description": "x",
            "SinkSid": kinesis.json()["sid"],
            "Types": [json.dumps({"type": "com.twilio.messaging.message.delivered"})],
        },
    )
    assert_twilio_error(response, 400, 91100)


async def test_another_account_sees_nothing(suite, rest: httpx.AsyncClient, control) -> None:  # type: ignore[no-untyped-def]
    sink = await create_webhook_sink(rest, "https://example.com/hook")
    other = await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="other"))
    async with httpx.AsyncClient(base_url=suite.gateway_url, auth=(other.sid, other.auth_token)) as intruder:
        assert_twilio_error(await intruder.get(f"/v1/Sinks/{sink['sid']}"), 404, 20404)
        assert (await intruder.get("/v1/Sinks")).json()["sinks"] == []


async def test_publish_rejects_bad_events_per_event(
    router: router_pb2_grpc.RouterAsyncStub, account: control_pb2.Account, receiver: Receiver
) -> None:
    good = sample(account.sid)
    unknown_type = sample(account.sid)
    unknown_type.type = "com.example.unknown"
    bad_data = sample(account.sid)
    bad_data.data_json = json.dumps({"messageSid": 5})
    not_json = sample(account.sid)
    not_json.data_json = "{"
    unknown_account = sample("AC" + "f" * 32)
    malformed_account = sample(account.sid)
    malformed_account.account_sid = "nobody"
    no_id = sample(account.sid)
    no_id.id = ""
    no_version = sample(account.sid)
    no_version.schema_version = 42
    response = await router.Publish(
        router_pb2.PublishRequest(
            events=[
                good,
                unknown_type,
                bad_data,
                not_json,
                unknown_account,
                malformed_account,
                no_id,
                no_version,
            ]
        )
    )
    codes = [
        grpc.StatusCode(next(c for c in grpc.StatusCode if c.value[0] == r.code)) for r in response.results
    ]
    assert codes == [
        grpc.StatusCode.OK,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
    ]
    assert all(r.message for r in response.results[1:])
    assert response.results[0].deliveries == 0  # no subscription: accepted, routed nowhere


async def test_empty_publish_is_invalid_argument(router: router_pb2_grpc.RouterAsyncStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.Publish(router_pb2.PublishRequest(events=[]))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


STREAM = "arn:aws:kinesis:us-east-1:111111111111:stream/orders"
ROLE = "arn:aws:iam::111111111111:role/EventStreams"
KINESIS_OK = {"arn": STREAM, "role_arn": ROLE, "external_id": "ext-1234"}


@pytest.mark.parametrize(
    ("sink_type", "config", "field"),
    [
        ("kinesis", {**KINESIS_OK, "arn": "arn:aws:kinesis:us-east-1:1:table/orders"}, "arn"),
        ("kinesis", {**KINESIS_OK, "arn": "kinesis-stream-orders"}, "arn"),
        ("kinesis", {**KINESIS_OK, "arn": ROLE}, "arn"),  # the role ARN in the stream's field
        ("kinesis", {**KINESIS_OK, "role_arn": STREAM}, "role_arn"),
        ("kinesis", {**KINESIS_OK, "role_arn": "arn:aws:iam::1:user/bob"}, "role_arn"),
        ("kinesis", {**KINESIS_OK, "external_id": ""}, "external_id"),
        ("kinesis", {**KINESIS_OK, "external_id": "x" * 1225}, "external_id"),
        ("segment", {"write_key": ""}, "write_key"),
        ("segment", {"write_key": "k" * 300}, "write_key"),
    ],
)
async def test_bad_kinesis_and_segment_configurations_store_nothing(
    rest: httpx.AsyncClient, sink_type: str, config: dict[str, str], field: str
) -> None:
    response = await rest.post(
        "/v1/Sinks",
        data={"Description": "bad", "SinkType": sink_type, "SinkConfiguration": json.dumps(config)},
    )
    assert_twilio_error(response, 400, 91000)
    assert f"{field} " in response.json()["message"]
    assert (await rest.get("/v1/Sinks")).json()["sinks"] == []


async def test_a_kinesis_sink_must_carry_the_external_id_issued_to_its_account(
    rest: httpx.AsyncClient,
) -> None:
    response = await rest.post(
        "/v1/Sinks",
        data={"Description": "k", "SinkType": "kinesis", "SinkConfiguration": json.dumps(KINESIS_OK)},
    )
    assert_twilio_error(response, 400, 91000)
    message = response.json()["message"]
    assert "external_id" in message and "/v1/Sinks/Kinesis/ExternalId" in message
    issued = await rest.get("/v1/Sinks/Kinesis/ExternalId")
    assert issued.status_code == 200
    body = issued.json()
    assert body["account_sid"].startswith("AC") and body["external_id"].startswith(body["account_sid"])
    assert body["platform_aws_account_id"] is None  # the suite does not name its AWS account
    assert body["external_id"] in message
    created = await rest.post(
        "/v1/Sinks",
        data={
            "Description": "k",
            "SinkType": "kinesis",
            "SinkConfiguration": json.dumps({**KINESIS_OK, "external_id": body["external_id"]}),
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["sink_configuration"]["external_id"] == body["external_id"]


FULLWIDTH_INTEGER = "http://\uff12\uff11\uff13\uff10\uff17\uff10\uff16\uff14\uff13\uff13/"


@pytest.mark.parametrize(
    ("configuration", "fragment"),
    [
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),  # RecursionError in the parser
        (json.dumps({**WEBHOOK, "destination": "http://2130706433/"}), "legacy numeric form"),
        (json.dumps({**WEBHOOK, "destination": "http://127.1/"}), "legacy numeric form"),
        (json.dumps({**WEBHOOK, "destination": "http://0177.0.0.1/"}), "legacy numeric form"),
        (json.dumps({**WEBHOOK, "destination": "http://u:p@127.1/"}), "legacy numeric form"),
        # Judged as the client connects to it: IDNA turns fullwidth digits into 2130706433.
        (json.dumps({**WEBHOOK, "destination": FULLWIDTH_INTEGER}), "legacy numeric form"),
        (json.dumps({**WEBHOOK, "destination": "http://127.0.0.1./"}), "legacy numeric form"),
    ],
)
async def test_hostile_sink_configurations_are_400_not_500(
    rest: httpx.AsyncClient, configuration: str, fragment: str
) -> None:
    form = {"Description": "x", "SinkType": "webhook", "SinkConfiguration": configuration}
    response = await rest.post("/v1/Sinks", data=form)
    assert_twilio_error(response, 400, 91000)
    assert fragment in response.json()["message"]
    assert await sink_count(rest) == 0


async def test_hostile_subscriptions_are_400_not_500(rest: httpx.AsyncClient) -> None:
    sink = await create_webhook_sink(rest, "https://example.com/hook")
    delivered = json.dumps({"type": "com.twilio.messaging.message.delivered"})
    nested_types = {"Description": "x", "SinkSid": sink["sid"], "Types": ["[" * 100_000 + "]" * 100_000]}
    assert_twilio_error(await rest.post("/v1/Subscriptions", data=nested_types), 400, 91104)
    nested_filter = {
        "Description": "x",
        "SinkSid": sink["sid"],
        "Types": [delivered],
        "Filter": "(" * 340 + "messageStatus == 'FAILED'" + ")" * 340,
    }
    response = await rest.post("/v1/Subscriptions", data=nested_filter)
    assert_twilio_error(response, 400, 20001)
    assert "nests" in response.json()["message"]
    assert (await rest.get("/v1/Subscriptions")).json()["subscriptions"] == []


async def test_a_body_over_the_limit_is_413_and_stores_nothing(rest: httpx.AsyncClient) -> None:
    big = {"Description": "x", "SinkType": "webhook", "SinkConfiguration": json.dumps(WEBHOOK)}
    big.update({f"Field{i}": "x" * 100_000 for i in range(20)})  # ~2 MB of form fields
    response = await rest.post("/v1/Sinks", data=big)
    assert_twilio_error(response, 413, 20001)

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"Description=" + b"x" * 100_000 + b"&"

    chunked = await rest.post(
        "/v1/Sinks", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_twilio_error(chunked, 413, 20001)
    assert await sink_count(rest) == 0


async def test_internal_services_refuse_calls_without_the_service_token(suite) -> None:  # type: ignore[no-untyped-def]
    # Any pod could reach these ports: without the shared secret nothing answers but health.
    def calls(channel: grpc.aio.Channel) -> list[Any]:
        control = control_pb2_grpc.ControlStub(channel)
        return [
            control.ListAccounts(control_pb2.ListAccountsRequest()),
            control.CreateApiKey(control_pb2.CreateApiKeyRequest(account_sid="AC" + "0" * 32)),
        ]

    for channel in (
        grpc.aio.insecure_channel(suite.address("control")),
        clients.channel(suite.address("control"), "wrong"),
    ):
        async with channel:
            for call in calls(channel):
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await call
                assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            stream = control_pb2_grpc.ControlStub(channel).WatchRouting(control_pb2.WatchRoutingRequest())
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stream.read()
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    async with grpc.aio.insecure_channel(suite.address("router")) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            request = router_pb2.PublishRequest(events=[sample("AC" + "0" * 32)])
            await router_pb2_grpc.RouterStub(channel).Publish(request)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
