"""The protocol every sink type implements.

A driver (one per sink type, holding what all its sinks share: an HTTP session, AWS
clients) opens a `Sink` for each configured sink of its type when a routing snapshot
brings it. The sink is bound to its typed configuration, parsed once; it says what one
call may carry (`limits`, `size`), gets ready (`prepare`: credentials, say), delivers a
batch with one `Outcome` per event, and is closed when the sink is deleted or changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from runtime.sids import AccountSid, EventId
from runtime.sink_configs import SinkConfig
from services.delivery.errors import DeliveryError
from services.delivery.sinks.exchange import Exchange


@dataclass(frozen=True)
class Framing:
    """Bytes a call adds around its events: `call` once, `separator` between two events
    (a JSON array: 2 and 1)."""

    call: int = 0
    separator: int = 0

    def call_bytes(self, event_sizes: Sequence[int]) -> int:
        return self.call + sum(event_sizes) + self.separator * max(0, len(event_sizes) - 1)


@dataclass(frozen=True)
class Limits:
    """What one `deliver` call may carry, in the units of `Sink.size`."""

    max_events: int
    max_call_bytes: int
    max_event_bytes: int
    framing: Framing = Framing()


@dataclass(slots=True)  # one per event: not frozen (a frozen __init__ costs per field)
class SinkEvent:
    event_id: EventId
    type_name: str
    account_sid: AccountSid
    payload: bytes  # the CloudEvent, JSON
    # Its subscription's ordering key's value, when the sink orders by key (a FIFO queue's
    # message group); "" otherwise.
    order_key: str = ""


@dataclass(frozen=True)
class Outcome:
    """What became of one event in a call: delivered (error None) or the error."""

    error: DeliveryError | None = None
    status: int | None = None  # the sink's status code, where it has one
    # The call as sent and answered (the same for every event of the call), when the driver
    # captures it; a failed call's rides on its error instead.
    exchange: Exchange | None = None

    @property
    def delivered(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class SinkSpec:
    """One configured sink, as the routing snapshot describes it."""

    sid: str
    account_sid: str
    config: SinkConfig
    auth_token: str  # the account's: what signs webhook deliveries (X-Twilio-Signature)
    # The sink's own secret (`whsec_…`), for a webhook signed as Standard Webhooks; else "".
    signing_secret: str = ""
    # After a rotation: the secret it replaced, which signs beside it until then (Unix seconds).
    previous_signing_secret: str = ""
    previous_signing_secret_expires: float = 0.0


class Sink(Protocol):
    @property
    def limits(self) -> Limits: ...

    def size(self, event: SinkEvent) -> int:
        """The event's bytes as this sink counts them against its limits."""
        ...

    async def prepare(self) -> None:
        """Get ready to deliver (cheap once ready). Raises a DeliveryError when it cannot."""
        ...

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        """Deliver the events (within `limits`): one Outcome per event, in order. Raises a
        DeliveryError when the call as a whole failed — the same outcome for every event."""
        ...

    async def close(self) -> None:
        """The sink was deleted or changed: forget what was kept for it."""
        ...


class SinkDriver(Protocol):
    sink_type: str

    def open(self, spec: SinkSpec) -> Sink:
        """A sink of this type for `spec` (whose config is this type's). Does no I/O."""
        ...

    async def close(self) -> None: ...
