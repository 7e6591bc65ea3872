"""What control needs from other services, as small protocols it owns."""

from __future__ import annotations

from typing import Any, Protocol


class TypeResolver(Protocol):
    async def pin(self, type_name: str, schema_version: int) -> int:
        """The schema version to pin for a subscription to `type_name` (0: the latest).
        Raises InvalidArgument (91104) for an unknown, discontinued or restricted type or
        a version that does not exist."""
        ...

    async def document(self, type_name: str, schema_version: int) -> dict[str, Any]:
        """The JSON Schema of `type_name` at a pinned `schema_version`."""
        ...


class TestEventPublisher(Protocol):
    async def publish_test(self, account_sid: str, sink_sid: str, test_id: str) -> None:
        """Put a com.twilio.eventstreams.test-event for one sink on the delivery pipeline."""
        ...
