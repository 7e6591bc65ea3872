"""What becomes of a request its PublishStream left unanswered: written again at once on a
fresh stream the first time, to the retry policy after that; refused for good when the
stream's status says the request itself is refused; unary calls when the router has no
stream."""

from __future__ import annotations

import grpc
import pytest

from eventstreams_producer.publish_stream import Next, after_break

pytestmark = pytest.mark.unit

S = grpc.StatusCode


@pytest.mark.parametrize(
    ("code", "sends", "expected"),
    [
        (S.UNAVAILABLE, 1, Next.RESEND),  # a router replica gone, a connection cut
        (S.UNAVAILABLE, 2, Next.GIVE_UP),  # gone again on the fresh stream: back off
        (S.OK, 1, Next.RESEND),  # a draining router ended the stream
        (S.OK, 2, Next.GIVE_UP),
        (S.CANCELLED, 1, Next.RESEND),  # a stream given up on (no answer in time)
        (S.INTERNAL, 1, Next.RESEND),
        (S.DEADLINE_EXCEEDED, 1, Next.RESEND),
        (S.UNIMPLEMENTED, 1, Next.UNSUPPORTED),  # an older router
        (S.UNIMPLEMENTED, 2, Next.UNSUPPORTED),
        (S.UNAUTHENTICATED, 1, Next.REFUSED),
        (S.PERMISSION_DENIED, 1, Next.REFUSED),
        (S.INVALID_ARGUMENT, 1, Next.REFUSED),
        (S.RESOURCE_EXHAUSTED, 1, Next.REFUSED),
    ],
)
def test_after_a_break(code: grpc.StatusCode, sends: int, expected: Next) -> None:
    assert after_break(code, sends) is expected
