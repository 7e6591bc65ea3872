"""Field tables for every schema id (see ``_core`` for the key decorations).

Sources: ``shared/reference/twilio-event-types.md`` plus Twilio's per-type docs pages and
published schemas. Markers used in the comments:

* [md]       field set as listed in twilio-event-types.md
* [docs]     schema id / latest version / fields as shown on Twilio's docs pages
* [sibling]  schema id and version extrapolated from a documented sibling on the same page
* inferred   schema id invented in Twilio's naming style (latest version 1) and a small,
             plausible field set
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ._core import SchemaDef, anyobj, sid, strmap, uuid

ACCOUNT = sid("AC", "account")
PARENT_ACCOUNT = sid("AC", "parent")
CALL = sid("CA", "call")
SERVICE_MG = sid("MG", "service")
TS = "2026-03-29T04:00:56.753Z"
TS_LATER = "2026-03-29T04:12:31.209Z"
EPOCH_MS = 1774756856753
RFC2822 = "Sun, 29 Mar 2026 04:00:56 +0000"
OUR_NUMBER = "+12065550100"
THEIR_NUMBER = "+14155550123"

# --------------------------------------------------------------------------- test event

TEST_SINK: dict[str, Any] = {"test_id*": uuid("cae2f9e2-c277-4612-8ad3-93c1a7a3ef88")}

# --------------------------------------------------------------------------- messaging

# [md] MS7. Version history (our design, so projection between versions is meaningful):
#   v1-v4: core fields; v5 adds mnc, mcc, rawDlrDoneDate, numberOfSegments;
#   v6 adds tags and dateUpdated; v7 is a metadata-only change.
# NB: Twilio's published v4 already carries `tags`; this catalogue adds it in v6 on purpose.
MESSAGE_STATUS: dict[str, Any] = {
    "messageSid*": sid("SM", "outbound"),
    "timestamp*": TS,
    "accountSid*": ACCOUNT,
    "eventName*": "com.twilio.messaging.message.delivered",
    "apiVersion*": "2010-04-01",
    "from*": OUR_NUMBER,
    "to*": THEIR_NUMBER,
    "messageStatus*": "DELIVERED",  # QUEUED, FAILED, SENT, DELIVERED, UNDELIVERED, READ
    "messagingServiceSid": SERVICE_MG,
    "errorCode~": 30003,
    "body": "Your order #1042 has shipped and will arrive Tuesday.",
    "statusCallBackUrl": "https://example.com/twilio/message-status",
    "tags@6": strmap({"campaign": "spring-sale", "order_id": "1042"}),
    "mnc@5": "260",
    "mcc@5": "310",
    "rawDlrDoneDate@5": "2603290400",  # YYMMDDHHMM
    "numberOfSegments@5": 1,
    "dateUpdated@6": "2026-03-29T04:00:56.000Z",
}

# [md] IM6. referralCtwaClid and optOutType arrive in v5; v6 is metadata-only.
INBOUND_MESSAGE: dict[str, Any] = {
    "messageSid*": sid("SM", "inbound"),
    "timestamp*": TS,
    "accountSid*": ACCOUNT,
    "eventName*": "com.twilio.messaging.inbound-message.received",
    "from": THEIR_NUMBER,
    "to": OUR_NUMBER,
    "body": "STOP",
    "numMedia": 0,
    "numSegments": 1,
    "toCountry": "US",
    "toState": "WA",
    "toCity": "SEATTLE",
    "toZip": "98101",
    "fromCountry": "US",
    "fromState": "CA",
    "fromCity": "SAN FRANCISCO",
    "fromZip": "94105",
    "mnc": "260",
    "mcc": "310",
    "messagingServiceSid": SERVICE_MG,
    "referralCtwaClid@5": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7",
    "recipients": [OUR_NUMBER],
    "optOutType@5": "STOP",
}

# --------------------------------------------------------------------------- voice

# [md][docs] VW2 (v2 metadata-only). Dates inside are RFC 2822, as Twilio sends them.
_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thanks for calling.</Say></Response>'
VOICE_WEBHOOK: dict[str, Any] = {
    "sid*": CALL,
    "requestDateCreated": RFC2822,
    "timestamp": TS,
    "eventSid": sid("VW", "event"),
    "request": {
        "method*": "POST",
        "url*": "https://example.com/voice/status",
        "parameters": strmap(
            {
                "CallSid": CALL,
                "AccountSid": ACCOUNT,
                "From": THEIR_NUMBER,
                "To": OUR_NUMBER,
                "CallStatus": "ringing",
                "Direction": "inbound",
                "ApiVersion": "2010-04-01",
                "CallbackSource": "call-progress-events",
                "SequenceNumber": "1",
                "Timestamp": RFC2822,
            }
        ),
    },
    "response": {
        "responseCode": 200,
        "requestDuration": 140,  # ms
        "contentType": "application/xml;charset=UTF-8",
        "responseBody": base64.b64encode(_TWIML).decode(),
        "dateCreated": RFC2822,
    },
}

_EDGE_METADATA: dict[str, Any] = {
    "region": "us1",
    "twilio_ip": "54.172.60.1",
    "external_ip": "203.0.113.10",
    "edge_location": "ashburn",
}
_SDK_METADATA: dict[str, Any] = {
    "client_name": "acme-softphone",
    "location": {"lat": 47.6062, "lon": -122.3321},
    "city": "Seattle",
    "country_code": "US",
    "country_subdivision": "WA",
    "ip_address": "203.0.113.44",
    "sdk": {
        "type": "twilio-voice-js",
        "version": "2.11.0",
        "platform": "browser",
        "region": "us1",
        "selected_region": "gll",
        "browser": {"name": "Chrome", "major": "122", "version": "122.0.6261.94"},
    },
}

# [md][docs] VIE3 (docs examples show v2 and v3; metadata-only changes). Sample = gateway event.
CALL_EVENT: dict[str, Any] = {
    "timestamp": TS,
    "call_sid": CALL,
    "account_sid": ACCOUNT,
    "edge": "carrier_edge",
    "name": "call.connected",
    "group": "call",
    "level": "INFO",
    "carrier_edge": {"metadata": _EDGE_METADATA},
    "client_edge~": {"metadata": _EDGE_METADATA},
    "sip_edge~": {"metadata": _EDGE_METADATA},
    "sdk_edge~": {
        "error": {"code": 31600, "message": "Call failed due to network issues."},
        "feedback": {"score": 4, "reason": "audio-latency"},
        "metric": {"threshold": 0.5, "values": [0.1]},
        "ice_candidate_pair": {
            "local": {"type": "host", "protocol": "udp"},
            "remote": {"type": "relay", "protocol": "udp"},
        },
        "metadata": _SDK_METADATA,
    },
}

_STREAM_METRICS: dict[str, Any] = {
    "packets_received": 500,
    "packets_lost": 1,
    "packets_loss_percentage": 0.2,
    "jitter": {"avg": 0.41, "max": 2.3},
    "rtt": {"avg": 22.0, "max": 35.0},
    "mos": 4.38,
}
_METRICS_EDGE: dict[str, Any] = {
    "codec": 0,
    "codec_name": "pcmu",
    "cumulative": _STREAM_METRICS,
    "interval": _STREAM_METRICS,
    "metadata": _EDGE_METADATA,
}
# [docs] VoiceInsights.CallMetric v2 (schema id seen on events-schemas.twilio.com); the field
# set and the required list are inferred from the CallEvent edges + Call Metrics resource.
CALL_METRIC: dict[str, Any] = {
    "timestamp*": TS,
    "call_sid*": CALL,
    "account_sid*": ACCOUNT,
    "edge*": "carrier_edge",
    "direction": "both",
    "carrier_edge": _METRICS_EDGE,
    "sip_edge~": _METRICS_EDGE,
    "client_edge~": _METRICS_EDGE,
    "sdk_edge~": {**_METRICS_EDGE, "metadata": _SDK_METADATA},
}


def _party(number: str, own_key: str, other_key: str) -> dict[str, Any]:
    return {
        own_key: number,
        f"{other_key}~": number,
        "carrier": "AT&T Wireless",
        "connection": "mobile",
        "number_prefix": number[:5],
        "location": {"lat": 37.7749, "lon": -122.4194},
        "city": "San Francisco",
        "country_code": "US",
        "country_subdivision": "CA",
        "ip_address~": "203.0.113.44",
        "sdk~": anyobj({"type": "twilio-voice-ios", "version": "6.10.0"}),
    }


_CARRIER_EDGE_SUMMARY: dict[str, Any] = {
    "properties": {
        "media_region": "us1",
        "signaling_region": "us1",
        "edge_location": "ashburn",
    },
    "metrics": {
        "inbound": {
            "codec_name": "pcmu",
            "packets_received": 2941,
            "packets_lost": 0,
            "jitter": {"avg": 0.31, "max": 2.1},
        },
        "outbound": {
            "codec_name": "pcmu",
            "packets_sent": 2950,
            "jitter": {"avg": 0.28, "max": 1.9},
        },
    },
}

# [md] VICS1. `source` of these events is /v1/Voice/CA…/Summary.
CALL_SUMMARY: dict[str, Any] = {
    "call_sid": CALL,
    "account_sid": ACCOUNT,
    "parent_call_sid~": sid("CA", "parent"),
    "parent_account_sid~": PARENT_ACCOUNT,
    "start_time": "2026-03-29T03:58:01.000Z",
    "end_time": "2026-03-29T04:00:56.000Z",
    "duration": 175,
    "connect_duration": 168,
    "call_type": "carrier",
    "call_state": "completed",
    "from": _party(THEIR_NUMBER, "caller", "callee"),
    "to": _party(OUR_NUMBER, "callee", "caller"),
    "processing_state": "complete",  # partial | complete
    "processing_version": 3,
    "sip_edge~": _CARRIER_EDGE_SUMMARY,
    "carrier_edge": _CARRIER_EDGE_SUMMARY,
    "sdk_edge~": anyobj({"metrics": {"inbound": {"mos": {"avg": 4.3}}}}),
    "client_edge~": _CARRIER_EDGE_SUMMARY,
    "tags": ["silence"],
    "attributes": anyobj({"conference_participant": False}),
    "properties": {
        "q850_cause": 16,
        "last_sip_response_num": 200,
        "pdd_ms": 942,
        "route_id": "outbound-us1-ashburn",
        "media_region": "us1",
        "signaling_region": "us1",
        "twilio_media_ip": "54.172.60.10",
        "twilio_signaling_ip": "54.172.60.2",
        "external_media_ip": "203.0.113.20",
        "external_signaling_ip": "203.0.113.21",
        "sip_call_id": "c1b2d3e4f5a6@203.0.113.21",
        "user_agent": "Twilio Gateway",
        "selected_region": "us1",
        "region": "us1",
        "trunk_sid~": sid("TK", "trunk"),
        "disconnected_by": "callee",
        "direction": "outbound_api",
        "settings": anyobj({"enable_noise_reduction": False}),
    },
}

# [docs] VoiceInsights.ConferenceSummary v2 (fields from the docs example).
CONFERENCE_SUMMARY: dict[str, Any] = {
    "conference_sid": sid("CF", "conf"),
    "account_sid": ACCOUNT,
    "friendly_name": "Weekly Standup",
    "create_time": "2026-03-29T03:30:00.000Z",
    "start_time": "2026-03-29T03:30:05.000Z",
    "end_time": TS,
    "duration_seconds": 1856,
    "connect_duration_seconds": 1851,
    "status": "completed",
    "max_participants": 250,
    "max_concurrent_participants": 6,
    "unique_participants": 7,
    "end_reason": "last_participant_left",
    "ended_by": CALL,
    "recording_enabled": False,
    "tags": ["detected_silence"],
    "tag_info~": anyobj({"start_failure": {"reason": "Conference had no participants"}}),
    "mixer_region": "us1",
    "mixer_region_requested": "us1",
    "detected_issues": {
        "call_quality": 1,
        "region_configuration": 0,
        "participant_behavior": 0,
    },
    "processing_state": "complete",
}

_LEG_QUALITY: dict[str, Any] = {
    "jitter": {"avg": 0.5, "max": 2.8},
    "packet_loss_percentage": 0.1,
    "latency": {"avg": 41.0, "max": 77.0},
    "mos": 4.35,
}
# [docs] VoiceInsights.ConferenceParticipantSummary v2 (fields from the docs example).
CONFERENCE_PARTICIPANT_SUMMARY: dict[str, Any] = {
    "participant_sid": sid("CP", "participant"),
    "label": "customer",
    "conference_sid": sid("CF", "conf"),
    "call_sid": CALL,
    "account_sid": ACCOUNT,
    "call_direction": "inbound",
    "from": THEIR_NUMBER,
    "to": OUR_NUMBER,
    "call_state": "completed",
    "country_code": "US",
    "is_moderator": False,
    "join_time": "2026-03-29T03:30:05.000Z",
    "leave_time": TS,
    "duration_seconds": 1851,
    "whisper~": "You are being recorded",
    "agent_audio": False,
    "outbound_queue_length": 0,
    "outbound_time_in_queue": 0,
    "jitter_buffer_size": "medium",
    "is_coach": False,
    "coached_participants~": [sid("CP", "coached")],
    "participant_region": "us1",
    "conference_region": "us1",
    "call_type": "carrier",
    "quality_issues": 0,
    "processing_state": "complete",
    "properties": {
        "start_conference_on_enter": True,
        "end_conference_on_exit": False,
        "play_early_media": True,
        "recording_enabled": False,
        "trim_recording": False,
        "beep_on_exit": True,
    },
    "events~": {"mute": [1774755000], "hold": [1774755300]},
    "metrics": {"inbound": _LEG_QUALITY, "outbound": _LEG_QUALITY},
}

# --------------------------------------------------------------------------- taskrouter

# [md][docs] WDS4. `payload` is a closed object; worker_time_in_previous_activity_ms only
# exists from v2 on (Twilio: "Version 2 of the TaskRouter schema added ..._ms"), so a v1
# consumer must have it projected away. v3/v4 are metadata-only.
WDS_EVENT: dict[str, Any] = {
    "sid": sid("EV", "wds"),
    "name": "ReservationAccepted",
    "account_sid": ACCOUNT,
    "account_friendly_name": "Acme Support",
    "parent_account_sid": PARENT_ACCOUNT,
    "parent_friendly_name": "Acme Corp",
    "timestamp": TS,
    "level": "INFO",
    "group": "reservation",
    "product_name": "TaskRouter",
    "publisher": "Flex Task Assignment",
    "publisher_metadata": json.dumps({"workspace_sid": sid("WS", "ws")}),
    "payload_type": "application/json",
    "payload!": {
        "sid": sid("EV", "wds"),
        "eventtype": "reservation.accepted",
        "account_sid": ACCOUNT,
        "timestamp": TS,
        "workspace_sid": sid("WS", "ws"),
        "workspace_name": "Flex Task Assignment",
        "resource_type": "reservation",
        "resource_sid": sid("WR", "reservation"),
        "task_sid": sid("WT", "task"),
        "task_attributes": json.dumps({"from": THEIR_NUMBER, "channelType": "voice"}),
        "task_age": 42,
        "task_age_in_queue": 30,
        "task_date_created": "2026-03-29T03:59:54.000Z",
        "task_priority": 0,
        "task_assignment_status": "assigned",
        "task_completed_reason~": "Task completed",
        "task_canceled_reason~": "hangup",
        "reason~": "hangup",
        "task_timeout": 86400,
        "task_version": 3,
        "task_channel_sid": sid("TC", "voice"),
        "task_channel_unique_name": "voice",
        "task_queue_sid": sid("WQ", "queue"),
        "task_queue_name": "Everyone",
        "task_queue_entered_date": "2026-03-29T04:00:26.000Z",
        "task_queue_target_expression~": "1==1",
        "task_re_evaluated_reason~": "task_attributes_updated",
        "task_transfer_sid~": sid("TT", "transfer"),
        "workflow_sid": sid("WW", "workflow"),
        "workflow_name": "Assign to Anyone",
        "workflow_filter_name~": "Everyone",
        "reservation_sid": sid("WR", "reservation"),
        "reservation_timeout": 120,
        "reservation_version": 2,
        "worker_sid": sid("WK", "worker"),
        "worker_name": "alice",
        "worker_attributes": json.dumps({"skills": ["support"], "contact_uri": "client:alice"}),
        "worker_activity_sid": sid("WA", "available"),
        "worker_activity_name": "Available",
        "worker_previous_activity_sid": sid("WA", "offline"),
        "worker_previous_activity_name": "Offline",
        "worker_time_in_previous_activity": 1800,
        "worker_time_in_previous_activity_ms@2": 1800125,
        "worker_channel_available": True,
        "worker_channel_available_capacity": 0,
        "worker_channel_previous_capacity": 1,
        "worker_channel_task_count": 1,
        "worker_version": 7,
        "transfer_initiating_worker_sid~": sid("WK", "other-worker"),
        "transfer_mode~": "WARM",
        "transfer_type~": "QUEUE",
        "transfer_to~": sid("WQ", "queue"),
        "transfer_status~": "initiated",
        "transfer_failed_reason~": "Transfer timed out",
    },
}

# [docs] Twilio.RateLimitResults v2 (com.twilio.apiusage.taskrouter.ratelimits).
RATE_LIMIT_RESULTS: dict[str, Any] = {
    "account_sid*": ACCOUNT,
    "namespace*": sid("WS", "ws"),
    "resource_key*": "TaskQueueStatistics-List",
    "product*": "taskrouter",
    "is_default": True,
    "rate_limited": False,
    "current_rate*": 1.4,
    "rate_limit*": 50,
    "request_sid*": sid("RQ", "request"),
    "timestamp*": TS,
}

# --------------------------------------------------------------------------- conversations

# [md] CONV: PascalCase, one schema per event, v2 metadata-only. The md marks nothing as
# required, so neither do we. ConversationAdded/MessageAdded follow the md field lists; the
# other Conversations.* field sets are inferred from the Conversations webhook parameters.
_CONVERSATION = sid("CH", "conversation")
_CHAT_SERVICE = sid("IS", "chat-service")
_MEDIA: dict[str, Any] = {
    "MediaSid": sid("ME", "media"),
    "Filename": "receipt.jpg",
    "ContentType": "image/jpeg",
    "Size": 48213,
}
CONVERSATION_ADDED: dict[str, Any] = {
    "AccountSid": ACCOUNT,
    "FriendlyName": "Order 1042 support",
    "UniqueName": "order-1042",
    "State": "active",
    "ConversationSid": _CONVERSATION,
    "DateCreated": TS,
    "MessagingServiceSid": SERVICE_MG,
    "MessageBody": "Hi, where is my order?",
    "MessageSubject~": "Order 1042",
    "MessagingBinding": {
        "ProxyAddress": OUR_NUMBER,
        "ProjectedAddress~": OUR_NUMBER,
        "AuthorAddress": THEIR_NUMBER,
        "Address": THEIR_NUMBER,
    },
    "Bindings~": {"Email": {"ProjectedAddress": "support@example.com", "Name": "Acme Support"}},
    "AuthorFriendlyName~": "Sam Customer",
    "Attributes": "{}",
    "Media~": [_MEDIA],
}
_CONVERSATION_STATE: dict[str, Any] = {
    "AccountSid": ACCOUNT,
    "ChatServiceSid": _CHAT_SERVICE,
    "ConversationSid": _CONVERSATION,
    "MessagingServiceSid": SERVICE_MG,
    "FriendlyName": "Order 1042 support",
    "UniqueName": "order-1042",
    "Attributes": "{}",
    "State": "active",
    "DateCreated": TS,
    "DateUpdated": TS_LATER,
}
CONVERSATION_UPDATED = _CONVERSATION_STATE
CONVERSATION_REMOVED = {
    **_CONVERSATION_STATE,
    "State": "closed",
    "DateRemoved": TS_LATER,
}
CONVERSATION_STATE_UPDATED = {
    **_CONVERSATION_STATE,
    "StateFrom": "active",
    "StateTo": "inactive",
    "Reason": "TIMER",
}
MESSAGE_ADDED: dict[str, Any] = {
    "AccountSid": ACCOUNT,
    "Author": THEIR_NUMBER,
    "ParticipantSid": sid("MB", "participant"),
    "ConversationSid": _CONVERSATION,
    "MessageSid": sid("IM", "message"),
    "Index": 3,
    "MessageBody": "Here is my receipt",
    "DateCreated": TS,
    "MessageSubject~": "Receipt",
    "MessagingServiceSid": SERVICE_MG,
    "ContentSid~": sid("HX", "content"),
    "Attributes": "{}",
    "Media": [_MEDIA],
}
MESSAGE_UPDATED = {
    **MESSAGE_ADDED,
    "ChatServiceSid": _CHAT_SERVICE,
    "DateUpdated": TS_LATER,
}
MESSAGE_REMOVED = {
    **MESSAGE_ADDED,
    "ChatServiceSid": _CHAT_SERVICE,
    "DateRemoved": TS_LATER,
}
_PARTICIPANT: dict[str, Any] = {
    "AccountSid": ACCOUNT,
    "ChatServiceSid": _CHAT_SERVICE,
    "ConversationSid": _CONVERSATION,
    "ParticipantSid": sid("MB", "participant"),
    "Identity": "alice",
    "RoleSid": sid("RL", "participant-role"),
    "Attributes": "{}",
    "DateCreated": TS,
    "MessagingServiceSid~": SERVICE_MG,
    "MessagingBinding~": {
        "ProxyAddress": OUR_NUMBER,
        "ProjectedAddress": OUR_NUMBER,
        "Address": THEIR_NUMBER,
    },
    "Source": "API",
}
PARTICIPANT_ADDED = _PARTICIPANT
PARTICIPANT_UPDATED = {
    **_PARTICIPANT,
    "DateUpdated": TS_LATER,
    "LastReadMessageIndex": 3,
}
PARTICIPANT_REMOVED = {**_PARTICIPANT, "DateRemoved": TS_LATER}
_USER: dict[str, Any] = {
    "AccountSid": ACCOUNT,
    "ChatServiceSid": _CHAT_SERVICE,
    "UserSid": sid("US", "user"),
    "Identity": "alice",
    "FriendlyName": "Alice Agent",
    "RoleSid": sid("RL", "user-role"),
    "Attributes": "{}",
    "DateCreated": TS,
    "IsOnline~": True,
    "IsNotifiable~": False,
}
USER_ADDED = _USER
USER_UPDATED = {
    **_USER,
    "DateUpdated": TS_LATER,
    "IsOnline": True,
    "IsNotifiable": False,
}
# inferred (type is discontinued; "?" in the md).
DELIVERY_UPDATED: dict[str, Any] = {
    "AccountSid": ACCOUNT,
    "ChatServiceSid": _CHAT_SERVICE,
    "ConversationSid": _CONVERSATION,
    "MessageSid": sid("IM", "message"),
    "ParticipantSid": sid("MB", "participant"),
    "DeliveryReceiptSid": sid("DY", "receipt"),
    "ChannelMessageSid": sid("SM", "outbound"),
    "Status": "delivered",
    "ErrorCode~": 30003,
    "DateCreated": TS,
    "DateUpdated": TS_LATER,
}

# --------------------------------------------------------------------------- verify

# [md][docs] VER (docs example v2, v3 published; metadata-only). Only nested fields required.
VERIFY_EVENT: dict[str, Any] = {
    "account_sid": ACCOUNT,
    "service_sid": sid("VA", "verify"),
    "verification_sid": sid("VE", "verification"),
    "friendly_name": "Acme",
    "custom_code_enabled": False,
    "custom_friendly_name~": "Acme Login",
    "created_at": TS,
    "verified_at": TS_LATER,
    "expired_at~": TS_LATER,
    "to": THEIR_NUMBER,
    "verification_status": "APPROVED",
    "country": "US",
    "code_length": 6,
    "send_code_attempts": {
        "count*": 1,
        "attempts": [
            {
                "time": TS,
                "channel": "sms",
                "attempt_sid": sid("VL", "attempt"),
                "delivery_status": "delivered",
                "error_code~": 60200,
                "locale": "en",
            }
        ],
    },
    "check_attempts": {
        "count*": 1,
        "attempts": [{"time*": TS_LATER, "status*": "SUCCESS"}],
    },
}
# [md][docs] VMS v1; VDLR v1 is the same with dlr_status instead of message_status.
_VERIFY_MESSAGE: dict[str, Any] = {
    "created_at": TS,
    "account_sid": ACCOUNT,
    "service_sid": sid("VA", "verify"),
    "verification_sid": sid("VE", "verification"),
    "attempt_sid": sid("VL", "attempt"),
    "error_code~": 30008,
    "channel": "sms",
    "has_fallback": False,
    "is_fallback": False,
    "mnc": "260",
    "mcc": "310",
    "to": THEIR_NUMBER,
    "number_segments": 1,
}
VERIFY_MESSAGE_STATUS = {**_VERIFY_MESSAGE, "message_status": "delivered"}
VERIFY_DLR = {**_VERIFY_MESSAGE, "dlr_status": "delivered"}

# --------------------------------------------------------------------------- error logs

# [md][docs] ERR2. `payload` is a JSON *string*; error_code is a string too.
ERROR_LOG: dict[str, Any] = {
    "sid*": sid("NO", "error"),
    "account_sid*": ACCOUNT,
    "date_created": TS,
    "level": "ERROR",  # ERROR | WARNING | INFO
    "master_account_sid~": PARENT_ACCOUNT,
    "request_sid": sid("RQ", "request"),
    "service_sid~": SERVICE_MG,
    "correlation_sid": sid("SM", "outbound"),
    "product_name": "Programmable Messaging",
    "error_code": "30003",
    "payload": json.dumps(
        {
            "resource_sid": sid("SM", "outbound"),
            "service_sid": SERVICE_MG,
            "error_code": "30003",
            "more_info": {"msg": "Unreachable destination handset"},
        }
    ),
}

# --------------------------------------------------------------------------- studio

# [md][docs] STU2 (v2 metadata-only).
FLOW_EXECUTION: dict[str, Any] = {
    "execution_sid*": sid("FN", "execution"),
    "account_sid*": ACCOUNT,
    "flow_sid*": sid("FW", "flow"),
    "contact_channel_address*": THEIR_NUMBER,
    "status*": "ended",
    "ended_reason~": "FLOW_END",
    "date_created*": TS,
    "date_updated": TS_LATER,
    "started_by*": CALL,
    "flow_revision*": 12,
}
# inferred: Studio.FlowStepEvent v1, modelled on the Studio Step resource.
FLOW_STEP: dict[str, Any] = {
    "step_sid*": sid("FT", "step"),
    "execution_sid*": sid("FN", "execution"),
    "account_sid*": ACCOUNT,
    "flow_sid*": sid("FW", "flow"),
    "flow_revision": 12,
    "name*": "incomingMessage",
    "transitioned_from": "Trigger",
    "transitioned_to": "send_welcome",
    "context": anyobj({"trigger": {"message": {"Body": "hi"}}, "widgets": {}}),
    "date_created*": TS,
    "date_updated": TS_LATER,
}

# --------------------------------------------------------------------------- iam

# [docs] Iam.IPBlocked v2 (the .dryrun type is assumed to share it). timestamp = epoch ms
# as a string, as Twilio documents.
IP_BLOCKED: dict[str, Any] = {
    "timestamp*": str(EPOCH_MS),
    "account_sid*": ACCOUNT,
    "request_sid*": sid("RQ", "request"),
    "address*": "198.51.100.23",
    "action*": "POST",
    "resource": "/v1/Sinks",
    "authentication_method": "API Key",
    "auth_sid": sid("SK", "api-key"),
}

# --------------------------------------------------------------------------- a2p 10dlc

# [docs] A2P.* brand schemas share this lower-case field set (epoch-ms dates, no required).
_BRAND_SID = sid("BN", "brand")
_REG_ERROR: dict[str, Any] = {
    "registrationerrorcode": 30796,
    "registrationerrordescription": "The submitted stock symbol could not be verified.",
    "registrationerrorurl": "https://www.twilio.com/docs/api/errors/30796",
    "registrationerrorfields": ["stock_ticker", "stock_exchange"],
}


def _brand(status: str, identity: str, *, errors: bool = False) -> dict[str, Any]:
    omit = "" if errors else "~"
    return {
        "accountsid": ACCOUNT,
        "brandsid": _BRAND_SID,
        "brandstatus": status,
        "externalbrandid": "BZ3Y7QK",
        "brandscore": 82,
        "vettingscore~": 75,
        "identitystatus": identity,
        f"brandfeedback{omit}": "STOCK_SYMBOL",
        "brandvettingoutcome~": "approved",
        "createddate": EPOCH_MS,
        "updateddate": EPOCH_MS,
        f"brandregistrationerrors{omit}": [_REG_ERROR],
    }


BRAND_SHARING: dict[str, Any] = {"accountsid": ACCOUNT, "brandsid": _BRAND_SID}

# [docs] A2P.CampaignRegistrationApproved v2 example; siblings share it.
_CAMPAIGN: dict[str, Any] = {
    "accountsid": ACCOUNT,
    "brandsid": _BRAND_SID,
    "campaignsid": sid("CM", "campaign"),
    "messagingservicesid": SERVICE_MG,
    "externalcampaignid": "CX4RT2K",
    "a2pusecase": "MARKETING",
    "createddate": EPOCH_MS,
    "updateddate": EPOCH_MS,
    "campaignregistrationstatus": "approved",
    "timestamp": EPOCH_MS,
    "errorcode~": 30991,
}


def _campaign(status: str) -> dict[str, Any]:
    return {**_CAMPAIGN, "campaignregistrationstatus": status}


# [docs] A2P.NumberRegistrationFailed v2: messagingservicesid is [NEW] in v2.
def _number_registration(status: str, since: int = 2) -> dict[str, Any]:
    return {
        "id": sid("NO", "number-registration"),
        "phonenumber": OUR_NUMBER,
        "phonenumbersid": sid("PN", "number"),
        "accountsid": ACCOUNT,
        "campaignsid": sid("CM", "campaign"),
        f"messagingservicesid@{since}": SERVICE_MG,
        "externalstatus": status,
        "failurereason~": "Campaign is not in an active state",
        "timestamp": EPOCH_MS,
        "updateddate": EPOCH_MS,
    }


# inferred: A2P.ResourceCleanup{Started,Finished} v1.
def _cleanup(status: str) -> dict[str, Any]:
    return {
        "accountsid": ACCOUNT,
        "brandsid": _BRAND_SID,
        "campaignsid": sid("CM", "campaign"),
        "messagingservicesid": SERVICE_MG,
        "resourcetype": "campaign",
        "cleanupstatus": status,
        "cleanupreason": "brand_deleted",
        "timestamp": EPOCH_MS,
    }


# [md][docs] TF2 (one schema per action, v2 metadata-only).
def _toll_free(status: str) -> dict[str, Any]:
    return {
        "accountsid": ACCOUNT,
        "parentaccountsid": PARENT_ACCOUNT,
        "tollfreeverificationsid": sid("HH", "tfv"),
        "phonenumbersid": sid("PN", "tollfree"),
        "customerprofilesid": sid("BU", "customer-profile"),
        "regulateditemsid": sid("RA", "regulated-item"),
        "trustproductsid": sid("BU", "trust-product"),
        "processeddate": EPOCH_MS,
        "verificationstatus": status,
    }


# --------------------------------------------------------------------------- other products

# inferred: Notify.PushNotificationDelivery v1 (PascalCase like Notify delivery callbacks).
PUSH_DELIVERY: dict[str, Any] = {
    "AccountSid*": ACCOUNT,
    "ServiceSid*": sid("IS", "notify-service"),
    "NotificationSid*": sid("NT", "notification"),
    "Count": 1,
    "IsFinal": True,
    "Deliveries": [
        {
            "BindingSid": sid("BS", "binding"),
            "Identity": "user-00042",
            "BindingType": "apn",
            "Status": "SENT",
            "ErrorCode~": 52134,
        }
    ],
}

_ROOM = sid("RM", "room")
_VIDEO_PARTICIPANT = sid("PA", "participant")
# [docs] VideoInsights.RoomSummaryApi v2 (log-analyzer.room-summary shares it; inferred).
VIDEO_ROOM_SUMMARY: dict[str, Any] = {
    "room_sid": _ROOM,
    "room_name": "daily-standup",
    "room_type": "group",
    "account_sid": ACCOUNT,
    "create_time": "2026-03-29T03:45:00.000Z",
    "end_time": TS,
    "duration_sec": 956,
    "total_participant_duration_sec": 2710,
    "total_recording_duration_sec": 0,
    "status": "completed",
    "processing_state": "complete",
    "created_method": "sdk",
    "end_reason": "room_ended_via_api",
    "max_participants_allowed": 50,
    "participants": 3,
    "unique_participant_identities": 3,
    "max_concurrent_participants": 3,
    "codecs": ["VP8", "opus"],
    "media_region": "us1",
    "edge_location": "ashburn",
    "recording_enabled": False,
    "detected_issues~": {
        "details": [
            {
                "issue_type": "packet_loss",
                "severity": "high",
                "properties": {
                    "participant_sid": _VIDEO_PARTICIPANT,
                    "participant_identity": "alice",
                    "directions": ["outbound"],
                },
            }
        ]
    },
}
# [docs] VideoInsights.ParticipantSummaryApi v2 (log-analyzer.participant-summary shares it).
VIDEO_PARTICIPANT_SUMMARY: dict[str, Any] = {
    "participant_sid": _VIDEO_PARTICIPANT,
    "participant_identity": "alice",
    "room_sid": _ROOM,
    "account_sid": ACCOUNT,
    "join_time": "2026-03-29T03:45:10.000Z",
    "leave_time": TS,
    "duration_sec": 946,
    "status": "disconnected",
    "codecs": ["VP8", "opus"],
    "end_reason": "disconnected_via_api",
    "error_code~": 53405,
    "media_region": "us1",
    "edge_location": "ashburn",
    "publisher_info": {"name": "twilio-video.js", "version": "2.28.1"},
    "location": {
        "city": "Seattle",
        "country": "United States",
        "country_iso_code": "US",
        "subdivision": "WA",
        "geo": {"lat": 47.6062, "lon": -122.3321},
    },
    "device": {
        "architecture": "x86_64",
        "manufacturer": "Apple",
        "model": "MacBookPro18,3",
    },
    "browser": {"name": "Chrome", "version": "122.0.6261.94"},
}
_STATS: dict[str, Any] = {
    "count": 10,
    "percentage": 15.23,
    "avg": 5.12,
    "min": 1.23,
    "max": 9.26,
    "p25": 2.22,
    "p50": 5.01,
    "p75": 7.99,
    "p99": 9.2,
}
# [docs] VideoInsights.TrackSummaryApi v2.
VIDEO_TRACK_SUMMARY: dict[str, Any] = {
    "account_sid": ACCOUNT,
    "room_sid": _ROOM,
    "participant_sid": _VIDEO_PARTICIPANT,
    "track_sid": sid("MT", "track"),
    "track_type": "localVideoTrack",
    "direction": "outbound",
    "codec": "VP8",
    "start_time": "2026-03-29T03:45:12.000Z",
    "end_time": TS,
    "duration_secs": 944,
    "metrics": {
        "packets": _STATS,
        "packets_lost": _STATS,
        "bytes": _STATS,
        "bitrate_kbps": _STATS,
        "round_trip_time_ms": _STATS,
    },
}

# [docs] DapTbt.LinkClicked v3.
LINK_CLICKED: dict[str, Any] = {
    "message_sid": sid("SM", "outbound"),
    "account_sid": ACCOUNT,
    "messaging_service_sid": SERVICE_MG,
    "to": THEIR_NUMBER,
    "from": OUR_NUMBER,
    "link": "https://example.com/orders/1042?utm_source=sms",
    "shortened_link": "https://acme.link/k3J9x2QpLm",
    "link_create_time": TS,
    "click_time": TS_LATER,
    "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15",
}
# inferred: DapTbt.LinkShortened v1 (the docs list a v1 without fields).
LINK_SHORTENED: dict[str, Any] = {
    "message_sid": sid("SM", "outbound"),
    "account_sid": ACCOUNT,
    "messaging_service_sid": SERVICE_MG,
    "link": "https://example.com/orders/1042?utm_source=sms",
    "shortened_link": "https://acme.link/k3J9x2QpLm",
    "link_create_time": TS,
}

# [docs] Lookup.BulkEvent v2.
LOOKUP_BULK: dict[str, Any] = {
    "twilio_error_code~": 60608,
    "job_sid*": sid("JW", "job"),
    "friendly_name": "Premium accounts March 2026",
    "description": "Line type check for premium accounts",
    "created_at": TS,
    "completed_at": TS_LATER,
    "status": "COMPLETED",
    "thresholds": {"error": 10},
    "result": {
        "total_count": 100,
        "processed_count": 100,
        "success_count": 99,
        "error_count": 1,
        "file_url": "https://lookup-bulk.example.com/responses/JW0001.csv.gz",
        "details~": "1 record could not be processed.",
    },
}

# inferred: EngagementIntelligence.* v1 (restricted types; modelled on the Transcript resource).
_TRANSCRIPT_IDS: dict[str, Any] = {
    "account_sid*": ACCOUNT,
    "service_sid*": sid("GA", "intelligence-service"),
    "transcript_sid*": sid("GT", "transcript"),
}
TRANSCRIPT_EVENT: dict[str, Any] = {
    **_TRANSCRIPT_IDS,
    "status*": "completed",
    "source_sid": sid("RE", "recording"),
    "customer_key~": "order-1042",
    "language_code": "en-US",
    "duration": 175,
    "date_created": TS,
    "date_updated": TS_LATER,
}
OPERATOR_RESULTS_EVENT: dict[str, Any] = {
    **_TRANSCRIPT_IDS,
    "operator_sids": [sid("LY", "sentiment"), sid("LY", "pii")],
    "date_created": TS_LATER,
}

# [docs] Super SIM connection events: latest v2 with this field set; schema id inferred.
SUPERSIM_CONNECTION: dict[str, Any] = {
    "event_sid*": sid("EZ", "supersim"),
    "event_type*": "DataSessionStarted",
    "account_sid*": ACCOUNT,
    "sim_sid*": sid("HS", "sim"),
    "fleet_sid": sid("HF", "fleet"),
    "sim_iccid*": "8988307000001234567",
    "sim_unique_name": "tracker-0042",
    "timestamp*": TS,
    "network": {
        "mcc": "310",
        "mnc": "260",
        "sid": sid("HW", "network"),
        "friendly_name": "T-Mobile",
        "iso_country": "US",
    },
    "location~": {"cell_id": "123456", "lac": "7890", "lat": 47.6, "lon": -122.3},
    "imei": "356938035643809",
    "imsi": "310260000000042",
    "rat_type": "LTE",
    "apn": "super",
    "ip_address": "10.64.12.7",
    "data_session_sid": sid("QD", "session"),
    "data_session_start_time": TS,
    "data_session_end_time~": TS_LATER,
    "data_download~": 2048,
    "data_upload~": 512,
    "data_total~": 2560,
    "error~": {"code": 34411, "message": "Attachment rejected"},
}

# --------------------------------------------------------------------------- registry

_A2P_NOTE = "A2P 10DLC compliance event"

SCHEMAS: dict[str, SchemaDef] = {
    "EventStreams.TestSink": SchemaDef(1, "Event Streams test event", TEST_SINK, json_suffix=True),
    "Messaging.MessageStatus": SchemaDef(7, "MessageStatus event definition", MESSAGE_STATUS),
    "Messaging.InboundMessageV1": SchemaDef(6, "Inbound message received", INBOUND_MESSAGE),
    "Voice.WebhookEvent": SchemaDef(2, "Voice webhook / status callback event", VOICE_WEBHOOK),
    "VoiceInsights.CallSummary": SchemaDef(1, "Voice Insights call summary", CALL_SUMMARY),
    "VoiceInsights.CallEvent": SchemaDef(3, "Voice Insights call event", CALL_EVENT),
    "VoiceInsights.CallMetric": SchemaDef(2, "Voice Insights call metrics", CALL_METRIC),
    "VoiceInsights.ConferenceSummary": SchemaDef(2, "Voice Insights conference summary", CONFERENCE_SUMMARY),
    "VoiceInsights.ConferenceParticipantSummary": SchemaDef(
        2,
        "Voice Insights conference participant summary",
        CONFERENCE_PARTICIPANT_SUMMARY,
    ),
    "TaskRouter.WDSEvent": SchemaDef(4, "TaskRouter workspace event", WDS_EVENT),
    "Twilio.RateLimitResults": SchemaDef(2, "API rate limit result", RATE_LIMIT_RESULTS),
    "Conversations.ConversationAdded": SchemaDef(2, "Conversation added", CONVERSATION_ADDED),
    "Conversations.ConversationRemoved": SchemaDef(2, "Conversation removed", CONVERSATION_REMOVED),
    "Conversations.ConversationUpdated": SchemaDef(2, "Conversation updated", CONVERSATION_UPDATED),
    "Conversations.ConversationStateUpdated": SchemaDef(
        2, "Conversation state updated", CONVERSATION_STATE_UPDATED
    ),
    "Conversations.MessageAdded": SchemaDef(2, "Conversation message added", MESSAGE_ADDED),
    "Conversations.MessageRemoved": SchemaDef(2, "Conversation message removed", MESSAGE_REMOVED),
    "Conversations.MessageUpdated": SchemaDef(2, "Conversation message updated", MESSAGE_UPDATED),
    "Conversations.ParticipantAdded": SchemaDef(2, "Participant added", PARTICIPANT_ADDED),
    "Conversations.ParticipantRemoved": SchemaDef(2, "Participant removed", PARTICIPANT_REMOVED),
    "Conversations.ParticipantUpdated": SchemaDef(2, "Participant updated", PARTICIPANT_UPDATED),
    "Conversations.UserAdded": SchemaDef(2, "Conversations user added", USER_ADDED),
    "Conversations.UserUpdated": SchemaDef(2, "Conversations user updated", USER_UPDATED),
    "Conversations.DeliveryUpdated": SchemaDef(1, "Delivery receipt updated", DELIVERY_UPDATED),
    "AccountSecurity.VerifyEventStreamEvent": SchemaDef(3, "Verify verification status event", VERIFY_EVENT),
    "AccountSecurity.MessageStatusEvent": SchemaDef(1, "Verify message status event", VERIFY_MESSAGE_STATUS),
    "AccountSecurity.VerifyEventStreamDLREvent": SchemaDef(1, "Verify delivery receipt event", VERIFY_DLR),
    "ErrorLogs.Error": SchemaDef(2, "Debugger error log entry", ERROR_LOG),
    "Studio.FlowExecutionEvent": SchemaDef(2, "Studio flow execution event", FLOW_EXECUTION),
    "Studio.FlowStepEvent": SchemaDef(1, "Studio flow step event", FLOW_STEP),
    "Iam.IPBlocked": SchemaDef(2, "Request blocked by IP access control", IP_BLOCKED),
    # --- A2P brand registration [docs] / [sibling]
    "A2P.BrandRegistrationFailure": SchemaDef(
        3, _A2P_NOTE, _brand("registration_failed", "unverified", errors=True)
    ),
    "A2P.BrandRegistered": SchemaDef(2, _A2P_NOTE, _brand("registered", "self_declared")),
    "A2P.BrandRegisteredUnverified": SchemaDef(3, _A2P_NOTE, _brand("registered", "unverified", errors=True)),
    "A2P.BrandRegisteredVerified": SchemaDef(2, _A2P_NOTE, _brand("registered", "verified")),
    "A2P.BrandRegisteredVettedVerified": SchemaDef(2, _A2P_NOTE, _brand("registered", "vetted_verified")),
    "A2P.BrandRegistrationSecondaryVettingFailure": SchemaDef(
        2, _A2P_NOTE, _brand("registered", "verified", errors=True)
    ),
    "A2P.BrandRegistrationSharingCreated": SchemaDef(2, _A2P_NOTE, BRAND_SHARING),
    "A2P.BrandRegistrationSharingDeleted": SchemaDef(2, _A2P_NOTE, BRAND_SHARING),
    "A2P.BrandRegistrationInvalidContactEmail": SchemaDef(2, _A2P_NOTE, _brand("registered", "verified")),
    **{
        f"A2P.BrandRegistrationEmail2FA{action}": SchemaDef(
            2, _A2P_NOTE, _brand("registered", "self_declared")
        )
        for action in ("Clicked", "Completed", "Opened", "Sent", "Timeout")
    },
    # --- A2P campaigns / numbers / cleanup
    "A2P.CampaignRegistrationApproved": SchemaDef(2, _A2P_NOTE, _campaign("approved")),
    "A2P.CampaignRegistrationDeleted": SchemaDef(2, _A2P_NOTE, _campaign("deleted")),
    "A2P.CampaignRegistrationFailure": SchemaDef(2, _A2P_NOTE, _campaign("failed")),
    "A2P.CampaignRegistrationSubmitted": SchemaDef(2, _A2P_NOTE, _campaign("submitted")),
    "A2P.SuspendedCampaignRegistrationDeleteSubmitted": SchemaDef(
        1, _A2P_NOTE, _campaign("delete_submitted")
    ),
    "A2P.NumberRegistrationFailed": SchemaDef(2, _A2P_NOTE, _number_registration("FAILED")),
    "A2P.NumberRegistrationPending": SchemaDef(2, _A2P_NOTE, _number_registration("PENDING")),
    "A2P.NumberRegistrationSuccessful": SchemaDef(2, _A2P_NOTE, _number_registration("REGISTERED")),
    "A2P.NumberDeregistrationFailed": SchemaDef(1, _A2P_NOTE, _number_registration("FAILED", since=1)),
    "A2P.NumberDeregistrationPending": SchemaDef(1, _A2P_NOTE, _number_registration("PENDING", since=1)),
    "A2P.NumberDeregistrationSuccessful": SchemaDef(
        1, _A2P_NOTE, _number_registration("DEREGISTERED", since=1)
    ),
    "A2P.ResourceCleanupStarted": SchemaDef(1, _A2P_NOTE, _cleanup("started")),
    "A2P.ResourceCleanupFinished": SchemaDef(1, _A2P_NOTE, _cleanup("finished")),
    # --- toll-free verification [md]
    "TollFree.VerificationEdit": SchemaDef(2, "Toll-free verification", _toll_free("EDIT")),
    "TollFree.VerificationExpired": SchemaDef(2, "Toll-free verification", _toll_free("EXPIRED")),
    "TollFree.VerificationFailure": SchemaDef(2, "Toll-free verification", _toll_free("FAILED")),
    "TollFree.VerificationRequested": SchemaDef(2, "Toll-free verification", _toll_free("REQUESTED")),
    "TollFree.VerificationPendingReview": SchemaDef(
        2, "Toll-free verification", _toll_free("PENDING_REVIEW")
    ),
    "TollFree.VerificationRequestApproved": SchemaDef(
        2, "Toll-free verification", _toll_free("TWILIO_APPROVED")
    ),
    "TollFree.VerificationDeleted": SchemaDef(2, "Toll-free verification", _toll_free("DELETED")),
    "TollFree.VerificationRejected": SchemaDef(2, "Toll-free verification", _toll_free("TWILIO_REJECTED")),
    # --- other products
    "Notify.PushNotificationDelivery": SchemaDef(1, "Notify push delivery", PUSH_DELIVERY),
    "VideoInsights.RoomSummaryApi": SchemaDef(2, "Video room summary", VIDEO_ROOM_SUMMARY),
    "VideoInsights.ParticipantSummaryApi": SchemaDef(
        2, "Video participant summary", VIDEO_PARTICIPANT_SUMMARY
    ),
    "VideoInsights.TrackSummaryApi": SchemaDef(2, "Video track summary", VIDEO_TRACK_SUMMARY),
    "DapTbt.LinkClicked": SchemaDef(3, "Shortened link clicked", LINK_CLICKED),
    "DapTbt.LinkShortened": SchemaDef(1, "Link shortened", LINK_SHORTENED),
    "Lookup.BulkEvent": SchemaDef(2, "Lookup bulk job status", LOOKUP_BULK),
    "EngagementIntelligence.TranscriptEvent": SchemaDef(1, "Transcript finished", TRANSCRIPT_EVENT),
    "EngagementIntelligence.OperatorResultsEvent": SchemaDef(
        1, "Language operator results available", OPERATOR_RESULTS_EVENT
    ),
    "SuperSim.ConnectionEvent": SchemaDef(2, "Super SIM connection event", SUPERSIM_CONNECTION),
}
