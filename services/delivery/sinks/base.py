"""The protocol every sink driver implements, and the target it delivers to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SinkTarget:
    sid: str
    account_sid: str
    sink_type: str
    config: dict[str, Any]
    auth_token: str


class SinkDriver(Protocol):
    sink_type: str

    def batch_bytes(self, target: SinkTarget) -> int:
        """The most bytes of events one call to `deliver` may carry for this target;
        0 means one event per call."""
        ...

    async def deliver(self, target: SinkTarget, events: Sequence[bytes]) -> int:
        """Deliver the encoded CloudEvents and return the sink's status code (0 where the
        sink has none), or raise a DeliveryError that says what went wrong and (by its
        class) whether to try again."""
        ...

    async def close(self) -> None: ...
