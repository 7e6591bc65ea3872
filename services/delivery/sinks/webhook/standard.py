"""Standard Webhooks signatures (https://www.standardwebhooks.com/), for sinks configured with
`signing: standard-webhooks`: `webhook-signature: v1,<base64 HMAC-SHA256 of
"{webhook-id}.{webhook-timestamp}.{body}">` keyed with the sink's own `whsec_` secret.

The webhook-id is what a receiver deduplicates by, so it stays the same across retries: an
event's id for one event per call; for a batch, a digest of its events' ids in order — the
same batch retried keeps its id, and a batch made of other events (retries may group events
anew) never takes the id of one already seen."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

ID = "webhook-id"
TIMESTAMP = "webhook-timestamp"
SIGNATURE = "webhook-signature"


def message_id(event_ids: Sequence[str]) -> str:
    if len(event_ids) == 1:
        return event_ids[0]
    digest = hashlib.sha256("\n".join(event_ids).encode()).hexdigest()
    return f"batch_{digest[:32]}"


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")
