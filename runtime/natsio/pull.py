"""Pull requests to a JetStream consumer, and the statuses JetStream answers them with.

A pull request is a message to `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` whose reply
subject is the inbox the consumer's messages come to; with them come status messages (no
payload, a status line in the header block) that say what became of a request. (Consumers
with priority groups are made through `api.create_consumer`.)"""

from __future__ import annotations

import json
from enum import IntEnum

from nats.aio.client import Client
from nats.aio.msg import Msg

from runtime.natsio.api import PREFIX
from runtime.natsio.headers import DESCRIPTION, STATUS

# A pinned client's id (priority policy `pinned_client`): sent on each message delivered to
# the pinned client, and on its requests to say it is that client.
PIN_HEADER = "Nats-Pin-Id"


class PullStatus(IntEnum):
    """What a status message on a pull request's inbox says."""

    OTHER = 0  # a status none of these: nothing to do but ask again
    HEARTBEAT = 100  # an idle heartbeat, or flow control
    NO_MESSAGES = 404  # nothing to deliver (a no-wait request)
    EXPIRED = 408  # a request expired (JetStream serves requests in order: the oldest)
    RESET = 409  # leadership changed, the consumer was deleted, too many requests waiting…
    PIN_LOST = 423  # a pinned client's pin is no more: another client has the group


_BY_CODE = {str(int(status)): status for status in PullStatus if status}


def status_of(msg: Msg) -> PullStatus | None:
    """The status a message on a pull inbox carries; None for a message of the stream."""
    headers = msg.headers
    if not headers:
        return None
    code = headers.get(STATUS)
    if code is None:
        return None
    return _BY_CODE.get(code, PullStatus.OTHER)


def description(msg: Msg) -> str:
    """A status message's words (`Leadership Change`, `Consumer Deleted`, …)."""
    headers = msg.headers or {}
    return headers.get(DESCRIPTION) or headers.get(STATUS, "")


def pin_of(msg: Msg) -> str:
    """The pin a message was delivered under ("" when its consumer pins no client)."""
    return (msg.headers or {}).get(PIN_HEADER, "")


def next_subject(stream: str, consumer: str) -> str:
    """Where pull requests to a consumer go."""
    return f"{PREFIX}CONSUMER.MSG.NEXT.{stream}.{consumer}"


def request_body(batch: int, expires_seconds: float, group: str = "", pin: str = "") -> bytes:
    """A pull request for up to `batch` messages, expiring after `expires_seconds`; of a
    priority group, as the client pinned with `pin`, when given."""
    request: dict[str, object] = {"batch": batch, "expires": int(expires_seconds * 1e9)}
    if group:
        request["group"] = group
    if pin:
        request["id"] = pin
    return json.dumps(request).encode()


async def request(nc: Client, subject: str, inbox: str, body: bytes) -> None:
    """Send a pull request (`next_subject`, `request_body`); its messages come to `inbox`."""
    await nc.publish(subject, body, reply=inbox)
