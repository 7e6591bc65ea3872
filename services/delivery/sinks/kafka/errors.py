"""aiokafka's failures, and the brokers', as delivery errors, in one place.

`KafkaRefused` (dead-lettered, recorded): a topic that does not exist, a topic or cluster the
user may not write to, a login refused, a record larger than the brokers take — every error
Kafka itself calls non-retriable. `KafkaUnavailable` (retried): no broker reachable, a
connection lost, a leader moving, too few in-sync replicas — the errors Kafka calls
retriable; `KafkaTimedOut` (91308, retried): a write not acknowledged in time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import aiokafka.errors as kafka

from services.delivery.errors import DeliveryError, Permanent, Retryable


class KafkaRefused(Permanent):
    code = 91305


class KafkaUnavailable(Retryable):
    code = 91307


class KafkaTimedOut(KafkaUnavailable):
    code = 91308


def from_exception(exc: BaseException, topic: str = "") -> DeliveryError:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, kafka.UnknownTopicOrPartitionError):
        # Kafka calls it retriable (a topic being made); a sink's topic is made by its owner.
        return KafkaRefused(f"the topic {topic} does not exist")
    if isinstance(
        exc, kafka.KafkaTimeoutError | kafka.RequestTimedOutError | asyncio.TimeoutError | TimeoutError
    ):
        return KafkaTimedOut(f"Kafka did not acknowledge in time ({text})")
    if isinstance(exc, kafka.KafkaError):
        if exc.retriable or isinstance(exc, kafka.KafkaConnectionError):
            return KafkaUnavailable(f"Kafka: {text}")
        return KafkaRefused(f"Kafka refused: {text}")
    return KafkaUnavailable(f"Kafka: {text}")


@contextlib.contextmanager
def mapped(topic: str = "") -> Iterator[None]:
    try:
        yield
    except DeliveryError:
        raise
    except (kafka.KafkaError, OSError, TimeoutError) as exc:
        raise from_exception(exc, topic) from exc
