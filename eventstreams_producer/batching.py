"""When a batch is complete: at `max_size` items, or `linger_seconds` after its first item
arrived. Pure state on a clock the caller passes in (the producer's loop time; a test's
simulated one)."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")

MAX_BATCH = 1000  # the router's most events per Publish call (ES_MAX_BATCH's default)


class Batcher(Generic[T]):
    def __init__(self, max_size: int, linger_seconds: float) -> None:
        if not 1 <= max_size <= MAX_BATCH:
            raise ValueError(f"batch size must be 1..{MAX_BATCH}, not {max_size}")
        if linger_seconds < 0:
            raise ValueError("linger_seconds must be 0 or more")
        self.max_size = max_size
        self.linger_seconds = linger_seconds
        self._items: list[T] = []
        self._first_at = 0.0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T, now: float) -> list[T] | None:
        """Add one item; the batch, when this one completed it."""
        if not self._items:
            self._first_at = now
        self._items.append(item)
        if len(self._items) >= self.max_size:
            return self.take()
        return None

    def deadline(self) -> float | None:
        """When the batch under way is due on time alone (None: nothing waits)."""
        return self._first_at + self.linger_seconds if self._items else None

    def due(self, now: float) -> list[T] | None:
        """The batch, if it has lingered long enough."""
        deadline = self.deadline()
        if deadline is not None and now >= deadline:
            return self.take()
        return None

    def take(self) -> list[T]:
        """Whatever is waiting, now (a flush)."""
        items, self._items = self._items, []
        return items
