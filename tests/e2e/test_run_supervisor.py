"""`make run` keeps serving when one of its processes dies: the supervisor starts it again."""

from __future__ import annotations

import asyncio
import threading

import pytest

from devkit.run import supervise
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, router_pb2, router_pb2_grpc
from tests.helpers import sample

pytestmark = pytest.mark.e2e


async def test_a_killed_router_and_gateway_come_back(
    suite: Suite, router: router_pb2_grpc.RouterAsyncStub, account: control_pb2.Account
) -> None:
    stop = threading.Event()
    watcher = threading.Thread(target=supervise, args=(suite, stop), daemon=True)
    watcher.start()
    try:
        killed = {name: suite.children[name].process.pid for name in ("router", "gateway")}
        for name in killed:
            suite.children[name].kill()
        assert set(suite.dead()) >= set(killed)  # the fault happened
        for _ in range(200):
            if not suite.dead() and all(suite.children[n].process.pid != pid for n, pid in killed.items()):
                break
            await asyncio.sleep(0.1)
        assert suite.dead() == []
        response = await router.Publish(router_pb2.PublishRequest(events=[sample(account.sid)]), timeout=10)
        assert response.results[0].code == 0
    finally:
        stop.set()
        watcher.join(timeout=5)
