"""`make run` keeps serving when one of its processes dies: the supervisor starts it again;
and it stops, whole, on SIGINT or SIGTERM however it was started."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from devkit.suite import Suite
from eventstreams.v1 import control_pb2, router_pb2, router_pb2_grpc
from launcher.processes import ROOT, grpc_serving, python_env
from launcher.run import supervise
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
        # Back means serving again, not only running: a new process is in `children` (and
        # alive) from the moment it is started, seconds before it listens.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replaced = all(suite.children[n].process.pid != pid for n, pid in killed.items())
            if replaced and not suite.dead() and await asyncio.to_thread(serving, suite):
                break
            await asyncio.sleep(0.1)
        assert suite.dead() == []
        # As a client would: the channel backs off reconnecting to a server it saw refuse, and
        # a call that does not wait for it to be ready fails at once meanwhile.
        response = await router.Publish(
            router_pb2.PublishRequest(events=[sample(account.sid)]), timeout=10, wait_for_ready=True
        )
        assert response.results[0].code == 0
    finally:
        stop.set()
        watcher.join(timeout=5)


def serving(suite: Suite) -> bool:
    """The router answers health SERVING and the gateway /healthz."""
    try:
        if not grpc_serving(suite.address("router")):
            return False
        with urllib.request.urlopen(f"{suite.gateway_url}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except Exception:
        return False


def _alive_in_group(pgid: int) -> list[str]:
    """The processes of a process group still running (zombies are gone already), from /proc."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        name = text[text.index("(") + 1 : text.rindex(")")]
        state, _parent, group = text[text.rindex(")") + 2 :].split()[:3]
        if int(group) == pgid and state != "Z":
            alive.append(f"{name} ({stat.parent.name})")
    return alive


def _ignore_sigint() -> None:
    # What a non-interactive shell does to a job it starts in the background (`make run &`).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGINT, True), (signal.SIGINT, False), (signal.SIGTERM, False)],
    ids=["sigint-to-the-group", "sigint-to-run", "sigterm-to-run"],
)
def test_make_run_started_in_the_background_stops_on_a_signal(
    tmp_path: Path, signum: int, to_group: bool
) -> None:
    """A script's `make run &` (SIGINT ignored when it starts) stops, whole, on SIGINT or
    SIGTERM: no service restarted while stopping, no process left behind."""
    run = subprocess.Popen(
        [sys.executable, "-m", "launcher", "--data", str(tmp_path / "data"), "--free-ports"],
        env=python_env({}),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ignore_sigint,
        start_new_session=True,
    )
    pgid = run.pid
    output: list[str] = []
    try:
        assert run.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Event Streams is up." in line:
                break
        assert any("Event Streams is up." in line for line in output), "".join(output)
        time.sleep(1)  # the supervisor is watching
        if to_group:
            os.killpg(pgid, signum)
        else:
            run.send_signal(signum)
        try:
            rest, _ = run.communicate(timeout=45)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 45 s after the signal:\n{''.join(output)}")
        output.append(rest)
        text = "".join(output)
        assert "starting it again" not in text
        assert "stopped." in text
        for _ in range(50):
            if not _alive_in_group(pgid):
                break
            time.sleep(0.1)
        assert _alive_in_group(pgid) == [], text
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        run.wait()
