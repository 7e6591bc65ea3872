"""The bench's outage phase: how a webhook sink recovers from an outage of its destination.

A fresh webhook sink (one event per request, or batch_events=true) takes a steady RATE
events/s (paced Publish). After `steady` seconds the fast receiver answers HTTP 500 on the
sink's path for `outage` seconds, while publishing goes on at the same rate, and for `after`
seconds more. The receiver records each event's first successful receipt. Reported:

- backlog_drained_seconds: from the receiver's recovery to the arrival of the last event
  published before recovery (None if some never arrived by recovery + `give_up`);
- backlog_median_delay_seconds: the median, over the events published before recovery that
  had not arrived before the outage began (the backlog), of arrival − recovery (an event
  still missing counts as later than any);
- fresh_p50/p99_seconds: how late events published after recovery arrived (send → receipt):
  are new events stuck behind the backlog?
- all_caught_up_seconds: recovery → the last event of the whole run;
- missing: published events that never arrived (waiting stops at recovery + `give_up`).

The sink's delivery settings are the suite's defaults (Twilio's throttle: capped at 100
events/s on a 5xx, cut to 99 % on each further one, growing back after 5 quiet minutes):
the phase measures them, it does not tune them. Each trial's sink is deleted afterwards (what
it still holds becomes dead letters), so that no trial inherits another's throttle or backlog.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devkit.bench_load import EventFactory, publish_paced, publish_until_routed
from devkit.bench_setup import ReceiverClient, Rest
from eventstreams.v1 import router_pb2_grpc

TYPE_OUTAGE = "com.twilio.messaging.message.read"
MODES = (("batched", True), ("one_per_request", False))


@dataclass(frozen=True)
class OutagePlan:
    rate: float = 500.0
    steady: float = 5.0
    outage: float = 20.0
    after: float = 60.0
    give_up: float = 180.0  # after recovery
    status: int = 500
    batch: int = 10  # events per paced Publish call: one call every 20 ms at 500/s

    @property
    def publish_seconds(self) -> float:
        return self.steady + self.outage + self.after


def _percentile(ordered: list[float], pct: float) -> float | None:
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or math.isinf(value) else round(value, digits)


def figures(
    sent: list[tuple[float, list[str]]], arrivals: dict[str, Any], window: dict[str, Any], plan: OutagePlan
) -> dict[str, Any]:
    """The phase's figures from what was published (stamp, ids) and what arrived (id → first
    receipt), around the receiver's outage window {"from", "until"}."""
    received = {i: ms / 1000 for i, ms in zip(arrivals["ids"], arrivals["received_ms"], strict=True)}
    began, recovered = float(window["from"]), float(window["until"])
    events = [(stamp, event_id) for stamp, ids in sent for event_id in ids]
    before = [(s, i) for s, i in events if s < recovered]
    backlog = [i for _, i in before if received.get(i, math.inf) >= began]
    delays = sorted(received.get(i, math.inf) - recovered for i in backlog)
    missing = [i for _, i in events if i not in received]
    missing_before = sum(1 for _, i in before if i not in received)
    fresh = sorted(received[i] - s for s, i in events if s >= recovered and i in received)
    drained = delays[-1] if delays else 0.0
    median_delay = statistics.median(delays) if delays else 0.0
    last_arrival = max((received[i] for _, i in events if i in received), default=recovered)
    slowest = None
    if backlog:
        slowest = max(backlog, key=lambda i: received.get(i, math.inf))
    return {
        "rate": plan.rate,
        "outage_seconds": round(recovered - began, 3),
        "published": len(events),
        "published_before_recovery": len(before),
        "backlog": len(backlog),
        "received": len(events) - len(missing),
        "missing": len(missing),
        "missing_before_recovery": missing_before,
        "backlog_drained_seconds": _r(drained),
        "backlog_median_delay_seconds": _r(median_delay),
        "all_caught_up_seconds": None if missing else _r(last_arrival - recovered),
        "fresh_p50_seconds": _r(_percentile(fresh, 50)),
        "fresh_p99_seconds": _r(_percentile(fresh, 99)),
        "fresh_max_seconds": _r(fresh[-1] if fresh else None),
        "slowest_event": slowest,
        "slowest_missing": bool(slowest is not None and slowest not in received),
        "requests": _requests(arrivals["requests"], began, recovered),
        "timeline": _timeline(events, received, arrivals["requests"], began - plan.steady),
    }


def _requests(log: list[list[float]], began: float, recovered: float) -> dict[str, Any]:
    """The receiver's view of the requests: during the outage (answered 500) and after."""
    during = [r for r in log if began <= r[0] < recovered]
    after = [r for r in log if r[0] >= recovered]
    failed = [r for r in log if int(r[1]) >= 300]
    return {
        "during_outage": len(during),
        "events_in_failed_requests": int(sum(r[2] for r in failed)),
        "failed": len(failed),
        "after_recovery": len(after),
        "events_per_request_after_recovery": round(sum(r[2] for r in after) / len(after), 2)
        if after
        else None,
    }


def _timeline(
    events: list[tuple[float, str]], received: dict[str, float], log: list[list[float]], start: float
) -> dict[str, Any]:
    """Per second from `start`: events published, events arrived (first receipts), requests
    answered 2xx and answered an error — the shape of the recovery, for results.json."""
    seconds = int(max([*received.values(), *(r[0] for r in log), start + 1]) - start) + 1
    published, arrived, ok, failed = [0] * seconds, [0] * seconds, [0] * seconds, [0] * seconds
    for stamp, _ in events:
        if 0 <= stamp - start < seconds:
            published[int(stamp - start)] += 1
    wanted = {i for _, i in events}
    for event_id, at in received.items():
        if event_id in wanted and 0 <= at - start < seconds:
            arrived[int(at - start)] += 1
    for at, status, _ in log:
        if 0 <= at - start < seconds:
            (ok if int(status) < 300 else failed)[int(at - start)] += 1
    return {"start": round(start, 3), "published": published, "arrived": arrived, "ok": ok, "failed": failed}


async def run(
    rest: Rest,
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    receiver: ReceiverClient,
    plan: OutagePlan,
    mode: str,
    batched: bool,
    trial: int,
    stall_seconds: float,
    window: Callable[[str], Any],
) -> dict[str, Any]:
    path = f"/outage/{mode}/{trial}"
    sid = await rest.webhook_sink(f"bench outage {mode}", receiver.url(path), batched)
    subscription = await rest.subscribe(f"bench outage {mode}", sid, [TYPE_OUTAGE])
    try:
        await receiver.track(path)
        await publish_until_routed(router, factory, TYPE_OUTAGE, 1, timeout=15)
        probes = (await receiver.wait_events(path, 1, stall_seconds)).events
        if probes < 1:
            raise RuntimeError(f"the outage sink {sid} received nothing in {stall_seconds:.0f} s")
        with window(f"outage_{mode}") as measured:
            publisher = asyncio.create_task(
                publish_paced(
                    router, factory, TYPE_OUTAGE, plan.rate, plan.publish_seconds, plan.batch, keep_ids=True
                )
            )
            await asyncio.sleep(plan.steady)
            outage = await receiver.fail(path, plan.outage, plan.status)
            published = await publisher
            assert published.sent is not None
            total = sum(len(ids) for _, ids in published.sent)
            give_up = float(outage["until"]) + plan.give_up
            while time.time() < give_up and (await receiver.path(path)).events - probes < total:
                await asyncio.sleep(0.5)
            measured.events = total
        arrivals = await receiver.arrivals(path)
        found = figures(published.sent, arrivals, outage, plan)
        found["publish"] = published.report()
        found["sink"] = sid
        if found["slowest_event"]:
            attempts = await rest.deliveries(sid, found["slowest_event"])
            found["slowest_event_attempts"] = [
                {
                    k: a.get(k)
                    for k in ("attempt", "outcome", "status_code", "error_code", "error", "date_created")
                }
                for a in attempts
            ]
        return found
    finally:
        await rest.unsubscribe(subscription)
        await rest.delete_sink(sid)
