"""What SQS's SendMessageBatch and SNS's PublishBatch share, pure: a call's entries (each
event's CloudEvent JSON as it is, with a FIFO target's message group and deduplication ids),
and the answer's per-entry outcomes.

- `MessageDeduplicationId` = the event id: a redelivery within the five-minute deduplication
  window is dropped by the service, not delivered twice.
- `MessageGroupId` = the subscription's ordering key's value when it has one, else the
  account SID: a stable group, so events keep their order within it.
Both allow 128 characters of printable ASCII; a longer or other value is replaced by its
SHA-256 (hex, 64 characters), still stable."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from services.delivery.errors import DeliveryError, ServerError, Throttled
from services.delivery.sinks.aws.errors import THROTTLING, EntryRefused
from services.delivery.sinks.base import Outcome, SinkEvent

ID_CHARS = re.compile(r"[!-~]{1,128}")  # printable ASCII, no space


def stable_id(value: str) -> str:
    if ID_CHARS.fullmatch(value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()


def fifo_fields(event: SinkEvent) -> dict[str, str]:
    return {
        "MessageDeduplicationId": stable_id(event.event_id),
        "MessageGroupId": stable_id(event.order_key or event.account_sid),
    }


def entries(events: Sequence[SinkEvent], fifo: bool, body: str) -> list[dict[str, Any]]:
    """A call's entries, each `Id` its index in the call and the event under `body`."""
    out: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        entry: dict[str, Any] = {"Id": str(index), body: event.payload.decode()}
        if fifo:
            entry.update(fifo_fields(event))
        out.append(entry)
    return out


def failure(entry: Mapping[str, Any], who: str) -> DeliveryError:
    code = str(entry.get("Code", ""))
    text = f"{who} did not take the message: {code}: {entry.get('Message', '')}".rstrip(": ")
    if code in THROTTLING:
        return Throttled(text)
    if entry.get("SenderFault") in (True, "true"):
        return EntryRefused(text)
    return ServerError(text)


def outcomes(response: Mapping[str, Any], count: int, who: str) -> list[Outcome]:
    """One outcome per entry (each `Id` its index in the call): the answer lists the
    successful and the failed entries by Id; an entry in neither was not answered for, and is
    tried again."""
    taken = {str(e.get("Id")) for e in response.get("Successful") or []}
    failed = {str(e.get("Id")): e for e in response.get("Failed") or []}
    out: list[Outcome] = []
    for index in range(count):
        key = str(index)
        if key in taken:
            out.append(Outcome(status=200))
        elif key in failed:
            out.append(Outcome(error=failure(failed[key], who)))
        else:
            out.append(Outcome(error=ServerError(f"{who} did not answer for entry {key}")))
    return out
