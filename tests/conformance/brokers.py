"""What the NATS and RabbitMQ tier 2 harnesses share: faults aimed at this sink's next publish
through the session's TCP fault proxy by what only it carries — every sink the earlier tests
made keeps its connection through the same proxy, and their heartbeats and PONGs would
otherwise take a fault meant for "the next request"."""

from __future__ import annotations

from tests.conformance.harness import BehindProxy
from tests.support.broker_proxy import BrokerProxy


class AimedFaults(BehindProxy):
    proxy: BrokerProxy

    def marker(self) -> bytes:
        """What this sink's publish carries and no other sink's does (its subject, say)."""
        raise NotImplementedError

    async def remove_target(self) -> None:
        """The sink's target gone (the next publish is refused for good)…"""
        raise NotImplementedError

    async def restore_target(self) -> None:
        """…and back after that one publish."""
        raise NotImplementedError

    def inject(self, fault: str, count: int | None = None) -> None:
        publish = self.marker()
        if fault in ("throttle", "server"):
            self.proxy.cut_next_request(carrying=publish)
        elif fault == "timeout":
            self.proxy.stall()
        elif fault == "reject":
            self.proxy.around_next_request(self.remove_target, self.restore_target, carrying=publish)
        else:
            raise ValueError(fault)
