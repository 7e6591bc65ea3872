"""Which failed publishes the router sends again (same Nats-Msg-Id), and how long it waits."""

from __future__ import annotations

import pytest
from nats.errors import ConnectionClosedError, OutboundBufferLimitError
from nats.js.errors import APIError, BadRequestError, NoStreamResponseError, ServiceUnavailableError

from services.router.acks import MessageTooLarge
from services.router.resend import MAX_PAUSE_SECONDS, pause_before, worth_resending

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("failure", "resend"),
    [
        (TimeoutError("no ack"), True),  # the leader died holding it, or an election
        (NoStreamResponseError(), True),  # nobody answered for the stream yet
        (OutboundBufferLimitError(), True),  # the connection is away, its buffer full
        (ServiceUnavailableError(code=503, err_code=10008, description="temporarily unavailable"), True),
        (ServiceUnavailableError(code=503, err_code=10077, description="maximum bytes exceeded"), False),
        (BadRequestError(code=400, err_code=10060, description="expected stream sequence"), False),
        (APIError(code=409, err_code=1, description="conflict"), False),
        (MessageTooLarge("too big"), False),
        (ConnectionClosedError(), False),
    ],
)
def test_which_failures_are_sent_again(failure: BaseException, resend: bool) -> None:
    assert worth_resending(failure) is resend


@pytest.mark.parametrize(("resend", "pause"), [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (50, 1.0)])
def test_pauses_double_up_to_a_cap(resend: int, pause: float) -> None:
    assert pause_before(resend) == pytest.approx(pause)
    assert pause_before(resend) <= MAX_PAUSE_SECONDS
