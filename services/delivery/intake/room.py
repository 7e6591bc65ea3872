"""How many events a worker holds (queued or being delivered), shared by its intake and its
lanes: the intake asks for no more than there is room for, and is woken when room frees."""

from __future__ import annotations

from collections.abc import Callable


class Room:
    def __init__(self, size: int) -> None:
        self.size = size
        self.held = 0
        self._listeners: list[Callable[[], None]] = []

    @property
    def free(self) -> int:
        return max(0, self.size - self.held)

    def take(self, count: int) -> None:
        self.held += count

    def give(self, count: int) -> None:
        self.held -= count
        for listener in self._listeners:
            listener()

    def on_free(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)
