"""The workers' index over control's routing snapshot: each sink's configuration and the
auth token that signs its deliveries."""

from __future__ import annotations

import json

from eventstreams.v1 import control_pb2
from services.delivery.sinks.base import SinkTarget


class SinkDirectory:
    def __init__(self) -> None:
        self._targets: dict[str, SinkTarget] = {}
        self.revision = 0

    def load(self, snapshot: control_pb2.RoutingSnapshot) -> None:
        tokens = {a.sid: a.auth_token for a in snapshot.accounts}
        targets = {}
        for sink in snapshot.sinks:
            token = tokens.get(sink.account_sid)
            if token is None:
                continue
            targets[sink.sid] = SinkTarget(
                sid=sink.sid,
                account_sid=sink.account_sid,
                sink_type=sink.sink_type,
                config=json.loads(sink.configuration_json),
                auth_token=token,
            )
        self._targets = targets
        self.revision = snapshot.revision

    def target(self, sink_sid: str) -> SinkTarget | None:
        return self._targets.get(sink_sid)
