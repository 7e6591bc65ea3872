"""The events of one ordered sink a worker holds, per ordering key, each key's in stream order:
which may go now. One event per key is out at a time, and a key's next waits until the one
before it is settled (delivered or a dead letter); different keys go in parallel. Pure."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Key(Generic[T]):
    seqs: list[int] = field(default_factory=list)  # ascending
    items: dict[int, T] = field(default_factory=dict)
    busy: bool = False  # its head is out (in flight, or waiting to be tried again)


class KeyQueues(Generic[T]):
    def __init__(self) -> None:
        self._keys: dict[str, _Key[T]] = {}
        self._ready: dict[str, None] = {}  # keys whose head may go, oldest first
        self.held = 0

    def add(self, key: str, seq: int, item: T) -> bool:
        """Hold an event; False when that stream sequence is held already (a redelivery)."""
        queue = self._keys.setdefault(key, _Key())
        if seq in queue.items:
            return False
        bisect.insort(queue.seqs, seq)
        queue.items[seq] = item
        self.held += 1
        if not queue.busy:
            self._ready[key] = None
        return True

    def take(self, limit: int) -> list[tuple[str, int, T]]:
        """Up to `limit` keys' heads, each key then busy until `done` or `release`."""
        out: list[tuple[str, int, T]] = []
        while self._ready and len(out) < limit:
            key = next(iter(self._ready))
            del self._ready[key]
            queue = self._keys[key]
            queue.busy = True
            head = queue.seqs[0]
            out.append((key, head, queue.items[head]))
        return out

    def done(self, key: str, seq: int) -> None:
        """The key's head is settled: its next may go."""
        queue = self._keys.get(key)
        if queue is None or seq not in queue.items:
            return
        queue.seqs.remove(seq)
        del queue.items[seq]
        self.held -= 1
        queue.busy = False
        if queue.seqs:
            self._ready[key] = None
        else:
            del self._keys[key]

    def release(self, key: str) -> None:
        """The key's head stays (to be tried again) and may go again now."""
        queue = self._keys.get(key)
        if queue is not None and queue.busy:
            queue.busy = False
            self._ready[key] = None

    def busy(self) -> int:
        return sum(1 for queue in self._keys.values() if queue.busy)

    def __iter__(self) -> Iterator[T]:
        for queue in self._keys.values():
            yield from queue.items.values()

    def clear(self) -> list[T]:
        """Everything held, forgotten (handed back by the caller)."""
        items = list(self)
        self._keys.clear()
        self._ready.clear()
        self.held = 0
        return items
