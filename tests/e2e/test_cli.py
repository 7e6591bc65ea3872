"""`evs`, the command line, run as a subprocess against the running suite: profiles, sinks,
subscriptions, publish, the delivery log, health, dead letters and their redrive, a replay
followed with its progress bar, usage, doctor, shell completion — and the clear errors for no
or bad credentials, an unreachable gateway and bad input."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from devkit.receiver import Received, Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2
from runtime.sinks import registry

pytestmark = pytest.mark.e2e

TYPE = "com.twilio.messaging.message.delivered"


class Evs:
    def __init__(self, suite: Suite, config: Path) -> None:
        self.suite = suite
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("TWILIO_") and k != "ES_SERVICE_TOKEN"
        }
        self.env |= {"EVS_CONFIG": str(config), "ES_SERVICE_TOKEN": suite.credential("producer")}

    async def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "evs", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        if ok:
            assert done.returncode == 0, (
                f"evs {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
        return done

    async def json(self, *args: str) -> Any:
        return json.loads((await self("--json", *args)).stdout)


async def test_the_command_line_drives_a_sink_from_creation_to_replay(
    suite: Suite, account: control_pb2.Account, receiver: Receiver, tmp_path: Path
) -> None:
    evs = Evs(suite, tmp_path / "evs.json")
    refusing = {"on": False}

    def respond(_record: Received) -> web.Response:
        return web.Response(status=410 if refusing["on"] else 200)

    receiver.responder = respond

    # No credentials yet: said, with what to do; exit code 2.
    none = await evs("sinks", "list", ok=False)
    assert none.returncode == 2 and "no credentials" in none.stderr and "evs profiles add" in none.stderr
    wrong = await evs(
        "profiles",
        "add",
        "bad",
        "--url",
        suite.gateway_url,
        "--account-sid",
        account.sid,
        "--auth-token",
        "x" * 32,
        ok=False,
    )
    assert wrong.returncode == 3 and "refused these credentials" in wrong.stderr
    away = await evs("profiles", "add", "away", "--url", "http://127.0.0.1:9", "--account-sid", account.sid,
                     "--auth-token", account.auth_token, ok=False)  # fmt: skip
    assert away.returncode == 4 and "cannot reach the gateway" in away.stderr and "make run" in away.stderr
    await evs("profiles", "add", "dev", "--url", suite.gateway_url, "--account-sid", account.sid,
              "--auth-token", account.auth_token)  # fmt: skip
    listed = await evs.json("profiles", "list")
    assert (
        [p["name"] for p in listed] == ["dev"]
        and listed[0]["active"]
        and "auth_token" not in json.dumps(listed)
    )
    assert (tmp_path / "evs.json").stat().st_mode & 0o077 == 0  # the secret is its owner's only

    sink = await evs.json(
        "sinks",
        "create",
        "--description",
        "from evs",
        "--destination",
        f"http://127.0.0.1:{receiver.port}/cli",
    )
    assert sink["status"] == "active" and sink["sink_type"] == "webhook"
    table = (await evs("sinks", "list")).stdout
    assert (
        table.splitlines()[0].split() == ["SID", "SINK_TYPE", "STATUS", "DESCRIPTION"]
        and sink["sid"] in table
    )
    subscription = await evs.json(
        "subscriptions", "create", "--sink", sink["sid"], "--description", "cli", "--type", f"{TYPE}:7"
    )
    assert subscription["sink_sid"] == sink["sid"]

    # Bad input: click's usage error (2), or the API's own message (5).
    usage = await evs("sinks", "create", "--description", "x", "--type", "kinesis", ok=False)
    assert usage.returncode == 2 and "--destination" in usage.stderr
    refused = await evs("subscriptions", "create", "--sink", sink["sid"], "--description", "x",
                        "--type", "com.example.nope", ok=False)  # fmt: skip
    assert refused.returncode == 5 and "com.example.nope" in refused.stderr and "code" in refused.stderr

    # Publish (gRPC, the service token), see the deliveries, the health.
    await evs("publish", "--count", "3", "--router", suite.address("router"))
    await receiver.wait_for(lambda r: len(r.received) >= 3)
    log = await evs("deliveries", "list", sink["sid"])
    assert log.stdout.count("delivered") >= 3
    today = datetime.now(UTC).date().isoformat()
    # Filtered by the API: the day, the type.
    listed = ("deliveries", "list", sink["sid"])
    typed = await evs.json(*listed, "--since", today, "--until", today, "--type", TYPE)
    assert len(typed) == 3 and {a["type"] for a in typed} == {TYPE}
    assert await evs.json(*listed, "--type", "com.twilio.messaging.message.sent") == []
    bad = await evs("deliveries", "list", sink["sid"], "--since", "yesterday", ok=False)
    assert bad.returncode == 5 and "StartDate" in bad.stderr
    health = await evs.json("sinks", "health", sink["sid"])
    assert health["sink_sid"] == sink["sid"] and health["state"] in ("healthy", "idle")

    # A dead letter (the receiver refuses), redriven once it accepts again.
    refusing["on"] = True
    await evs("publish", "--count", "1", "--router", suite.address("router"))
    for _ in range(100):
        letters = await evs.json("dead-letters", "list", sink["sid"])
        if letters:
            break
        await asyncio.sleep(0.2)
    assert len(letters) == 1 and letters[0]["error_code"]
    refusing["on"] = False
    redriven = await evs.json("dead-letters", "redrive", sink["sid"])
    assert redriven == {"redriven": 1}
    await receiver.wait_for(lambda r: len(r.received) >= 5)  # 3, the refused one, its redrive

    # One attempt's request as sent and response as answered; its event resent to this sink.
    [failed] = await evs.json("deliveries", "list", sink["sid"], "--outcome", "failed")
    shown = (await evs("deliveries", "show", sink["sid"], str(failed["id"]))).stdout
    assert f"> POST http://127.0.0.1:{receiver.port}/cli?bodySHA256=" in shown, shown
    assert "> X-Twilio-Signature: " in shown and f"< {failed['status_code']}" in shown, shown
    resent = await evs.json("deliveries", "resend", sink["sid"], str(failed["id"]))
    assert (resent["event_id"], resent["status"]) == (failed["event_id"], "queued")
    await receiver.wait_for(lambda r: len(r.received) >= 6)

    # A replay of the last minutes, followed to its end with a progress bar.
    start = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    replayed = await evs("--json", "replay", "start", sink["sid"], "--start", start, "--watch")
    final = json.loads(replayed.stdout)
    assert final["status"] == "completed" and final["events_replayed"] >= 4
    assert f"replay {final['sid']}" in replayed.stderr and "100%" in replayed.stderr

    # Usage, doctor, completion.
    services = ",".join(f"{n}={suite.address(n)}" for n in ("catalog", "control", "router", "delivery"))
    assert suite.nats is not None
    doctor = await evs(
        "doctor", "--grpc", services, "--nats-monitor", f"http://127.0.0.1:{suite.nats.monitor_port}"
    )
    assert "FAIL" not in doctor.stdout and doctor.stdout.count("ok") >= 9, doctor.stdout
    broken = await evs(
        "doctor", "--grpc", "router=127.0.0.1:9", "--nats-monitor", "http://127.0.0.1:9", ok=False
    )
    assert broken.returncode == 1 and broken.stdout.count("FAIL") == 2
    usage_rows = await evs.json("usage", "--daily", "--start-date", datetime.now(UTC).date().isoformat())
    assert {r["category"] for r in usage_rows} >= {"event-streams", "event-streams-webhook"}
    completion = await evs.__class__.__call__(evs, "--help")
    assert "dead-letters" in completion.stdout
    script = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "evs"],
        capture_output=True,
        text=True,
        env={**evs.env, "_EVS_COMPLETE": "bash_source"},
        check=False,
    )
    assert "_evs_completion" in script.stdout


def test_the_console_script_is_installed() -> None:
    """`make` installs the package: `evs` stands beside the interpreter."""
    assert (Path(sys.executable).parent / "evs").exists()


async def test_the_newest_attempts_are_listed_and_tailed_and_every_usage_day_shown(
    suite: Suite, account: control_pb2.Account, receiver: Receiver, tmp_path: Path
) -> None:
    """Past a page of history: `deliveries list` shows the newest and says there are more,
    `deliveries tail` prints new attempts, `usage --daily` reaches today."""
    evs = Evs(suite, tmp_path / "evs.json")
    await evs("profiles", "add", "dev", "--url", suite.gateway_url, "--account-sid", account.sid,
              "--auth-token", account.auth_token)  # fmt: skip
    sink = await evs.json("sinks", "create", "--description", "history",
                          "--destination", f"http://127.0.0.1:{receiver.port}/history")  # fmt: skip
    await evs("subscriptions", "create", "--sink", sink["sid"], "--description", "h", "--type", f"{TYPE}:7")
    history = 110  # more than a page of `tail`'s polls
    await evs("publish", "--count", str(history), "--router", suite.address("router"))
    await receiver.wait_for(lambda r: len(r.received) >= history, 60)
    for _ in range(100):
        logged = await evs.json("deliveries", "list", sink["sid"], "--limit", "0")
        if len(logged) >= history:
            break
        await asyncio.sleep(0.3)
    assert len(logged) == history
    assert [r["id"] for r in logged] == sorted((r["id"] for r in logged), reverse=True)  # newest first

    newest = await evs("--json", "deliveries", "list", sink["sid"], "--limit", "5")
    assert [r["id"] for r in json.loads(newest.stdout)] == [r["id"] for r in logged[:5]]
    assert "newest 5" in newest.stderr and "--limit" in newest.stderr

    tail = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evs", "--json", "deliveries", "tail", sink["sid"], "--count", "3",
        "--interval", "0.2", env=evs.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert tail.stderr is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tail.stderr.readline(), 15)  # it has read what was there
        await evs("publish", "--count", "3", "--router", suite.address("router"))
        out, _ = await asyncio.wait_for(tail.communicate(), 60)
    finally:
        if tail.returncode is None:
            tail.kill()
            await tail.wait()
    printed = [json.loads(line) for line in out.decode().splitlines()]
    assert len(printed) == 3 and all(r["id"] > logged[0]["id"] for r in printed)
    assert [r["id"] for r in printed] == sorted(r["id"] for r in printed)  # in the order recorded

    today = datetime.now(UTC).date().isoformat()
    daily = await evs.json("usage", "--daily")  # the last 30 days: more than a page of records
    # A record a day for the total and for each sink type's category.
    assert daily[-1]["start_date"] == today and len(daily) == 30 * (1 + len(registry.TYPES))


async def test_doctor_checks_make_runs_suite_before_any_profile(
    suite: Suite, account: control_pb2.Account, tmp_path: Path
) -> None:
    """No profile, no credentials in the environment: doctor uses make run's development
    account (data/dev-account.json where it runs), and checks everything."""
    (tmp_path / "data").mkdir()
    dev_account = {"account_sid": account.sid, "auth_token": account.auth_token}
    (tmp_path / "data" / "dev-account.json").write_text(json.dumps(dev_account))
    evs = Evs(suite, tmp_path / "evs.json")
    services = ",".join(f"{n}={suite.address(n)}" for n in ("catalog", "control", "router", "delivery"))
    assert suite.nats is not None
    monitor = f"http://127.0.0.1:{suite.nats.monitor_port}"
    doctor = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "evs", "doctor", "--grpc", services, "--nats-monitor", monitor],
        capture_output=True,
        text=True,
        env={**evs.env, "EVS_URL": suite.gateway_url, "PYTHONPATH": os.pathsep.join(sys.path)},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "FAIL" not in doctor.stdout and "development account" in doctor.stderr

    # Nothing to go on at all: what needs no credentials is still checked, the rest says why.
    (tmp_path / "data" / "dev-account.json").unlink()
    bare = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "evs", "doctor", "--grpc", services, "--nats-monitor", monitor],
        capture_output=True,
        text=True,
        env={**evs.env, "EVS_URL": suite.gateway_url, "PYTHONPATH": os.pathsep.join(sys.path)},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert bare.returncode == 1 and bare.stdout.count("FAIL") == 3 and "no credentials" in bare.stdout
    assert "ok" in bare.stdout.split("\n")[0]  # the gateway
