"""How many events a worker holds (queued or being delivered), shared by its intake and its
lanes: the intake asks for no more than there is room for, and is woken when room frees."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Bell(Protocol):
    """What is rung as room frees (each puller's wake-up: an asyncio.Event)."""

    def set(self) -> None: ...


class Room:
    def __init__(self, size: int, bells: Sequence[Bell] = ()) -> None:
        """`bells`: one per puller, made by the root and given to both sides."""
        self.size = size
        self.held = 0
        self._bells = tuple(bells)

    @property
    def free(self) -> int:
        return max(0, self.size - self.held)

    def take(self, count: int) -> None:
        self.held += count

    def give(self, count: int) -> None:
        self.held -= count
        for bell in self._bells:
            bell.set()
