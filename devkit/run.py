"""`make run`: the whole suite on this machine with embedded defaults — SQLite files and a
local nats-server under ./data — until Ctrl-C, which stops every process it started."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time

from devkit.processes import ROOT
from devkit.suite import Ports, Suite

DATA = ROOT / "data"
# Prometheus /metrics of each process under `make run` (further workers take free ports).
METRICS_PORTS = {"catalog": 9101, "control": 9102, "router": 9103, "delivery-0": 9104, "gateway": 9105}


def port_taken(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def banner(suite: Suite) -> str:
    sid, token = suite.dev_account()
    url = suite.gateway_url
    grpc_addresses = " / ".join(suite.address(name) for name in ("catalog", "control", "router"))
    metrics = ", ".join(f"{name} :{port}" for name, port in suite.metrics_ports.items())
    return f"""
Event Streams is up.

  REST gateway (Twilio Events v1)  {url}
  catalog / control / router gRPC  {grpc_addresses}
  NATS JetStream                   {suite.nats.url if suite.nats else "?"}
  Prometheus metrics               {metrics}
  data and logs                    {DATA.relative_to(ROOT)}/ (SQLite, JetStream store, logs/)

  Account SID  {sid}
  Auth token   {token}

Try it (in another terminal, from {ROOT}):

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

twilio-python: export TWILIO_ACCOUNT_SID={sid} TWILIO_AUTH_TOKEN={token}
and point client.events at {url} (see README).

Your own events (README, "For producers"): register a type with the catalog's gRPC registry
({suite.address("catalog")}), then publish with the SDK —
  AsyncProducer.connect("{suite.address("router")}", <credential>, account_sid="{sid}")
  <credential>: the producer's own, in {DATA.relative_to(ROOT)}/credentials/producer
(eventstreams_producer; the transactional outbox's relay: python -m eventstreams_producer.relay).
Order a subscription's events per key: OrderingKey=messageSid when creating it.

Ctrl-C stops everything.
"""


def _interrupt(_signum: int, _frame: object) -> None:
    """SIGTERM (e.g. from a process manager) stops the suite as Ctrl-C does."""
    raise KeyboardInterrupt


# A process that dies more often than this is not coming back by being restarted.
CRASH_LOOP = (5, 60.0)  # deaths, within seconds


def supervise(suite: Suite, stop: threading.Event | None = None) -> None:
    """Keep serving when a process dies (a crash, an OOM kill, kill -9): start it again, as
    a process manager would. Give up only on a crash loop (or when `stop` is set)."""
    deaths: dict[str, list[float]] = {}
    stop = stop or threading.Event()
    while not stop.wait(0.5):
        for name in suite.dead():
            now = time.monotonic()
            recent = [t for t in deaths.get(name, []) if now - t < CRASH_LOOP[1]] + [now]
            deaths[name] = recent
            if len(recent) > CRASH_LOOP[0]:
                print(f"{name} keeps dying; stopping. See {DATA / 'logs'}", file=sys.stderr)
                print(suite.logs(), file=sys.stderr)
                return
            print(f"{name} stopped unexpectedly; starting it again (logs: {DATA / 'logs'})", flush=True)
            try:
                suite.revive(name)
            except Exception as exc:  # retried on the next round, within the crash-loop limit
                print(f"{name} did not come back: {exc}", file=sys.stderr, flush=True)


def main() -> None:
    ports = Ports.defaults()
    wanted = {
        "gateway": ports.gateway,
        "catalog": ports.catalog,
        "control": ports.control,
        "router": ports.router,
        "delivery": ports.delivery,
        "nats": 4222,
        "nats monitor": 8222,
        **{f"{name} metrics": port for name, port in METRICS_PORTS.items()},
    }
    busy = [f"{name} ({port})" for name, port in wanted.items() if port_taken(port)]
    if busy:
        sys.exit(f"ports in use: {', '.join(busy)} — is another `make run` up?")
    suite = Suite(
        data_dir=DATA,
        catalog_db=f"sqlite+aiosqlite:///{DATA / 'catalog.db'}",
        control_db=f"sqlite+aiosqlite:///{DATA / 'control.db'}",
        ports=ports,
        nats_port=4222,
        nats_monitor_port=8222,
        workers=int(os.environ.get("ES_WORKERS", "1")),
        log_dir=DATA / "logs",
        extra_env={"ES_DEV_ACCOUNT": "true", "ES_ALLOW_PRIVATE_DESTINATIONS": "true"},
        metrics_ports=dict(METRICS_PORTS),
    )
    signal.signal(signal.SIGTERM, _interrupt)
    print("starting nats-server, catalog, control, router, delivery, gateway …", flush=True)
    try:
        suite.start()
        print(banner(suite), flush=True)
        supervise(suite)
    except KeyboardInterrupt:
        print("\nstopping …", flush=True)
    finally:
        suite.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
