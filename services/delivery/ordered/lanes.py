"""Per-key ordering: the sinks whose subscriptions order events by a key.

The router puts such a sink's events on the ordered stream (runtime/jetstream.py
`StreamSpec.ordered`), its ordering key in a header. Each ordered sink has a durable consumer
of its own with a priority group pinned to one client (JetStream's `pinned_client`): every
worker asks, one worker at a time gets the sink's events, and another takes over when it
stops asking (a crash: after `pin_seconds`). The pinned worker holds up to `max_pending` of
the sink's events and sends, per key, one at a time in stream order (key_order.py) — keys in
parallel, a failing key tried again in place while the others go on — acknowledging each
only when it is settled.

Ordering across a takeover: the events the previous worker held come back only when their
ack wait ends, after newer ones may have reached the new worker. So a worker newly pinned
sends nothing until it holds every event the consumer has out (its `num_ack_pending`): then
each key's events are all in its hands and go in stream order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from runtime import jetstream, stream_codec
from runtime.jetstream import StreamSpec
from runtime.natsio import api, pull
from runtime.natsio.pull import PullStatus
from runtime.routing_demand import AccountReach, EveryAccountHeld
from services.delivery.directory import SinkDirectory
from services.delivery.errors import SchemaMismatch
from services.delivery.intake.envelope import Envelope
from services.delivery.ordered.key_order import KeyQueues
from services.delivery.scheduling.calls import call_sink
from services.delivery.scheduling.lane import LaneReport
from services.delivery.scheduling.unknown import routed_ahead, unusable
from services.delivery.settling.decision import Happened, Retry, SinkState, UnknownSink
from services.delivery.settling.settle import Settler
from services.delivery.sinks.base import Outcome

log = logging.getLogger(__name__)

GROUP = "ordered"


@dataclass(frozen=True)
class OrderedRules:
    ack_wait_seconds: float = 30.0
    max_pending: int = 1000  # events of one ordered sink out at once (JetStream's cap)
    concurrency: int = 32  # keys in flight at once to one ordered sink
    pin_seconds: float = 5.0  # a worker that stops asking this long loses its ordered sinks
    scan_seconds: float = 1.0  # how often new ordered sinks are looked for

    @property
    def expires_seconds(self) -> float:
        # A pull request outlives neither the pin nor a third of it: the pinned worker
        # always has one outstanding, so it keeps its pin while it lives.
        return max(0.5, self.pin_seconds / 3)


# How often a paused ordered sink's waiting keys look whether it was resumed.
PAUSED_CHECK_SECONDS = 1.0


def consumer_name(sink_sid: str) -> str:
    return f"ordered-{sink_sid}"


def consumer_request(
    spec: StreamSpec, sink_sid: str, rules: OrderedRules, create: bool = True
) -> dict[str, object]:
    """The consumer of one ordered sink (raw JetStream API: nats-py has no priority groups).
    `create=False`: only brought up to date — a consumer gone meanwhile (its sink deleted)
    is not made again, which would deliver the sink's whole history anew."""
    return {
        "stream_name": spec.name,
        "action": "" if create else "update",
        "config": {
            "durable_name": consumer_name(sink_sid),
            "filter_subject": spec.sink_filter(sink_sid),
            "ack_policy": "explicit",
            "deliver_policy": "all",
            "ack_wait": int(rules.ack_wait_seconds * 1e9),
            "max_deliver": -1,
            "max_ack_pending": rules.max_pending,
            "priority_groups": [GROUP],
            "priority_policy": "pinned_client",
            "priority_timeout": int(rules.pin_seconds * 1e9),
        },
    }


class OrderedLane:
    """One ordered sink, as this worker sees it: asking for its events, and, while pinned,
    delivering them key by key."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        spec: StreamSpec,
        sink_sid: str,
        directory: SinkDirectory,
        settler: Settler,
        rules: OrderedRules,
        create: bool = True,
        accounts: AccountReach | None = None,
    ) -> None:
        self.sink_sid = sink_sid
        self._accounts: AccountReach = accounts or EveryAccountHeld()
        self._create = create
        self._nc = nc
        self._js = js
        self._spec = spec
        self._name = consumer_name(sink_sid)
        self._directory = directory
        self._settler = settler
        self._rules = rules
        self._queues: KeyQueues[Envelope] = KeyQueues()
        self._pin = ""
        self._complete = False  # holds every event the consumer has out: may send
        self._asked = 0  # events still due on the outstanding pull request
        self._asked_until = 0.0
        self._inbox = ""
        self._subscription: Subscription | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._generation = 0  # a new one each time the pin is lost: older work is handed back
        self._failing_since: float | None = None  # clock time of the first failure in a row

    @property
    def held(self) -> int:
        return self._queues.held

    def report(self) -> LaneReport | None:
        """What this worker knows of the sink (health, metrics); None unless it holds it."""
        if not self._pin:
            return None
        state = "failing" if self._failing_since is not None else "healthy"
        return LaneReport(self.sink_sid, state, None, self._failing_since, self._queues.held)

    async def ensure_consumer(self) -> None:
        request = consumer_request(self._spec, self.sink_sid, self._rules, self._create)
        error = await api.create_consumer(self._nc, self._spec.name, self._name, request)
        if error is not None:
            raise RuntimeError(f"ordered consumer {self._name}: {error}")

    async def run(self) -> None:
        await self.ensure_consumer()
        self._inbox = self._nc.new_inbox()
        self._subscription = await self._nc.subscribe(self._inbox, cb=self._receive, pending_msgs_limit=-1)
        beat_at = time.monotonic()
        while not self._stopping:
            now = time.monotonic()
            if self._asked_until and now > self._asked_until + 1.0:
                self._asked = 0  # its expiry notice was lost (a reconnect)
            if self._asked <= 0:
                await self._ask()
            if not self._complete and self._queues.held:
                await self._check_complete()
            if now >= beat_at:
                beat_at = now + self._rules.ack_wait_seconds / 3
                await self._beat()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=0.5)
            except TimeoutError:
                pass

    async def _ask(self) -> None:
        # Always a request outstanding, even with no room (JetStream delivers nothing past
        # max_ack_pending): a pinned worker that stops asking for pin_seconds loses its pin,
        # and the sink stalls until its held events are handed over.
        room = max(1, self._rules.max_pending - self._queues.held)
        body = pull.request_body(room, self._rules.expires_seconds, GROUP, self._pin)
        try:
            await pull.request(self._nc, pull.next_subject(self._spec.name, self._name), self._inbox, body)
        except Exception as exc:  # disconnected: ask again when reconnected
            log.warning("ordered sink %s: pull request failed: %s", self.sink_sid, exc)
            return
        self._asked = room
        self._asked_until = time.monotonic() + self._rules.expires_seconds

    async def _receive(self, msg: Msg) -> None:
        status = pull.status_of(msg)
        if status is not None:
            if status in (PullStatus.EXPIRED, PullStatus.RESET):
                self._asked = 0
            elif status is PullStatus.PIN_LOST:  # another worker has this sink
                self._asked = 0
                await self._lose_pin()
            self._wake.set()
            return
        self._asked -= 1
        if self._stopping:
            await msg.nak()
            return
        pin = pull.pin_of(msg)
        if pin and pin != self._pin:
            if self._pin:
                await self._lose_pin()
            self._pin = pin
            self._complete = False
        envelope = Envelope.of(msg)
        key = stream_codec.decode(msg.headers).order_key or ""
        if not self._queues.add(key, msg.metadata.sequence.stream, envelope):
            return  # a redelivery of one held: the held one stands
        if self._complete:
            self._pump()
        else:
            self._wake.set()

    async def _check_complete(self) -> None:
        try:
            info = await self._js.consumer_info(self._spec.name, self._name)
        except Exception as exc:
            log.warning("ordered sink %s: consumer info: %s", self.sink_sid, exc)
            return
        if (info.num_ack_pending or 0) <= self._queues.held:
            self._complete = True
            self._pump()

    async def _lose_pin(self) -> None:
        """Another worker has the sink now: everything held goes back to JetStream at once
        (the new holder waits for all of it before sending anything)."""
        self._generation += 1
        self._pin = ""
        self._complete = False
        for envelope in self._queues.clear():
            try:
                await envelope.msg.nak()
            except Exception:  # gone with the connection: redelivered after ack wait
                pass

    async def _beat(self) -> None:
        """Tell JetStream every held event is being worked on (they wait for their key)."""
        for envelope in list(self._queues):
            try:
                await envelope.msg.in_progress()
            except Exception:
                return

    def _pump(self) -> None:
        if not self._complete or self._stopping:
            return
        room = self._rules.concurrency - self._queues.busy()
        for key, seq, envelope in self._queues.take(max(0, room)):
            self._spawn(self._send(key, seq, envelope, self._generation))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, key: str, seq: int, envelope: Envelope, generation: int) -> None:
        if not self._nc.is_connected:
            # Cut off from JetStream the pin may pass to another worker, which would send this
            # key's events too: send nothing until connected (and still pinned) again.
            asyncio.get_running_loop().call_later(1.0, self._again, key, generation)
            return
        if self._directory.paused(self.sink_sid):
            # Paused by its owner: each key's events wait here in order (held, marked in
            # progress), none parked — parking would let a later one overtake.
            asyncio.get_running_loop().call_later(PAUSED_CHECK_SECONDS, self._again, key, generation)
            return
        started = time.monotonic()
        happened = await self._attempt(envelope)
        latency_ms = int((time.monotonic() - started) * 1000)
        if generation != self._generation:
            # The pin was lost meanwhile: only a success is kept (acknowledged); anything
            # else is the new holder's to do, in order.
            if isinstance(happened, Outcome) and happened.error is None:
                await self._settler.settle(envelope, happened, SinkState(), latency_ms)
            return
        decision = await self._settler.settle(envelope, happened, SinkState(), latency_ms, hand_back=False)
        if isinstance(happened, Outcome):
            failed = happened.error is not None and happened.error.retryable
            if not failed:
                self._failing_since = None
            elif self._failing_since is None:
                self._failing_since = time.time()
        if isinstance(decision, Retry):
            envelope.delivered += 1  # tried again here, not redelivered: count it ourselves
            asyncio.get_running_loop().call_later(decision.delay, self._again, key, generation)
            return
        self._queues.done(key, seq)
        self._pump()
        self._wake.set()  # room for more

    def _again(self, key: str, generation: int) -> None:
        if generation == self._generation:
            self._queues.release(key)
            self._pump()

    async def _attempt(self, envelope: Envelope) -> Happened:
        if envelope.failure:
            return Outcome(error=SchemaMismatch(f"event {envelope.failure}"))
        route = self._directory.route(self.sink_sid)
        if route is None and not self._accounts.holds(envelope.event.account_sid):
            await self._accounts.ensure([envelope.event.account_sid])
            route = self._directory.route(self.sink_sid)
        if route is None or route.sink is None:
            happened = unusable(route, self._directory, self.sink_sid)
            if happened is not None:
                return happened
            return UnknownSink(routed_ahead(envelope, self._directory, self._accounts))
        (outcome,) = await call_sink(route.sink, self.sink_sid, [envelope.event])
        return outcome

    async def stop(self, timeout: float) -> None:
        """Ask for nothing more; let what is in flight finish; hand the rest back."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        self._generation += 1
        for envelope in self._queues.clear():
            try:
                await envelope.msg.nak()
            except Exception:
                pass
        if self._subscription is not None:
            try:
                await self._subscription.unsubscribe()
            except Exception:
                pass


class OrderedDelivery:
    """A lane for every ordered sink (and for every ordered consumer left from before, so
    events of a subscription no longer ordered still go)."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        spec: StreamSpec | Sequence[StreamSpec],
        directory: SinkDirectory,
        settler: Settler,
        rules: OrderedRules,
        accounts: AccountReach | None = None,
    ) -> None:
        """`spec`: the ordered stream, or each partition's in partition order (a sink's
        consumer is on its own partition's)."""
        self._nc = nc
        self._js = js
        self._parts = jetstream.partitions_of(spec)
        self._directory = directory
        self._accounts = accounts
        self._settler = settler
        self._rules = rules
        self._lanes: dict[str, OrderedLane] = {}
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    def lane_reports(self) -> list[LaneReport]:
        """The ordered sinks this worker holds (pinned to it), as the lanes report theirs."""
        return [r for lane in self._lanes.values() if (r := lane.report()) is not None]

    async def _existing(self) -> set[str]:
        prefix = consumer_name("")
        names: list[str | None] = []
        for part in self._parts:
            try:
                names += [c.name for c in await self._js.consumers_info(part.name)]
            except Exception as exc:
                log.warning("ordered consumers: %s", exc)
        return {n.removeprefix(prefix) for n in names if n and n.startswith(prefix)}

    async def run(self) -> None:
        wanted = await self._existing()
        while not self._stopping:
            ordered = self._directory.ordered
            wanted |= ordered
            for sink_sid in wanted - set(self._lanes):
                if self._directory.removed(sink_sid):
                    continue
                lane = OrderedLane(
                    self._nc,
                    self._js,
                    jetstream.stream_of_sink(self._parts, sink_sid),
                    sink_sid,
                    self._directory,
                    self._settler,
                    self._rules,
                    create=sink_sid in ordered,
                    accounts=self._accounts,
                )
                self._lanes[sink_sid] = lane
                self._runs[sink_sid] = asyncio.create_task(self._keep(lane))
            for sink_sid in [s for s in self._lanes if self._directory.removed(s)]:
                if await self._retire(sink_sid):
                    wanted.discard(sink_sid)
            await asyncio.sleep(self._rules.scan_seconds)

    async def _retire(self, sink_sid: str) -> bool:
        """A deleted sink's consumer goes once nothing is left for it (its last events are
        dead letters by then). Only a deleted sink's: sink SIDs never come back, so no
        consumer is ever made again for a subject with history — a sink no longer ordered
        keeps its consumer, idle, and carries on from it if ordered again."""
        lane = self._lanes[sink_sid]
        if lane.held:
            return False
        name = consumer_name(sink_sid)
        stream = jetstream.stream_of_sink(self._parts, sink_sid).name
        try:
            try:
                info = await self._js.consumer_info(stream, name)
            except NotFoundError:
                info = None  # another worker retired it
            if info is not None and (info.num_pending or info.num_ack_pending):
                return False
            await lane.stop(timeout=1.0)
            self._runs.pop(sink_sid).cancel()
            del self._lanes[sink_sid]
            if info is not None:
                await self._js.delete_consumer(stream, name)
        except Exception as exc:
            log.info("ordered sink %s: not retired yet: %s", sink_sid, exc)
            return False
        log.info("ordered sink %s was deleted: its consumer is gone", sink_sid, extra={"sink_sid": sink_sid})
        return True

    async def _keep(self, lane: OrderedLane) -> None:
        while not self._stopping:
            try:
                await lane.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("ordered sink %s: %s; again in 1 s", lane.sink_sid, exc)
                await asyncio.sleep(1.0)

    async def drain(self, timeout: float) -> None:
        self._stopping = True
        await asyncio.gather(*(lane.stop(timeout) for lane in self._lanes.values()))
        for task in self._runs.values():
            task.cancel()
