"""The event type catalogue (every row of twilio-event-types.md, shorthand expanded).

``com.twilio.voice.twiml.requested`` is deliberately absent: Twilio lists it in the docs but
the API answers "Type not found in the system".
"""

from __future__ import annotations

from ._core import TypeGroup

_TR = "TaskRouter.WDSEvent"
_VW = "Voice.WebhookEvent"
_CALL_STATUSES = ("call.initiated", "call.ringing", "call.answered", "call.completed")
_VERIFY_DELIVERY = ("delivered", "failed", "read", "sent", "undelivered")

GROUPS: tuple[TypeGroup, ...] = (
    # ------------------------------------------------------------------ event streams
    TypeGroup(
        "com.twilio.eventstreams",
        "Event Streams",
        "https://www.twilio.com/docs/events/webhook-quickstart",
        ("test-event",),
        "EventStreams.TestSink",
    ),
    # ------------------------------------------------------------------ messaging
    TypeGroup(
        "com.twilio.messaging.message",
        "Messaging",
        "messaging/outbound-message",
        ("queued", "sent", "delivered", "failed", "undelivered", "read"),
        "Messaging.MessageStatus",
        noun="message",
    ),
    TypeGroup(
        "com.twilio.messaging.inbound-message",
        "Messaging",
        "messaging/inbound-message",
        ("received",),
        "Messaging.InboundMessageV1",
        noun="inbound message",
    ),
    # ------------------------------------------------------------------ voice
    TypeGroup(
        "com.twilio.voice.status-callback",
        "Voice Status Callback",
        "voice/status-callback",
        (
            *_CALL_STATUSES,
            "amd.detected",
            "announcement.processed",
            "conference.participant.updated",
            "conference.updated",
            "gather.partial.captured",
            "recording.processed",
            "stream.updated",
            "transcription.processed",
        ),
        _VW,
    ),
    TypeGroup(
        "com.twilio.voice.webhook.status-callback",
        "Voice Status Callback",
        "voice/status-callback",
        _CALL_STATUSES,
        _VW,
        status="deprecated",
    ),
    TypeGroup(
        "com.twilio.voice.api-request",
        "Voice API Request",
        "voice/call-api-request",
        ("call.created", "call.modified"),
        _VW,
    ),
    TypeGroup(
        "com.twilio.voice.api-request",
        "Voice API Request",
        "voice/conference-api-request",
        ("conference.modified",),
        _VW,
    ),
    TypeGroup(
        "com.twilio.voice.api-request",
        "Voice API Request",
        "voice/conference-participant-api-request",
        (
            "conference-participant.created",
            "conference-participant.deleted",
            "conference-participant.modified",
        ),
        _VW,
    ),
    TypeGroup(
        "com.twilio.voice.twiml",
        "Voice TwiML",
        "voice/twiml",
        (
            "call.redirected",
            "call.transferred",
            "dial.finished",
            "enqueue.finished",
            "gather.finished",
            "record.finished",
            "request.failed",
        ),
        _VW,
    ),
    TypeGroup(
        "com.twilio.voice.media",
        "Voice Media",
        "voice/media",
        ("fetched",),
        _VW,
        noun="media",
    ),
    # ------------------------------------------------------------------ voice insights
    TypeGroup(
        "com.twilio.voice.insights",
        "Voice Insights",
        "voice-insights/call-summary",
        (
            "call-summary.partial",
            "call-summary.predicted-complete",
            "call-summary.complete",
        ),
        "VoiceInsights.CallSummary",
    ),
    TypeGroup(
        "com.twilio.voice.insights",
        "Voice Insights",
        "voice-insights/call-event",
        ("call-event.gateway", "call-event.sdk"),
        "VoiceInsights.CallEvent",
    ),
    TypeGroup(
        "com.twilio.voice.insights",
        "Voice Insights",
        "voice-insights/call-metrics",
        ("call-metrics.gateway", "call-metrics.sdk"),
        "VoiceInsights.CallMetric",
    ),
    TypeGroup(
        "com.twilio.voice.insights",
        "Conference Insights",
        "conference-insights/conference-summary",
        ("conference-summary.complete", "conference-summary.partial"),
        "VoiceInsights.ConferenceSummary",
    ),
    TypeGroup(
        "com.twilio.voice.insights",
        "Conference Insights",
        "conference-insights/conference-participant-summary",
        ("conference-participant-summary.complete",),
        "VoiceInsights.ConferenceParticipantSummary",
    ),
    # ------------------------------------------------------------------ taskrouter
    TypeGroup(
        "com.twilio.taskrouter.task",
        "TaskRouter",
        "taskrouter/task",
        (
            "created",
            "updated",
            "canceled",
            "completed",
            "deleted",
            "system-deleted",
            "wrapup",
            "transfer-initiated",
            "transfer-completed",
            "transfer-failed",
            "transfer-canceled",
            "transfer-attempt-failed",
        ),
        _TR,
        noun="task",
    ),
    TypeGroup(
        "com.twilio.taskrouter.reservation",
        "TaskRouter",
        "taskrouter/reservation",
        (
            "created",
            "accepted",
            "rejected",
            "timeout",
            "canceled",
            "rescinded",
            "completed",
            "failed",
            "wrapup",
        ),
        _TR,
        noun="reservation",
    ),
    TypeGroup(
        "com.twilio.taskrouter.worker",
        "TaskRouter",
        "taskrouter/worker",
        (
            "created",
            "deleted",
            "activity.update",
            "attributes.update",
            "capacity.update",
            "channel.availability.update",
        ),
        _TR,
        noun="worker",
    ),
    TypeGroup(
        "com.twilio.taskrouter.task-queue",
        "TaskRouter",
        "taskrouter/task-queue",
        ("created", "deleted", "entered", "moved", "timeout", "expression-updated"),
        _TR,
        noun="task queue",
    ),
    TypeGroup(
        "com.twilio.taskrouter.workflow",
        "TaskRouter",
        "taskrouter/workflow",
        ("entered", "rejected", "skipped", "target-matched", "timeout"),
        _TR,
        noun="workflow",
    ),
    TypeGroup(
        "com.twilio.apiusage.taskrouter",
        "TaskRouter API Usage",
        "taskrouter/ratelimit",
        ("ratelimits",),
        "Twilio.RateLimitResults",
    ),
    # ------------------------------------------------------------------ conversations
    TypeGroup(
        "com.twilio.conversations",
        "Conversations",
        "conversations/conversation",
        (
            ("conversation.added", "Conversations.ConversationAdded"),
            ("conversation.removed", "Conversations.ConversationRemoved"),
            ("conversation.updated", "Conversations.ConversationUpdated"),
            ("conversation-state.updated", "Conversations.ConversationStateUpdated"),
        ),
    ),
    TypeGroup(
        "com.twilio.conversations",
        "Conversations",
        "conversations/message",
        (
            ("message.added", "Conversations.MessageAdded"),
            ("message.removed", "Conversations.MessageRemoved"),
            ("message.updated", "Conversations.MessageUpdated"),
        ),
    ),
    TypeGroup(
        "com.twilio.conversations",
        "Conversations",
        "conversations/participant",
        (
            ("participant.added", "Conversations.ParticipantAdded"),
            ("participant.removed", "Conversations.ParticipantRemoved"),
            ("participant.updated", "Conversations.ParticipantUpdated"),
        ),
    ),
    TypeGroup(
        "com.twilio.conversations",
        "Conversations",
        "conversations/user",
        (
            ("user.added", "Conversations.UserAdded"),
            ("user.updated", "Conversations.UserUpdated"),
        ),
    ),
    TypeGroup(
        "com.twilio.conversations",
        "Conversations",
        "conversations/delivery",
        ("delivery.updated",),
        "Conversations.DeliveryUpdated",
        status="discontinued",
    ),
    # ------------------------------------------------------------------ verify
    TypeGroup(
        "com.twilio.accountsecurity.verify.verification",
        "Verify",
        "verify/verification-status",
        ("approved", "canceled", "expired", "max_attempts_reached", "pending"),
        "AccountSecurity.VerifyEventStreamEvent",
        noun="verification",
    ),
    TypeGroup(
        "com.twilio.accountsecurity.verify.message",
        "Verify",
        "verify/message-status",
        _VERIFY_DELIVERY,
        "AccountSecurity.MessageStatusEvent",
        noun="message",
    ),
    TypeGroup(
        "com.twilio.accountsecurity.verify.attempt-dlr",
        "Verify",
        "verify/message-status",
        _VERIFY_DELIVERY,
        "AccountSecurity.VerifyEventStreamDLREvent",
        status="restricted",
        noun="attempt DLR",
    ),
    # ------------------------------------------------------------------ error logs / studio
    TypeGroup(
        "com.twilio.error-logs",
        "Error Logs",
        "errors/error-logs",
        ("error.logged",),
        "ErrorLogs.Error",
    ),
    TypeGroup(
        "com.twilio.studio.flow",
        "Studio",
        "studio/flow",
        ("execution.started", "execution.ended"),
        "Studio.FlowExecutionEvent",
    ),
    TypeGroup(
        "com.twilio.studio.flow",
        "Studio",
        "studio/flow",
        ("step.ended",),
        "Studio.FlowStepEvent",
    ),
    # ------------------------------------------------------------------ iam
    TypeGroup(
        "com.twilio.iam",
        "IAM",
        "iam/ip",
        ("ip.blocked", "ip.blocked.dryrun"),
        "Iam.IPBlocked",
    ),
    # ------------------------------------------------------------------ a2p 10dlc
    TypeGroup(
        "com.twilio.messaging.compliance.brand-registration",
        "A2P Brand Registration",
        "a2p/brand-registration",
        (
            ("brand-failure", "A2P.BrandRegistrationFailure"),
            ("brand-registered", "A2P.BrandRegistered"),
            ("brand-unverified", "A2P.BrandRegisteredUnverified"),
            ("brand-verified", "A2P.BrandRegisteredVerified"),
            ("brand-vetted-verified", "A2P.BrandRegisteredVettedVerified"),
            (
                "brand-secondary-vetting-failure",
                "A2P.BrandRegistrationSecondaryVettingFailure",
            ),
        ),
    ),
    TypeGroup(
        "com.twilio.messaging.compliance.brand-registration",
        "A2P Brand Registration",
        "a2p/brand-registration-sharing",
        (
            ("sharing-created", "A2P.BrandRegistrationSharingCreated"),
            ("sharing-deleted", "A2P.BrandRegistrationSharingDeleted"),
        ),
    ),
    TypeGroup(
        "com.twilio.messaging.compliance.brand-registration",
        "A2P Brand Registration",
        "a2p/brand-registration-contact-email",
        (("invalid-contact-email", "A2P.BrandRegistrationInvalidContactEmail"),),
    ),
    TypeGroup(
        "com.twilio.messaging.compliance.brand-registration",
        "A2P Brand Registration",
        "a2p/brand-registration-2fa-email",
        tuple(
            (f"email-2fa-{action.lower()}", f"A2P.BrandRegistrationEmail2FA{action}")
            for action in ("Clicked", "Completed", "Opened", "Sent", "Timeout")
        ),
    ),
    TypeGroup(
        "com.twilio.messaging.compliance.campaign-registration",
        "A2P Campaign Registration",
        "a2p/campaign-registration",
        (
            ("campaign-approved", "A2P.CampaignRegistrationApproved"),
            ("campaign-deleted", "A2P.CampaignRegistrationDeleted"),
            ("campaign-failure", "A2P.CampaignRegistrationFailure"),
            ("campaign-submitted", "A2P.CampaignRegistrationSubmitted"),
        ),
    ),
    TypeGroup(
        "com.twilio.messaging.compliance.campaign-registration",
        "A2P Campaign Registration",
        "a2p/suspended-campaign-registration",
        (
            (
                "suspended-campaign-delete-submitted",
                "A2P.SuspendedCampaignRegistrationDeleteSubmitted",
            ),
        ),
    ),
    TypeGroup(
        "com.twilio.messaging.compliance.number-registration",
        "A2P Number Registration",
        "a2p/number-registration",
        (
            ("failed", "A2P.NumberRegistrationFailed"),
            ("pending", "A2P.NumberRegistrationPending"),
            ("successful", "A2P.NumberRegistrationSuccessful"),
        ),
        noun="number registration",
    ),
    TypeGroup(
        "com.twilio.messaging.compliance.number-deregistration",
        "A2P Number Deregistration",
        "a2p/number-deregistration",
        (
            ("failed", "A2P.NumberDeregistrationFailed"),
            ("pending", "A2P.NumberDeregistrationPending"),
            ("successful", "A2P.NumberDeregistrationSuccessful"),
        ),
        noun="number deregistration",
    ),
    TypeGroup(
        "com.twilio.messaging.compliance",
        "A2P Resource Cleanup",
        "a2p/resource-cleanup",
        (
            ("a2p-resource-cleanup-started", "A2P.ResourceCleanupStarted"),
            ("a2p-resource-cleanup-finished", "A2P.ResourceCleanupFinished"),
        ),
    ),
    # ------------------------------------------------------------------ toll-free
    TypeGroup(
        "com.twilio.messaging.compliance.toll-free-verification",
        "Toll-Free Verification",
        "toll-free/verification",
        (
            ("edit", "TollFree.VerificationEdit"),
            ("expired", "TollFree.VerificationExpired"),
            ("failure", "TollFree.VerificationFailure"),
            ("requested", "TollFree.VerificationRequested"),
            ("pending-review", "TollFree.VerificationPendingReview"),
            ("request-approved", "TollFree.VerificationRequestApproved"),
            ("deleted", "TollFree.VerificationDeleted"),
            ("rejected", "TollFree.VerificationRejected"),
        ),
        noun="toll-free verification",
    ),
    # ------------------------------------------------------------------ other products
    TypeGroup(
        "com.twilio.notify.notification",
        "Notify",
        "notify/notification",
        ("delivered",),
        "Notify.PushNotificationDelivery",
        noun="notification",
    ),
    TypeGroup(
        "com.twilio.video.insights",
        "Video Insights",
        "video-insights/video-room-summary",
        (
            ("room-summary.complete", "VideoInsights.RoomSummaryApi"),
            ("log-analyzer.room-summary", "VideoInsights.RoomSummaryApi"),
        ),
    ),
    TypeGroup(
        "com.twilio.video.insights",
        "Video Insights",
        "video-insights/video-participant-summary",
        (
            ("participant-summary.complete", "VideoInsights.ParticipantSummaryApi"),
            ("log-analyzer.participant-summary", "VideoInsights.ParticipantSummaryApi"),
        ),
    ),
    TypeGroup(
        "com.twilio.video.insights",
        "Video Insights",
        "video-insights/video-track-summary",
        ("track-summary.complete",),
        "VideoInsights.TrackSummaryApi",
    ),
    TypeGroup(
        "com.twilio.daptbt.link-shortening",
        "Link Shortening",
        "link-shortening/link",
        (
            ("link-clicked", "DapTbt.LinkClicked"),
            ("link-shortened", "DapTbt.LinkShortened"),
        ),
    ),
    TypeGroup(
        "com.twilio.lookup.bulk",
        "Lookup",
        "lookup/bulk",
        ("job-status-changed",),
        "Lookup.BulkEvent",
        noun="bulk lookup",
    ),
    TypeGroup(
        "com.twilio.engagement-intelligence",
        "Engagement Intelligence",
        "engagement-intelligence/transcript",
        (
            ("transcript.finished", "EngagementIntelligence.TranscriptEvent"),
            (
                "operators.results-available",
                "EngagementIntelligence.OperatorResultsEvent",
            ),
        ),
        status="restricted",
    ),
    TypeGroup(
        "com.twilio.iot.supersim.connection",
        "Super SIM",
        "internet-of-things/super-sim",
        (
            "attachment.accepted",
            "attachment.failed",
            "attachment.rejected",
            "data-session.started",
            "data-session.updated",
            "data-session.ended",
            "data-session.failed",
        ),
        "SuperSim.ConnectionEvent",
        status="discontinued",
    ),
)
