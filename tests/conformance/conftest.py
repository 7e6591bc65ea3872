"""The conformance suite's world: the whole platform as real processes (SQLite), a real moto
(Kinesis, STS) behind a fault-injecting proxy, a stand-in Segment API, and a fresh account
and destination per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, NamedTuple

import httpx
import pytest

from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc, router_pb2_grpc
from tests.conformance.harness import Harness, KinesisHarness, SegmentHarness, WebhookHarness
from tests.support.kinesis_proxy import KinesisProxy
from tests.support.moto_server import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, MotoServer
from tests.support.segment_receiver import SegmentReceiver

SINKS = ["webhook", "webhook-batch", "segment", "kinesis"]


@pytest.fixture(scope="session")
async def kinesis_proxy(moto: MotoServer) -> AsyncIterator[KinesisProxy]:
    proxy = KinesisProxy(moto.url)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture(scope="session")
async def segment_api() -> AsyncIterator[SegmentReceiver]:
    api = SegmentReceiver()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture(scope="session")
def platform(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    kinesis_proxy: KinesisProxy,
    segment_api: SegmentReceiver,
) -> Iterator[Suite]:
    directory = tmp_path_factory.mktemp("conformance")
    running = Suite(
        data_dir=directory,
        catalog_db=f"sqlite+aiosqlite:///{directory / 'catalog'}.db",
        control_db=f"sqlite+aiosqlite:///{directory / 'control'}.db",
        log_dir=directory / "logs",
        extra_env={
            "ES_ALLOW_PRIVATE_DESTINATIONS": "true",
            "ES_RETRY_BASE_SECONDS": "0.2",
            "ES_RETRY_MAX_DELAY_SECONDS": "1",
            "ES_WEBHOOK_TIMEOUT_SECONDS": "1",
            "ES_SEGMENT_TIMEOUT_SECONDS": "1",
            "ES_KINESIS_TIMEOUT_SECONDS": "1",
            # Quick to forgive in tests: the throttle's quiet period (Twilio: 5 min).
            "ES_THROTTLE_QUIET_SECONDS": "2",
            "ES_AWS_ENDPOINT_URL": kinesis_proxy.url,
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
            "ES_SEGMENT_API_URL": segment_api.url,
        },
    )
    running.start()
    yield running
    logs = running.logs()
    running.stop()
    if request.session.testsfailed:
        print(logs)


@pytest.fixture
async def account(platform: Suite) -> control_pb2.Account:
    async with platform.channel("control") as channel:
        control = control_pb2_grpc.ControlStub(channel)
        return await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="conformance"))


@pytest.fixture
async def rest(platform: Suite, account: control_pb2.Account) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, auth=(account.sid, account.auth_token), timeout=30
    ) as client:
        yield client


@pytest.fixture
async def router(platform: Suite) -> AsyncIterator[router_pb2_grpc.RouterAsyncStub]:
    async with platform.channel("router") as channel:
        yield router_pb2_grpc.RouterStub(channel)


class Case(NamedTuple):
    """What every conformance test works with: the sink type's harness, an account of its
    own with a REST client, and the router to publish through."""

    harness: Harness
    rest: httpx.AsyncClient
    router: router_pb2_grpc.RouterAsyncStub
    account: control_pb2.Account


@pytest.fixture
def case(
    harness: Harness,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    account: control_pb2.Account,
) -> Case:
    return Case(harness, rest, router, account)


@pytest.fixture(params=SINKS)
async def harness(
    request: pytest.FixtureRequest,
    moto: MotoServer,
    kinesis_proxy: KinesisProxy,
    segment_api: SegmentReceiver,
) -> AsyncIterator[Harness]:
    made: Any
    if request.param == "webhook":
        made = WebhookHarness(batch=False)
    elif request.param == "webhook-batch":
        made = WebhookHarness(batch=True)
    elif request.param == "segment":
        made = SegmentHarness(segment_api)
    else:
        made = KinesisHarness(moto, kinesis_proxy)
    yield made
    await made.close()
