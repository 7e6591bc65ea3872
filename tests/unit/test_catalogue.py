"""Unit tests for the static Event Streams catalogue (services.catalog.catalogue)."""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable
from functools import cache
from typing import Any

import fastjsonschema
import pytest

from services.catalog import catalogue
from services.catalog.catalogue import (
    SCHEMA_BASE_URL,
    EventTypeSeed,
    SchemaVersionSeed,
    event_types,
    sample_data,
    schema_versions,
)

pytestmark = pytest.mark.unit

Validator = Callable[[Any], Any]

TYPES: list[EventTypeSeed] = event_types()
VERSIONS: list[SchemaVersionSeed] = schema_versions()
VERSION_IDS = [f"{v.schema_id}/v{v.version}" for v in VERSIONS]
DOCS: dict[tuple[str, int], dict[str, Any]] = {(v.schema_id, v.version): v.document for v in VERSIONS}

# Latest versions stated in shared/reference/twilio-event-types.md.
MD_LATEST = {
    "EventStreams.TestSink": 1,
    "Messaging.MessageStatus": 7,
    "Messaging.InboundMessageV1": 6,
    "Voice.WebhookEvent": 2,
    "VoiceInsights.CallSummary": 1,
    "VoiceInsights.CallEvent": 3,
    "TaskRouter.WDSEvent": 4,
    "Conversations.ConversationAdded": 2,
    "Conversations.MessageAdded": 2,
    "Conversations.MessageRemoved": 2,
    "AccountSecurity.VerifyEventStreamEvent": 3,
    "AccountSecurity.MessageStatusEvent": 1,
    "AccountSecurity.VerifyEventStreamDLREvent": 1,
    "ErrorLogs.Error": 2,
    "Studio.FlowExecutionEvent": 2,
    "TollFree.VerificationEdit": 2,
    "TollFree.VerificationExpired": 2,
}

# Type -> schema id pairs stated explicitly in the md.
MD_SCHEMA_OF = {
    "com.twilio.eventstreams.test-event": "EventStreams.TestSink",
    "com.twilio.messaging.message.delivered": "Messaging.MessageStatus",
    "com.twilio.messaging.inbound-message.received": "Messaging.InboundMessageV1",
    "com.twilio.voice.status-callback.amd.detected": "Voice.WebhookEvent",
    "com.twilio.voice.twiml.dial.finished": "Voice.WebhookEvent",
    "com.twilio.voice.insights.call-summary.complete": "VoiceInsights.CallSummary",
    "com.twilio.voice.insights.call-event.sdk": "VoiceInsights.CallEvent",
    "com.twilio.taskrouter.task.created": "TaskRouter.WDSEvent",
    "com.twilio.taskrouter.workflow.target-matched": "TaskRouter.WDSEvent",
    "com.twilio.conversations.conversation.added": "Conversations.ConversationAdded",
    "com.twilio.conversations.message.added": "Conversations.MessageAdded",
    "com.twilio.conversations.message.removed": "Conversations.MessageRemoved",
    "com.twilio.accountsecurity.verify.verification.approved": ("AccountSecurity.VerifyEventStreamEvent"),
    "com.twilio.accountsecurity.verify.message.delivered": ("AccountSecurity.MessageStatusEvent"),
    "com.twilio.accountsecurity.verify.attempt-dlr.sent": ("AccountSecurity.VerifyEventStreamDLREvent"),
    "com.twilio.error-logs.error.logged": "ErrorLogs.Error",
    "com.twilio.studio.flow.execution.started": "Studio.FlowExecutionEvent",
    "com.twilio.messaging.compliance.toll-free-verification.edit": ("TollFree.VerificationEdit"),
    "com.twilio.notify.notification.delivered": "Notify.PushNotificationDelivery",
}

DEPRECATED = {
    f"com.twilio.voice.webhook.status-callback.call.{s}"
    for s in ("initiated", "ringing", "answered", "completed")
}
RESTRICTED = {
    *(
        f"com.twilio.accountsecurity.verify.attempt-dlr.{s}"
        for s in ("delivered", "failed", "read", "sent", "undelivered")
    ),
    "com.twilio.engagement-intelligence.transcript.finished",
    "com.twilio.engagement-intelligence.operators.results-available",
}
DISCONTINUED = {
    "com.twilio.conversations.delivery.updated",
    *(
        f"com.twilio.iot.supersim.connection.{s}"
        for s in (
            "attachment.accepted",
            "attachment.failed",
            "attachment.rejected",
            "data-session.started",
            "data-session.updated",
            "data-session.ended",
            "data-session.failed",
        )
    ),
}


@cache
def validator(schema_id: str, version: int) -> Validator:
    compiled: Validator = fastjsonschema.compile(DOCS[(schema_id, version)])
    return compiled


def is_valid(schema_id: str, version: int, data: Any) -> bool:
    try:
        validator(schema_id, version)(data)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("seed", VERSIONS, ids=VERSION_IDS)
def test_every_document_compiles_and_is_well_formed(seed: SchemaVersionSeed) -> None:
    doc = seed.document
    validator(seed.schema_id, seed.version)
    assert doc["$schema"] == "http://json-schema.org/draft-07/schema#"
    suffix = ".json" if seed.schema_id == "EventStreams.TestSink" else ""
    assert doc["$id"] == f"{SCHEMA_BASE_URL}/{seed.schema_id}/{seed.version}{suffix}"
    assert doc["title"]
    assert doc["type"] == "object"
    assert doc["additionalProperties"] is False
    assert doc["properties"]
    assert set(doc["required"]) <= set(doc["properties"])


def test_no_duplicate_types_or_schema_versions() -> None:
    type_counts = Counter(t.type for t in TYPES)
    assert [t for t, n in type_counts.items() if n > 1] == []
    version_counts = Counter((v.schema_id, v.version) for v in VERSIONS)
    assert [k for k, n in version_counts.items() if n > 1] == []


def test_every_types_schema_has_contiguous_versions() -> None:
    versions: dict[str, list[int]] = {}
    for v in VERSIONS:
        versions.setdefault(v.schema_id, []).append(v.version)
    for t in TYPES:
        assert t.schema_id in versions, t.type
        got = sorted(versions[t.schema_id])
        assert got == list(range(1, len(got) + 1)), t.schema_id


def test_every_schema_is_used_by_some_type() -> None:
    assert {v.schema_id for v in VERSIONS} == {t.schema_id for t in TYPES}


def test_latest_versions_match_reference() -> None:
    for schema_id, latest in MD_LATEST.items():
        assert catalogue.latest_version(schema_id) == latest, schema_id
        assert max(v.version for v in VERSIONS if v.schema_id == schema_id) == latest


def test_type_to_schema_mapping_matches_reference() -> None:
    by_type = {t.type: t for t in TYPES}
    for type_name, schema_id in MD_SCHEMA_OF.items():
        assert by_type[type_name].schema_id == schema_id, type_name


def test_catalogue_size_and_exclusions() -> None:
    names = {t.type for t in TYPES}
    assert len(TYPES) >= 130
    assert "com.twilio.voice.twiml.requested" not in names
    assert all(re.fullmatch(r"com\.twilio\.[a-z0-9_.-]+", n) for n in names)


def test_categories_present() -> None:
    prefixes = {
        "Messaging": "com.twilio.messaging.message.",
        "Voice Insights": "com.twilio.voice.insights.",
        "Studio": "com.twilio.studio.",
        "TaskRouter": "com.twilio.taskrouter.",
        "Conversations": "com.twilio.conversations.",
        "Verify": "com.twilio.accountsecurity.verify.",
        "Error Logs": "com.twilio.error-logs.",
    }
    for category, prefix in prefixes.items():
        assert any(t.type.startswith(prefix) for t in TYPES), category


def test_statuses() -> None:
    allowed = {"available", "deprecated", "restricted", "discontinued"}
    by_type = {t.type: t for t in TYPES}
    assert {t.status for t in TYPES} <= allowed
    for name in DEPRECATED:
        assert by_type[name].status == "deprecated", name
    for name in RESTRICTED:
        assert by_type[name].status == "restricted", name
    for name in DISCONTINUED:
        assert by_type[name].status == "discontinued", name
    special = DEPRECATED | RESTRICTED | DISCONTINUED
    assert all(t.status == "available" for t in TYPES if t.type not in special)


def test_descriptions_and_documentation_urls() -> None:
    by_type = {t.type: t for t in TYPES}
    assert by_type["com.twilio.messaging.message.delivered"].description == ("Messaging- delivered message")
    assert by_type["com.twilio.messaging.message.delivered"].documentation_url == (
        "https://www.twilio.com/docs/events/event-types/messaging/outbound-message"
    )
    for t in TYPES:
        assert "- " in t.description, t.type
        assert t.documentation_url.startswith("https://www.twilio.com/docs/"), t.type


# --------------------------------------------------------------------------- test event


def test_test_event_schema_is_exact() -> None:
    (seed,) = [v for v in VERSIONS if v.schema_id == "EventStreams.TestSink"]
    assert seed.version == 1
    doc = seed.document
    assert doc["$id"] == "https://events-schemas.twilio.com/EventStreams.TestSink/1.json"
    assert doc["properties"] == {"test_id": {"type": "string", "format": "uuid"}}
    assert doc["required"] == ["test_id"]
    assert doc["additionalProperties"] is False
    (test_type,) = [t for t in TYPES if t.type == "com.twilio.eventstreams.test-event"]
    assert test_type.schema_id == "EventStreams.TestSink"
    assert catalogue.schema_url("EventStreams.TestSink", 1) == doc["$id"]
    # NB: under draft-07 fastjsonschema treats "uuid" as an unknown (annotation) format.
    assert is_valid("EventStreams.TestSink", 1, sample_data("EventStreams.TestSink", 1))
    assert not is_valid("EventStreams.TestSink", 1, {})
    assert not is_valid("EventStreams.TestSink", 1, {"test_id": 42})
    assert not is_valid("EventStreams.TestSink", 1, {"test_id": "x", "extra": 1})


# --------------------------------------------------------------------------- samples


@pytest.mark.parametrize("seed", VERSIONS, ids=VERSION_IDS)
def test_sample_validates_and_needs_required_fields(seed: SchemaVersionSeed) -> None:
    sample = sample_data(seed.schema_id, seed.version)
    assert sample
    assert is_valid(seed.schema_id, seed.version, sample)
    for field in seed.document["required"]:
        broken = copy.deepcopy(sample)
        del broken[field]
        assert not is_valid(seed.schema_id, seed.version, broken), field
    broken = {**sample, "definitelyNotAField": "x"}
    assert not is_valid(seed.schema_id, seed.version, broken)


def test_nested_required_fields_are_enforced() -> None:
    sample = sample_data("AccountSecurity.VerifyEventStreamEvent", 3)
    del sample["check_attempts"]["count"]
    assert not is_valid("AccountSecurity.VerifyEventStreamEvent", 3, sample)


def test_sample_values_are_realistic() -> None:
    status = sample_data("Messaging.MessageStatus", 7)
    assert re.fullmatch(r"SM[0-9a-f]{32}", status["messageSid"])
    assert re.fullmatch(r"AC[0-9a-f]{32}", status["accountSid"])
    assert re.fullmatch(r"\+[1-9][0-9]{7,14}", status["to"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", status["timestamp"])
    assert status["messageStatus"] in {
        "QUEUED",
        "FAILED",
        "SENT",
        "DELIVERED",
        "UNDELIVERED",
        "READ",
    }
    assert isinstance(sample_data("ErrorLogs.Error", 2)["payload"], str)


def test_sample_data_returns_fresh_copies() -> None:
    first = sample_data("TaskRouter.WDSEvent", 4)
    first["payload"]["task_age"] = -1
    assert sample_data("TaskRouter.WDSEvent", 4)["payload"]["task_age"] != -1


@pytest.mark.parametrize(
    ("schema_id", "version"),
    [
        ("Nope.Nothing", 1),
        ("Messaging.MessageStatus", 0),
        ("Messaging.MessageStatus", 8),
    ],
)
def test_sample_data_unknown_raises_key_error(schema_id: str, version: int) -> None:
    with pytest.raises(KeyError):
        sample_data(schema_id, version)


# --------------------------------------------------------------------------- projection


def test_taskrouter_v4_sample_is_rejected_by_v1_until_projected() -> None:
    sample = sample_data("TaskRouter.WDSEvent", 4)
    assert "worker_time_in_previous_activity_ms" in sample["payload"]
    v1 = DOCS[("TaskRouter.WDSEvent", 1)]
    assert v1["properties"]["payload"]["additionalProperties"] is False
    assert "worker_time_in_previous_activity_ms" not in v1["properties"]["payload"]["properties"]
    assert not is_valid("TaskRouter.WDSEvent", 1, sample)
    del sample["payload"]["worker_time_in_previous_activity_ms"]
    assert is_valid("TaskRouter.WDSEvent", 1, sample)
    assert sample == sample_data("TaskRouter.WDSEvent", 1)
    for version in (2, 3):
        assert is_valid("TaskRouter.WDSEvent", version, sample_data("TaskRouter.WDSEvent", 4))


def test_message_status_gains_tags_and_date_updated_in_v6() -> None:
    latest = sample_data("Messaging.MessageStatus", 7)
    assert {"tags", "dateUpdated"} <= set(latest)
    for version in range(1, 6):
        props = DOCS[("Messaging.MessageStatus", version)]["properties"]
        assert "tags" not in props and "dateUpdated" not in props
        assert not is_valid("Messaging.MessageStatus", version, latest)
    assert is_valid("Messaging.MessageStatus", 6, latest)
    projected = {k: v for k, v in latest.items() if k not in {"tags", "dateUpdated"}}
    assert is_valid("Messaging.MessageStatus", 5, projected)


def test_inbound_message_gains_ctwa_and_opt_out_in_v5() -> None:
    latest = sample_data("Messaging.InboundMessageV1", 6)
    new_fields = {"referralCtwaClid", "optOutType"}
    assert new_fields <= set(latest)
    for version in range(1, 5):
        assert not new_fields & set(DOCS[("Messaging.InboundMessageV1", version)]["properties"])
        assert not is_valid("Messaging.InboundMessageV1", version, latest)
    projected = {k: v for k, v in latest.items() if k not in new_fields}
    assert is_valid("Messaging.InboundMessageV1", 4, projected)
    assert is_valid("Messaging.InboundMessageV1", 5, latest)


def test_metadata_only_versions_share_fields() -> None:
    for schema_id in (
        "Voice.WebhookEvent",
        "Conversations.MessageAdded",
        "ErrorLogs.Error",
    ):
        v1 = DOCS[(schema_id, 1)]
        v2 = DOCS[(schema_id, 2)]
        assert v1["properties"] == v2["properties"]
        assert "metadata" in v2["$comment"]
