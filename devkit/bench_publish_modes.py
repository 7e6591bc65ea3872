"""What putting a message on JetStream costs, two ways: a PubAck per message (the router's
way: each message its own reply subject, answered when stored) and a fast-ingest batch per
call (nats-server 2.14's `allow_batched`, ADR-50: one reply subject per batch, the server
acknowledging every `flow` messages and the batch once at its commit). In core-µs per
message of nats-server and of the publisher (this process), and messages/s; trials
alternate between the two, on one stream. Then whether a fast batch keeps Nats-Msg-Id's
dedupe (the router's resend relies on it): the same batch sent twice must store once.

    python -m devkit.bench_publish_modes [--messages 40000] [--trials 3] [--nats-server PATH]

Fast-ingest batches need nats-server 2.14 or later: with an older one this bench says so
and measures nothing; --nats-server takes another binary than the project's.

The router stays on a PubAck per message whatever this shows; why is in README "Speed".
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

from devkit.bench_procs import proc_cpu_seconds
from devkit.bench_stats import show, spread
from launcher.nats_server import NatsServer
from runtime import stream_codec
from runtime.natsio import api, publish
from runtime.sids import EventId

MODES = ("pub-ack per message", "fast-ingest batch")
STREAM = "PUBMODES"
FLOW = 100  # the flow asked for (ADR-50's default); the server may choose fewer
OUTSTANDING_ACKS = 2  # flow acks in flight before the publisher waits (ADR-50's default)
# A delivered CloudEvent's size, about (the router's messages are 0.6–1 kB).
PAYLOAD = orjson.dumps({"specversion": "1.0", "id": "EZ" + "0" * 32, "data": {"body": "x" * 500}})

FAST_BATCHES_SINCE = (2, 14)

Batch = Callable[[str], Awaitable[None]]


def header_block(msg_id: str) -> bytes:
    return stream_codec.header_block(stream_codec.StreamEvent(EventId(msg_id), "com.example"), msg_id)


class BatchFailed(Exception):
    pass


async def acked_batches(nc: Client, size: int) -> Batch:
    """A batch of `size` messages, each with its own reply subject, done when all are acked."""
    loop = asyncio.get_running_loop()
    waiting: dict[str, asyncio.Future[None]] = {}
    inbox = nc.new_inbox()
    tokens = itertools.count()

    async def on_reply(msg: Msg) -> None:
        future = waiting.pop(msg.subject, None)
        if future is not None and not future.done():
            answer = orjson.loads(msg.data)
            if "error" in answer:
                future.set_exception(BatchFailed(str(answer["error"])))
            else:
                future.set_result(None)

    await nc.subscribe(f"{inbox}.*", cb=on_reply)

    async def batch(ids: str) -> None:
        futures = []
        for index in range(size):
            reply = f"{inbox}.{next(tokens)}"
            future = waiting[reply] = loop.create_future()
            futures.append(future)
            await publish.publish(nc, f"pm.{index % 4}", reply, header_block(f"{ids}-{index}"), PAYLOAD)
        await asyncio.gather(*futures)

    return batch


async def fast_batches(nc: Client, size: int, answers: list[dict[str, Any]] | None = None) -> Batch:
    """A fast-ingest batch of `size` messages: reply subjects `<inbox>.<flow>.fail.<seq>.<op>.$FI`
    (op 0 starts, 1 appends, 2 commits with the last message stored); the first message
    waits for the server's first flow ack, later ones wait only when OUTSTANDING_ACKS flow
    acks are due; the commit's PubAck ends it. `answers` collects the commits' PubAcks."""

    async def batch(ids: str) -> None:
        inbox = nc.new_inbox()  # two tokens, as the server's reply parser requires
        replies: asyncio.Queue[Msg] = asyncio.Queue()

        async def on_reply(msg: Msg) -> None:
            replies.put_nowait(msg)

        subscription = await nc.subscribe(f"{inbox}.>", cb=on_reply)
        acked, flow, done = 0, FLOW, False

        def take(msg: Msg) -> None:
            nonlocal acked, flow, done
            answer = orjson.loads(msg.data)
            kind = answer.get("type")
            if kind == "ack":
                acked, flow = answer["seq"], answer["msgs"]
            elif kind in ("gap", "err") or "error" in answer:
                raise BatchFailed(json.dumps(answer))
            elif kind is None:
                done = True
                if answers is not None:
                    answers.append(answer)

        try:
            for sequence in range(1, size + 1):
                operation = 0 if sequence == 1 else 2 if sequence == size else 1
                while sequence > 1 and acked + flow * OUTSTANDING_ACKS <= sequence:
                    take(await asyncio.wait_for(replies.get(), 5.0))
                while not replies.empty():
                    take(replies.get_nowait())
                reply = f"{inbox}.{FLOW}.fail.{sequence}.{operation}.$FI"
                block = header_block(f"{ids}-{sequence}")
                await publish.publish(nc, f"pm.{sequence % 4}", reply, block, PAYLOAD)
                if sequence == 1 and size > 1:
                    take(await asyncio.wait_for(replies.get(), 5.0))
            while not done:
                take(await asyncio.wait_for(replies.get(), 5.0))
        finally:
            await subscription.unsubscribe()

    return batch


async def run(batch: Batch, label: str, messages: int, size: int, concurrency: int) -> float:
    calls = list(range(messages // size))
    started = time.perf_counter()

    async def caller() -> None:
        while calls:
            await batch(f"{label}-{calls.pop()}")

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return time.perf_counter() - started


async def stored(nc: Client) -> int:
    return int((await api.stream_info(nc, STREAM))["state"]["messages"])


async def measure(server: NatsServer, args: argparse.Namespace) -> dict[str, Any]:
    nc = Client()
    await nc.connect(server.url)
    version = nc.connected_server_version
    if (version.major, version.minor) < FAST_BATCHES_SINCE:
        await nc.close()
        raise SystemExit(
            f"bench_publish_modes: nats-server {version.major}.{version.minor} has no fast-ingest "
            "batches (2.14+); nothing measured — give one with --nats-server PATH"
        )
    config = {"name": STREAM, "subjects": ["pm.>"], "storage": "file", "allow_batched": True}
    created = await api.call(nc, f"STREAM.CREATE.{STREAM}", config)
    if "error" in created:
        raise SystemExit(f"the stream cannot be created: {created['error']}")
    makers = {MODES[0]: acked_batches, MODES[1]: fast_batches}
    batches = {mode: await make(nc, args.batch) for mode, make in makers.items()}
    assert server.child is not None
    pid = server.child.process.pid
    trials: list[dict[str, Any]] = []
    for number in range(args.trials):
        trial: dict[str, Any] = {}
        for mode, batch in batches.items():
            await run(batch, f"warm{number}{mode[0]}", args.batch * 8, args.batch, args.concurrency)
            server_before, own_before = proc_cpu_seconds(pid) or 0.0, (proc_cpu_seconds(os.getpid()) or 0.0)
            seconds = await run(batch, f"t{number}{mode[0]}", args.messages, args.batch, args.concurrency)
            server_after, own_after = proc_cpu_seconds(pid) or 0.0, (proc_cpu_seconds(os.getpid()) or 0.0)
            sent = args.messages // args.batch * args.batch
            trial[mode] = {
                "messages_per_second": sent / seconds,
                "nats_us": (server_after - server_before) / sent * 1e6,
                "publisher_us": (own_after - own_before) / sent * 1e6,
            }
            figures = trial[mode]
            print(
                f"  trial {number + 1}, {mode}: {figures['messages_per_second']:,.0f} messages/s, "
                f"nats-server {figures['nats_us']:.1f} core-µs, publisher {figures['publisher_us']:.1f}",
                flush=True,
            )
        trials.append(trial)
    answers: list[dict[str, Any]] = []
    twice = await fast_batches(nc, args.batch, answers)
    before = await stored(nc)
    await twice("dedupe")
    await twice("dedupe")
    dedupe = {"stored": await stored(nc) - before, "sent": 2 * args.batch, "commits": answers}
    await nc.close()
    return {"trials": trials, "dedupe": dedupe}


def table(results: dict[str, Any], args: argparse.Namespace) -> str:
    head = (
        f"{args.messages:,} messages of {len(PAYLOAD)} B, calls of {args.batch}, {args.concurrency} at once"
    )
    lines = [
        f"| {head} | messages/s | nats-server core-µs/message | publisher core-µs/message |",
        "|---|---|---|---|",
    ]
    for mode in MODES:
        cells = [
            show(spread([t[mode][key] for t in results["trials"]]))
            for key in ("messages_per_second", "nats_us", "publisher_us")
        ]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    dedupe = results["dedupe"]
    lines.append("")
    holds = "holds" if dedupe["stored"] == args.batch else "does NOT hold"
    lines.append(
        f"The same fast batch of {args.batch} ids sent twice stored {dedupe['stored']} messages "
        f"(Nats-Msg-Id dedupe {holds} in fast batches)."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=100, help="messages per call (a Publish call's)")
    parser.add_argument("--concurrency", type=int, default=4, help="calls at once")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--nats-server", default="", help="a nats-server binary, 2.14+ (default: ours)")
    args = parser.parse_args()
    print(f"bench_publish_modes: {args.trials} trial(s) of {', '.join(MODES)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="es-publish-modes-") as tmp:
        server = NatsServer.create(Path(tmp) / "nats", Path(tmp))
        server.executable = args.nats_server
        server.start()
        try:
            results = asyncio.run(measure(server, args))
        finally:
            server.stop()
    print()
    print(table(results, args))


if __name__ == "__main__":
    main()
