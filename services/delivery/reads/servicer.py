"""The Delivery gRPC service: the delivery log, dead letters and their redrive, replays."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
from nats.js import JetStreamContext

from eventstreams.v1 import delivery_pb2, delivery_pb2_grpc
from runtime import sids
from runtime.errors import InvalidArgument, NotFound, Unavailable
from runtime.jetstream import StreamSpec
from runtime.routing import RoutingWatcher
from runtime.routing_demand import AccountReach, EveryAccountHeld
from runtime.sids import AccountSid, SinkSid
from runtime.times import iso, iso_seconds, utcnow
from services.delivery.directory import SinkDirectory
from services.delivery.models import AttemptRow, DeadLetterRow, ReplayRow
from services.delivery.reads import alerts, replay
from services.delivery.reads.health import percentile
from services.delivery.reads.log_filter import log_filter
from services.delivery.reads.records import REDRIVE_PAGE, Detail, Records

Ctx = grpc.aio.ServicerContext[Any, Any]


def day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"{name} must be a date, YYYY-MM-DD: {text!r}") from None


def attempt_message(row: AttemptRow) -> delivery_pb2.DeliveryAttempt:
    return delivery_pb2.DeliveryAttempt(
        id=row.id,
        account_sid=row.account_sid,
        sink_sid=row.sink_sid,
        event_id=row.event_id,
        type=row.type,
        attempt=row.attempt,
        outcome=row.outcome,
        status_code=row.status_code or 0,
        latency_ms=row.latency_ms,
        error_code=row.error_code or 0,
        error=row.error or "",
        date_created=iso(row.date_created),
        triggered_by=row.triggered_by or "",
    )


RESEND = "RS"


def attempt_detail_message(row: AttemptRow, detail: Detail) -> delivery_pb2.DeliveryAttempt:
    message = attempt_message(row)
    if detail.request is not None:
        message.request_json = json.dumps(detail.request)
    if detail.response is not None:
        message.response_json = json.dumps(detail.response)
    message.result = detail.result or ""
    return message


def alert_message(row: AttemptRow) -> delivery_pb2.Alert:
    return delivery_pb2.Alert(
        sid=alerts.alert_sid(row.id, row.date_created),
        account_sid=row.account_sid,
        sink_sid=row.sink_sid,
        error_code=row.error_code or 0,
        log_level=alerts.level_of(row.error_code) or "",
        error=row.error or "",
        status_code=row.status_code or 0,
        event_id=row.event_id,
        type=row.type,
        attempt=row.attempt,
        outcome=row.outcome,
        date_created=iso_seconds(row.date_created),
    )


def dead_letter_message(row: DeadLetterRow) -> delivery_pb2.DeadLetter:
    return delivery_pb2.DeadLetter(
        sid=row.sid,
        account_sid=row.account_sid,
        sink_sid=row.sink_sid,
        event_id=row.event_id,
        type=row.type,
        attempts=row.attempts,
        reason=row.reason,
        error_code=row.error_code,
        status_code=row.status_code or 0,
        date_created=iso_seconds(row.date_created),
        date_redriven=iso_seconds(row.date_redriven) if row.date_redriven else "",
        event_json=row.payload,
    )


def replay_message(row: ReplayRow, archive_starts_at: datetime | None = None) -> delivery_pb2.Replay:
    return delivery_pb2.Replay(
        sid=row.sid,
        account_sid=row.account_sid,
        sink_sid=row.sink_sid,
        start_time=iso(row.start_time),
        end_time=iso(row.end_time),
        status=row.status,
        events_replayed=row.events_replayed,
        events_remaining=row.events_remaining or 0 if row.status in replay.LIVE else 0,
        error=row.error or "",
        date_created=iso_seconds(row.date_created),
        date_updated=iso_seconds(row.date_updated),
        archive_starts_at=iso(archive_starts_at) if archive_starts_at else "",
    )


def parse_time(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidArgument(f"{name} must be an ISO 8601 time, e.g. 2026-11-27T10:00:00Z") from exc
    if moment.tzinfo is None:
        raise InvalidArgument(f"{name} must carry a time zone (e.g. a trailing Z)")
    return moment


class DeliveryServicer(delivery_pb2_grpc.DeliveryServicer):
    def __init__(
        self,
        records: Records,
        directory: SinkDirectory,
        watcher: RoutingWatcher,
        js: JetStreamContext,
        spec: StreamSpec,
        archive: replay.ArchiveReach | None = None,
        accounts: AccountReach | None = None,
    ) -> None:
        self._accounts: AccountReach = accounts or EveryAccountHeld()
        self._records = records
        self._directory = directory
        self._watcher = watcher
        self._js = js
        self._spec = spec
        self._archive = archive
        self._retention = timedelta(seconds=spec.max_age_seconds)

    async def _own_sink(self, account_sid: str, sink_sid: str) -> None:
        if not await self._accounts.ensure([account_sid]):
            raise Unavailable("the sink's routing could not be read; try again")
        deadline = asyncio.get_running_loop().time() + 1.0
        await self._watcher.wait_for(lambda: self._directory.route(sink_sid) is not None, deadline)
        route = self._directory.route(sink_sid)
        if route is None or route.account_sid != account_sid:
            raise NotFound(f"The requested resource /Sinks/{sink_sid} was not found", twilio_code=20404)

    async def GetSinkHealth(
        self, request: delivery_pb2.SinkHealthRequest, context: Ctx
    ) -> delivery_pb2.SinkHealth:
        found = await self._records.health(request.account_sid, request.sink_sid)
        merged, error = found.merged, found.last_error
        return delivery_pb2.SinkHealth(
            sink_sid=request.sink_sid,
            state=found.state,
            throttle_cap=merged.throttle_cap or 0.0,
            failing_since=iso(merged.failing_since) if merged.failing_since else "",
            queued=merged.queued,
            workers=merged.workers,
            last_error_code=error.error_code or 0 if error else 0,
            last_error=error.error or "" if error else "",
            last_error_status_code=error.status_code or 0 if error else 0,
            last_error_date=iso(error.date_created) if error else "",
            delivered=found.outcomes.get("delivered", 0),
            retried=found.outcomes.get("retrying", 0),
            failed=found.outcomes.get("failed", 0),
            latency_p50_ms=percentile(found.latencies, 50),
            latency_p95_ms=percentile(found.latencies, 95),
            latency_p99_ms=percentile(found.latencies, 99),
            latency_samples=len(found.latencies),
        )

    async def GetUsage(self, request: delivery_pb2.UsageRequest, context: Ctx) -> delivery_pb2.UsageResponse:
        start, end = day(request.start_date, "start_date"), day(request.end_date, "end_date")
        if end < start:
            raise InvalidArgument("end_date is before start_date")
        found = await self._records.usage(request.account_sid, start, end)
        return delivery_pb2.UsageResponse(
            days=[
                delivery_pb2.UsageDay(day=u.day, sink_type=u.sink_type, delivered=u.delivered) for u in found
            ]
        )

    async def ListAttempts(
        self, request: delivery_pb2.ListAttemptsRequest, context: Ctx
    ) -> delivery_pb2.ListAttemptsResponse:
        wanted = log_filter(
            request.outcome, request.event_id, request.event_type, request.start_date, request.end_date
        )
        page = await self._records.attempts(
            request.account_sid,
            request.sink_sid,
            wanted.outcome,
            wanted.event_id,
            request.page_size,
            request.page_token,
            event_type=wanted.event_type,
            since=wanted.since,
            until=wanted.until,
        )
        return delivery_pb2.ListAttemptsResponse(
            attempts=[attempt_message(r) for r in page.items],
            next_page_token=page.next_token,
            previous_page_token=page.previous_token,
        )

    async def GetAttempt(
        self, request: delivery_pb2.AttemptRef, context: Ctx
    ) -> delivery_pb2.DeliveryAttempt:
        row, detail = await self._records.attempt(request.account_sid, request.sink_sid, request.id)
        return attempt_detail_message(row, detail)

    async def ResendAttempt(self, request: delivery_pb2.AttemptRef, context: Ctx) -> delivery_pb2.Resend:
        """The attempt's event, read back from the sink's replay archive, to that one sink
        again as a new message marked a resend (stream_codec.resend_copy): the ordinary
        delivery path delivers and records it. An event the archive no longer holds (past
        retention) is not found."""
        await self._own_sink(request.account_sid, request.sink_sid)
        row, _ = await self._records.attempt(request.account_sid, request.sink_sid, request.id)
        if self._archive is None:
            raise Unavailable("resends need the replay archive, which this worker does not read")
        if await replay.work_too_full(self._js, self._work_of(request.sink_sid)):
            raise Unavailable(f"Resend refused: {replay.WORK_FULL}")
        attempted = row.date_created if row.date_created.tzinfo else row.date_created.replace(tzinfo=UTC)
        stored = attempted - timedelta(milliseconds=row.age_ms) if row.age_ms is not None else None
        found = await replay.find_archived(
            self._js,
            self._archive.archive_of(request.sink_sid),
            AccountSid(row.source_account_sid or row.account_sid),
            SinkSid(row.sink_sid),
            row.event_id,
            stored,
            attempted,
        )
        if found is None:
            raise NotFound(
                f"Event {row.event_id} is no longer in the replay archive "
                f"(resends reach back {self._retention.days} days at most)",
                twilio_code=20404,
            )
        sid = sids.new(RESEND)
        await replay.resend(self._js, found, sid)
        return delivery_pb2.Resend(
            sid=sid,
            account_sid=row.account_sid,
            sink_sid=row.sink_sid,
            event_id=row.event_id,
            attempt_id=row.id,
            date_created=iso_seconds(utcnow()),
        )

    async def ListDeadLetters(
        self, request: delivery_pb2.ListDeadLettersRequest, context: Ctx
    ) -> delivery_pb2.ListDeadLettersResponse:
        redriven = request.redriven if request.HasField("redriven") else None
        page = await self._records.dead_letters(
            request.account_sid, request.sink_sid, redriven, request.page_size, request.page_token
        )
        return delivery_pb2.ListDeadLettersResponse(
            dead_letters=[dead_letter_message(r) for r in page.items],
            next_page_token=page.next_token,
            previous_page_token=page.previous_token,
        )

    async def RedriveDeadLetters(
        self, request: delivery_pb2.RedriveRequest, context: Ctx
    ) -> delivery_pb2.RedriveResponse:
        """Page by page: each page published, then marked — memory bounded whatever the
        backlog, and a failure part way leaves what went out marked (a retry redrives the rest)."""
        await self._own_sink(request.account_sid, request.sink_sid)
        named = list(request.sids)
        if named:
            missing = await self._records.not_redrivable(request.account_sid, request.sink_sid, named)
            if missing:
                raise NotFound(f"Dead letter(s) not found or already redriven: {', '.join(sorted(missing))}")
        account_sid, sink_sid = request.account_sid, request.sink_sid
        redriven, after = 0, 0
        while True:
            page = await self._records.to_redrive(account_sid, sink_sid, named, after, REDRIVE_PAGE)
            if not page:
                return delivery_pb2.RedriveResponse(redriven=redriven)
            # Checked per page: a long redrive stops, what went out marked, before it fills
            # the work budget that live events need (a retry redrives the rest).
            if await replay.work_too_full(self._js, self._work_of(sink_sid)):
                raise Unavailable(f"Redrive stopped after {redriven} dead letter(s): {replay.WORK_FULL}")
            await replay.redrive(self._js, page)
            await self._records.mark_redriven([letter.id for letter in page])
            redriven, after = redriven + len(page), page[-1].id

    async def CreateReplay(
        self, request: delivery_pb2.CreateReplayRequest, context: Ctx
    ) -> delivery_pb2.Replay:
        await self._own_sink(request.account_sid, request.sink_sid)
        start = parse_time(request.start_time, "StartTime")
        end = parse_time(request.end_time, "EndTime") if request.end_time else utcnow()
        now = utcnow()
        if end <= start:
            raise InvalidArgument("EndTime must be after StartTime")
        if start < now - self._retention:
            raise InvalidArgument(f"StartTime is outside the replay window ({self._retention.days} days)")
        if start > now:
            raise InvalidArgument("StartTime is in the future")
        if await replay.work_too_full(self._js, self._work_of(request.sink_sid)):
            raise Unavailable(f"Replay refused: {replay.WORK_FULL}")
        row = await self._records.create_replay(request.account_sid, request.sink_sid, start, end)
        return replay_message(row, await self._archive_starts_at(request.sink_sid))

    def _work_of(self, sink_sid: str) -> StreamSpec:
        """The stream a sink's replayed and redriven copies go to."""
        part = self._spec.for_sink(sink_sid)
        return part.ordered() if sink_sid in self._directory.ordered else part

    async def _archive_starts_at(self, sink_sid: str) -> datetime | None:
        return await self._archive.starts_at(sink_sid) if self._archive is not None else None

    async def GetReplay(self, request: delivery_pb2.ReplayRef, context: Ctx) -> delivery_pb2.Replay:
        row = await self._records.replay(request.account_sid, request.sink_sid, request.sid)
        return replay_message(row, await self._archive_starts_at(request.sink_sid))

    async def ListReplays(
        self, request: delivery_pb2.ListReplaysRequest, context: Ctx
    ) -> delivery_pb2.ListReplaysResponse:
        page = await self._records.replays(
            request.account_sid, request.sink_sid, request.page_size, request.page_token
        )
        reach = await self._archive_starts_at(request.sink_sid)
        return delivery_pb2.ListReplaysResponse(
            replays=[replay_message(r, reach) for r in page.items],
            next_page_token=page.next_token,
            previous_page_token=page.previous_token,
        )

    async def CancelReplay(self, request: delivery_pb2.ReplayRef, context: Ctx) -> delivery_pb2.Replay:
        row = await self._records.cancel(request.account_sid, request.sink_sid, request.sid)
        return replay_message(row, await self._archive_starts_at(request.sink_sid))

    async def ListAlerts(
        self, request: delivery_pb2.ListAlertsRequest, context: Ctx
    ) -> delivery_pb2.ListAlertsResponse:
        since, until = alerts.window(request.start_date, request.end_date)
        page = await self._records.alerts(
            request.account_sid, since, until, request.log_level, request.page_size, request.page_token
        )
        return delivery_pb2.ListAlertsResponse(
            alerts=[alert_message(r) for r in page.items],
            next_page_token=page.next_token,
            previous_page_token=page.previous_token,
        )

    async def GetAlert(self, request: delivery_pb2.AlertRef, context: Ctx) -> delivery_pb2.Alert:
        row = await self._records.alert(request.account_sid, request.sid)
        message = alert_message(row)
        _, detail = await self._records.attempt(row.account_sid, row.sink_sid, row.id)
        if detail.request is not None:
            message.request_json = json.dumps(detail.request)
        if detail.response is not None:
            message.response_json = json.dumps(detail.response)
        return message
