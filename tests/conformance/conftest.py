"""The conformance suite's world: the whole platform as real processes (SQLite), a real moto
(STS and the AWS sinks' services) behind a fault-injecting proxy, a stand-in Segment API, and
a fresh account per test; each sink type's module brings its `harness` (a fresh destination
per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc, router_pb2_grpc
from tests.conformance.harness import Case, Harness
from tests.support.aws_proxy import AwsProxy
from tests.support.moto_server import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, MotoServer
from tests.support.segment_receiver import SegmentReceiver


async def running_proxy(moto: MotoServer) -> AsyncIterator[AwsProxy]:
    proxy = AwsProxy(moto.url)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture(scope="session")
async def aws_proxy(moto: MotoServer) -> AsyncIterator[AwsProxy]:
    """The workers' AWS endpoint: moto, faults on demand."""
    async for proxy in running_proxy(moto):
        yield proxy


@pytest.fixture(scope="module")
def aws_identity() -> Iterator[None]:
    """The worker's own identity in tier 1, which assumes the tenants' roles (moto takes any)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY_ID)
        patch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_ACCESS_KEY)
        yield


@pytest.fixture(scope="module")
async def aws_proxy_of_module(moto: MotoServer) -> AsyncIterator[AwsProxy]:
    """Tier 1's AWS endpoint, a proxy of the test module's own: its faults and calls are its."""
    async for proxy in running_proxy(moto):
        yield proxy


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
    aws_proxy: AwsProxy,
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
            "ES_S3_FLUSH_SECONDS": "0.5",
            "ES_BROKER_TIMEOUT_SECONDS": "1",
            # Quick to forgive in tests: the throttle's quiet period (Twilio: 5 min).
            "ES_THROTTLE_QUIET_SECONDS": "2",
            "ES_AWS_ENDPOINT_URL": aws_proxy.url,
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


@pytest.fixture
def case(
    harness: Harness,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    account: control_pb2.Account,
) -> Case:
    return Case(harness, rest, router, account)
