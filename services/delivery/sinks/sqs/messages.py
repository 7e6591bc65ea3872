"""SQS messages, pure: one event as one SendMessageBatch entry, the limits of one call, and
what the call's answer means for each event.

- The body is the CloudEvent JSON as it is; no message attributes (SQS counts those against
  the size too, and the CloudEvent already carries its type and source).
- A FIFO queue's entry carries `MessageDeduplicationId` = the event id (a redelivery within
  SQS's five-minute window is dropped by SQS, not delivered twice) and `MessageGroupId` = the
  subscription's ordering key's value when it has one, else the account SID: a stable group,
  so events keep their order within it. Both allow 128 characters of printable ASCII; a longer
  or other value is replaced by its SHA-256 (hex, 64 characters), still stable.
- A standard queue's entry carries neither."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from runtime.sinks.sqs import MAX_BYTES, MAX_MESSAGES_PER_CALL
from services.delivery.errors import DeliveryError, ServerError, Throttled
from services.delivery.sinks.aws.errors import THROTTLING, EntryRefused
from services.delivery.sinks.base import Limits, Outcome, SinkEvent

LIMITS = Limits(max_events=MAX_MESSAGES_PER_CALL, max_call_bytes=MAX_BYTES, max_event_bytes=MAX_BYTES)
MAX_ID = 128
ID_CHARS = re.compile(r"[!-~]{1,128}")  # printable ASCII, no space


def stable_id(value: str) -> str:
    if ID_CHARS.fullmatch(value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()


def size(event: SinkEvent) -> int:
    return len(event.payload)


def entries(events: Sequence[SinkEvent], fifo: bool) -> list[dict[str, Any]]:
    """SendMessageBatch's `Entries`, each `Id` its index in the call."""
    out: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        entry: dict[str, Any] = {"Id": str(index), "MessageBody": event.payload.decode()}
        if fifo:
            entry["MessageDeduplicationId"] = stable_id(event.event_id)
            entry["MessageGroupId"] = stable_id(event.order_key or event.account_sid)
        out.append(entry)
    return out


def failure(entry: Mapping[str, Any]) -> DeliveryError:
    code = str(entry.get("Code", ""))
    text = f"SQS did not take the message: {code}: {entry.get('Message', '')}".rstrip(": ")
    if code in THROTTLING:
        return Throttled(text)
    if entry.get("SenderFault"):
        return EntryRefused(text)
    return ServerError(text)


def outcomes(response: Mapping[str, Any], count: int) -> list[Outcome]:
    """One outcome per entry: SQS lists the successful and the failed entries by Id; an
    entry in neither list was not answered for, and is tried again."""
    taken = {str(e.get("Id")) for e in response.get("Successful") or []}
    failed = {str(e.get("Id")): e for e in response.get("Failed") or []}
    out: list[Outcome] = []
    for index in range(count):
        key = str(index)
        if key in taken:
            out.append(Outcome(status=200))
        elif key in failed:
            out.append(Outcome(error=failure(failed[key])))
        else:
            out.append(Outcome(error=ServerError(f"SendMessageBatch did not answer for entry {key}")))
    return out
