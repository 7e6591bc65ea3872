"""`eventstreams-up` (what `make run` runs): the whole suite on this machine with embedded
defaults — SQLite files and a local nats-server under ./data — supervised (a process that dies
is started again, short of a crash loop) until Ctrl-C, which stops every process it started."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Protocol

from launcher.suite import Ports, Suite

# Beside where it is started, as `evs doctor` and `evs publish` look for it (data/ of the
# checkout under `make run`).
DATA = Path("data")
# Prometheus /metrics of each process under `make run` (further workers take free ports).
METRICS_PORTS = {"catalog": 9101, "control": 9102, "router": 9103, "delivery-0": 9104, "gateway": 9105}


def port_taken(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def shown(path: Path) -> str:
    """A path as the banner says it: relative to where the suite was started when inside it."""
    here = Path.cwd()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def banner(suite: Suite) -> str:
    sid, token = suite.dev_account()
    url = suite.gateway_url
    grpc_addresses = " / ".join(suite.address(name) for name in ("catalog", "control", "router"))
    metrics = ", ".join(f"{name} :{port}" for name, port in suite.metrics_ports.items())
    return f"""
Event Streams is up.

  REST gateway (Twilio Events v1)  {url}
  web console                      {url}/console/  (sign in with the account below)
  catalog / control / router gRPC  {grpc_addresses}
  NATS JetStream                   {suite.nats.url if suite.nats else "?"}
  Prometheus metrics               {metrics}
  data and logs                    {shown(suite.data_dir)}/ (SQLite, JetStream store, logs/)

  Account SID  {sid}
  Auth token   {token}

Try it (in another terminal, from {Path.cwd()}):

  make demo          # a receiver, a webhook sink, a subscription, three events, signatures checked

or by hand:

  make receiver      # prints each event it gets and whether X-Twilio-Signature is valid
  curl -u {sid}:{token} {url}/v1/Sinks \\
    -d Description=demo -d SinkType=webhook \\
    --data-urlencode 'SinkConfiguration={{"destination":"http://127.0.0.1:9000/events","method":"POST","batch_events":false}}'
  curl -u {sid}:{token} {url}/v1/Subscriptions \\
    -d Description=demo -d SinkSid=<the DG… sid from above> \\
    --data-urlencode 'Types={{"type":"com.twilio.messaging.message.delivered","schema_version":7}}'
  make produce TYPE=com.twilio.messaging.message.delivered COUNT=3

The command line, evs (in .venv/bin; `evs --help`), and twilio-python read these:

  export TWILIO_ACCOUNT_SID={sid} TWILIO_AUTH_TOKEN={token}
  evs doctor                 # the gateway, your credentials, each service, NATS, the databases
  evs sinks list
  evs deliveries tail DG…    # a sink's attempts as they are recorded

twilio-python: Client() with those two set, and client.events.base_url = "{url}" (README).

Your own events (README, "For producers"): register a type with the catalog's gRPC registry
({suite.address("catalog")}), then publish with the SDK —
  AsyncProducer.connect("{suite.address("router")}", <credential>, account_sid="{sid}")
  <credential>: the producer's own, in {shown(suite.data_dir / "credentials" / "producer")}
(eventstreams_producer; the transactional outbox's relay: python -m eventstreams_producer.relay).
Order a subscription's events per key: OrderingKey=messageSid when creating it.

Ctrl-C stops everything.
"""


class Stopping:
    """SIGINT and SIGTERM stop the suite, however it was started. Handlers are installed
    explicitly: a job a non-interactive shell starts in the background (`make run &` in a
    script or CI) has SIGINT ignored, and Python installs no Ctrl-C handler of its own then.

    While the suite starts, the first signal interrupts the start (KeyboardInterrupt; what was
    started is stopped). Once it is up, the signal only sets a flag the supervisor reads between
    rounds — a plain flag, not a threading.Event: a handler that took the Event's lock while the
    main thread held it inside Event.wait would deadlock. Signals after the first are ignored,
    so they cannot cut the stopping itself short."""

    def __init__(self) -> None:
        self.requested = False
        self.interrupting = True

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def _handle(self, _signum: int, _frame: object) -> None:
        if self.requested:
            return
        self.requested = True
        if self.interrupting:
            raise KeyboardInterrupt

    def is_set(self) -> bool:
        return self.requested

    def wait(self, timeout: float) -> bool:
        time.sleep(timeout)
        return self.requested


class StopFlag(Protocol):
    """What the supervisor reads: a threading.Event, or `Stopping`."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float) -> bool: ...


# A process that dies more often than this is not coming back by being restarted.
CRASH_LOOP = (5, 60.0)  # deaths, within seconds


def supervise(suite: Suite, stop: StopFlag | None = None) -> None:
    """Keep serving when a process dies (a crash, an OOM kill, kill -9): start it again, as
    a process manager would. Give up only on a crash loop (or when `stop` is set)."""
    deaths: dict[str, list[float]] = {}
    stop = stop or threading.Event()
    while not stop.wait(0.5):
        for name in suite.dead():
            if stop.is_set():
                return  # stopping: a process that died of the same signal stays down
            now = time.monotonic()
            recent = [t for t in deaths.get(name, []) if now - t < CRASH_LOOP[1]] + [now]
            deaths[name] = recent
            if len(recent) > CRASH_LOOP[0]:
                print(f"{name} keeps dying; stopping. See {suite.log_dir}", file=sys.stderr)
                print(suite.logs(), file=sys.stderr)
                return
            print(f"{name} stopped unexpectedly; starting it again (logs: {suite.log_dir})", flush=True)
            try:
                suite.revive(name)
            except Exception as exc:  # retried on the next round, within the crash-loop limit
                print(f"{name} did not come back: {exc}", file=sys.stderr, flush=True)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="eventstreams-up", description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA, help="SQLite files, JetStream store, logs")
    parser.add_argument(
        "--free-ports",
        action="store_true",
        help="any free ports, not the fixed ones (a second suite beside `make run`, as tests start)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    data: Path = args.data.resolve()
    ports = Ports.free() if args.free_ports else Ports.defaults()
    fixed = {
        "nats": 4222,
        "nats monitor": 8222,
        **{f"{name} metrics": port for name, port in METRICS_PORTS.items()},
    }
    wanted = {
        "gateway": ports.gateway,
        "catalog": ports.catalog,
        "control": ports.control,
        "router": ports.router,
        "delivery": ports.delivery,
        **({} if args.free_ports else fixed),
    }
    busy = [f"{name} ({port})" for name, port in wanted.items() if port_taken(port)]
    if busy:
        sys.exit(f"ports in use: {', '.join(busy)} — is another `make run` up?")
    suite = Suite(
        data_dir=data,
        catalog_db=f"sqlite+aiosqlite:///{data / 'catalog.db'}",
        control_db=f"sqlite+aiosqlite:///{data / 'control.db'}",
        ports=ports,
        nats_port=0 if args.free_ports else 4222,
        nats_monitor_port=0 if args.free_ports else 8222,
        workers=int(os.environ.get("ES_WORKERS", "1")),
        log_dir=data / "logs",
        extra_env={"ES_DEV_ACCOUNT": "true", "ES_ALLOW_PRIVATE_DESTINATIONS": "true"},
        metrics_ports={} if args.free_ports else dict(METRICS_PORTS),
    )
    stopping = Stopping()
    stopping.install()
    print("starting nats-server, catalog, control, router, delivery, gateway …", flush=True)
    try:
        suite.start()
        stopping.interrupting = False
        print(banner(suite), flush=True)
        supervise(suite, stopping)
        print("\nstopping …", flush=True)
    except KeyboardInterrupt:
        print("\nstopping …", flush=True)
    finally:
        suite.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
