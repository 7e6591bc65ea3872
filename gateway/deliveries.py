"""Our extension of Events v1 (Twilio has no such resources): a sink's delivery log, its
dead letters and their redrive, and replays — Twilio-style paths, parameters and paging.

    GET  /v1/Sinks/{Sid}/Health                the workers' view now, and the last hour
    GET  /v1/Sinks/{Sid}/Deliveries            ?Outcome=delivered|retrying|failed|parked &EventId=
                                               &EventType= &StartDate= &EndDate= (YYYY-MM-DD or
                                               YYYY-MM-DDThh:mm:ssZ, inclusive, as /v1/Alerts)
    GET  /v1/Sinks/{Sid}/Deliveries/{Id}       one attempt, with its request and response
    POST /v1/Sinks/{Sid}/Deliveries/{Id}/Resend   its event to this sink again (a new attempt)
    GET  /v1/Sinks/{Sid}/DeadLetters           ?Redriven=true|false
    POST /v1/Sinks/{Sid}/DeadLetters/Redrive   Sid=DL… (repeatable; none: every one not redriven)
    POST /v1/Sinks/{Sid}/Replays               StartTime=… [EndTime=…]
    GET  /v1/Sinks/{Sid}/Replays[/{ReplaySid}]
    POST /v1/Sinks/{Sid}/Replays/{ReplaySid}   Status=cancelling

Lists are newest first, as Twilio's and Svix's logs are: the first page is what happened last,
`next_page_url` goes back in time.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.routing import Route

from eventstreams.v1 import control_pb2, delivery_pb2
from gateway import forms
from gateway.context import Backends, Call, authenticated, created, ok
from gateway.paging import PageRequest, envelope
from gateway.routing import resources
from runtime.errors import InvalidArgument, NotFound


async def _sink(call: Call) -> str:
    """The sink in the path, if it is the caller's (404 otherwise)."""
    sid = str(call.request.path_params["sid"])
    await call.backends.control.GetSink(control_pb2.SinkRef(account_sid=call.account.sid, sid=sid))
    return sid


def attempt_body(call: Call, a: delivery_pb2.DeliveryAttempt) -> dict[str, Any]:
    return {
        "id": a.id,
        "account_sid": a.account_sid,
        "sink_sid": a.sink_sid,
        "event_id": a.event_id,
        "type": a.type,
        "attempt": a.attempt,
        "outcome": a.outcome,
        "status_code": a.status_code or None,
        "latency_ms": a.latency_ms,
        "error_code": a.error_code or None,
        "error": a.error or None,
        "date_created": a.date_created,
        # None: the event's own delivery; "resend": a resend asked for from the log.
        "triggered_by": a.triggered_by or None,
        "url": call.url(f"/v1/Sinks/{a.sink_sid}/Deliveries/{a.id}"),
    }


def attempt_detail_body(call: Call, a: delivery_pb2.DeliveryAttempt) -> dict[str, Any]:
    """An attempt with its call as sent and answered (None where the sink captured nothing):
    the request's method, URL (no credentials), headers (Authorization hidden) and body (what
    it was, not its bytes: the event itself, or a batch of the call's events); the response's
    status, headers and the start of its body."""
    body = attempt_body(call, a)
    body["request"] = json.loads(a.request_json) if a.request_json else None
    response = json.loads(a.response_json) if a.response_json else None
    if response is not None:
        response["latency_ms"] = a.latency_ms
    body["response"] = response
    body["result"] = a.result or None
    body["links"] = {
        "resend": call.url(f"/v1/Sinks/{a.sink_sid}/Deliveries/{a.id}/Resend"),
        "event_deliveries": call.url(f"/v1/Sinks/{a.sink_sid}/Deliveries?EventId={quote(a.event_id)}"),
    }
    return body


def resend_body(call: Call, r: delivery_pb2.Resend) -> dict[str, Any]:
    return {
        "sid": r.sid,
        "account_sid": r.account_sid,
        "sink_sid": r.sink_sid,
        "event_id": r.event_id,
        "delivery_id": r.attempt_id,
        "status": "queued",
        "date_created": r.date_created,
        # Where its attempts show, marked triggered_by "resend".
        "deliveries_url": call.url(f"/v1/Sinks/{r.sink_sid}/Deliveries?EventId={quote(r.event_id)}"),
    }


def dead_letter_body(call: Call, d: delivery_pb2.DeadLetter) -> dict[str, Any]:
    return {
        "sid": d.sid,
        "account_sid": d.account_sid,
        "sink_sid": d.sink_sid,
        "event_id": d.event_id,
        "type": d.type,
        "attempts": d.attempts,
        "reason": d.reason,
        "error_code": d.error_code,
        "status_code": d.status_code or None,
        "date_created": d.date_created,
        "date_redriven": d.date_redriven or None,
        "event": json.loads(d.event_json),
    }


def replay_body(call: Call, r: delivery_pb2.Replay) -> dict[str, Any]:
    return {
        "sid": r.sid,
        "account_sid": r.account_sid,
        "sink_sid": r.sink_sid,
        "start_time": r.start_time,
        "end_time": r.end_time,
        "status": r.status,
        "events_replayed": r.events_replayed,
        "events_remaining": r.events_remaining,
        # How far back this sink's replays reach now (the archive forgets its oldest when full).
        "archive_starts_at": r.archive_starts_at or None,
        "error": r.error or None,
        "date_created": r.date_created,
        "date_updated": r.date_updated,
        "url": call.url(f"/v1/Sinks/{r.sink_sid}/Replays/{r.sid}"),
    }


# A paused sink's state, whatever its workers saw before the pause: its owner chose it.
PAUSED = "paused"


def health_body(call: Call, h: delivery_pb2.SinkHealth, paused: bool = False) -> dict[str, Any]:
    return {
        "sink_sid": h.sink_sid,
        "account_sid": call.account.sid,
        "state": PAUSED if paused else h.state,
        "throttle_cap": h.throttle_cap or None,
        "failing_since": h.failing_since or None,
        "queued": h.queued,
        "workers": h.workers,
        "last_error": {
            "code": h.last_error_code,
            "message": h.last_error or None,
            "status_code": h.last_error_status_code or None,
            "date": h.last_error_date,
        }
        if h.last_error_date
        else None,
        "last_hour": {
            "delivered": h.delivered,
            "retried": h.retried,
            "failed": h.failed,
            "latency_ms": {
                "p50": h.latency_p50_ms,
                "p95": h.latency_p95_ms,
                "p99": h.latency_p99_ms,
                "samples": h.latency_samples,
            }
            if h.latency_samples
            else None,
        },
        "url": call.url(f"/v1/Sinks/{h.sink_sid}/Health"),
    }


async def fetch_health(call: Call) -> Any:
    sid = str(call.request.path_params["sid"])
    sink = await call.backends.control.GetSink(control_pb2.SinkRef(account_sid=call.account.sid, sid=sid))
    health = await call.backends.delivery.GetSinkHealth(
        delivery_pb2.SinkHealthRequest(account_sid=call.account.sid, sink_sid=sid)
    )
    return ok(health_body(call, health, paused=sink.paused))


# The delivery log's filters, in the order its paging links carry them.
LOG_FILTERS = ("Outcome", "EventId", "EventType", "StartDate", "EndDate")


async def list_deliveries(call: Call) -> Any:
    sink = await _sink(call)
    params = call.request.query_params
    page = PageRequest.read(params, *LOG_FILTERS)
    filters = {name: value for name in LOG_FILTERS if (value := forms.optional(params, name))}
    found = await call.backends.delivery.ListAttempts(
        delivery_pb2.ListAttemptsRequest(
            account_sid=call.account.sid,
            sink_sid=sink,
            outcome=filters.get("Outcome", ""),
            event_id=filters.get("EventId", ""),
            event_type=filters.get("EventType", ""),
            start_date=filters.get("StartDate", ""),
            end_date=filters.get("EndDate", ""),
            page_size=page.size,
            page_token=page.token,
        )
    )
    return ok(
        envelope(
            "deliveries",
            [attempt_body(call, a) for a in found.attempts],
            call.url(f"/v1/Sinks/{sink}/Deliveries"),
            filters,
            page,
            found,
        )
    )


def _attempt_ref(call: Call, sink: str) -> delivery_pb2.AttemptRef:
    text = str(call.request.path_params["attempt"])
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise NotFound(
            f"The requested resource /Sinks/{sink}/Deliveries/{text} was not found", twilio_code=20404
        )
    return delivery_pb2.AttemptRef(account_sid=call.account.sid, sink_sid=sink, id=int(text))


async def fetch_delivery(call: Call) -> Any:
    sink = await _sink(call)
    found = await call.backends.delivery.GetAttempt(_attempt_ref(call, sink))
    return ok(attempt_detail_body(call, found))


async def resend_delivery(call: Call) -> Any:
    sink = await _sink(call)
    form = await call.form()
    forms.reject_unknown(form, set())
    resent = await call.backends.delivery.ResendAttempt(_attempt_ref(call, sink))
    return created(resend_body(call, resent))


async def list_dead_letters(call: Call) -> Any:
    sink = await _sink(call)
    params = call.request.query_params
    page = PageRequest.read(params, "Redriven")
    redriven = forms.boolean(params, "Redriven")
    request = delivery_pb2.ListDeadLettersRequest(
        account_sid=call.account.sid, sink_sid=sink, page_size=page.size, page_token=page.token
    )
    if redriven is not None:
        request.redriven = redriven
    found = await call.backends.delivery.ListDeadLetters(request)
    filters = {"Redriven": str(redriven).lower()} if redriven is not None else {}
    return ok(
        envelope(
            "dead_letters",
            [dead_letter_body(call, d) for d in found.dead_letters],
            call.url(f"/v1/Sinks/{sink}/DeadLetters"),
            filters,
            page,
            found,
        )
    )


async def redrive(call: Call) -> Any:
    sink = await _sink(call)
    form = await call.form()
    forms.reject_unknown(form, {"Sid"})
    result = await call.backends.delivery.RedriveDeadLetters(
        delivery_pb2.RedriveRequest(
            account_sid=call.account.sid, sink_sid=sink, sids=[str(v) for v in form.getlist("Sid")]
        )
    )
    return created({"redriven": result.redriven})


async def create_replay(call: Call) -> Any:
    sink = await _sink(call)
    form = await call.form()
    forms.reject_unknown(form, {"StartTime", "EndTime"})
    replay = await call.backends.delivery.CreateReplay(
        delivery_pb2.CreateReplayRequest(
            account_sid=call.account.sid,
            sink_sid=sink,
            start_time=forms.required(form, "StartTime"),
            end_time=forms.optional(form, "EndTime"),
        )
    )
    return created(replay_body(call, replay))


async def list_replays(call: Call) -> Any:
    sink = await _sink(call)
    params = call.request.query_params
    page = PageRequest.read(params)
    found = await call.backends.delivery.ListReplays(
        delivery_pb2.ListReplaysRequest(
            account_sid=call.account.sid, sink_sid=sink, page_size=page.size, page_token=page.token
        )
    )
    return ok(
        envelope(
            "replays",
            [replay_body(call, r) for r in found.replays],
            call.url(f"/v1/Sinks/{sink}/Replays"),
            {},
            page,
            found,
        )
    )


def _replay_ref(call: Call, sink: str) -> delivery_pb2.ReplayRef:
    return delivery_pb2.ReplayRef(
        account_sid=call.account.sid, sink_sid=sink, sid=call.request.path_params["replay"]
    )


async def fetch_replay(call: Call) -> Any:
    sink = await _sink(call)
    return ok(replay_body(call, await call.backends.delivery.GetReplay(_replay_ref(call, sink))))


async def update_replay(call: Call) -> Any:
    sink = await _sink(call)
    form = await call.form()
    forms.reject_unknown(form, {"Status"})
    if forms.required(form, "Status") != "cancelling":
        raise InvalidArgument("Status can only be set to cancelling")
    return ok(replay_body(call, await call.backends.delivery.CancelReplay(_replay_ref(call, sink))))


def routes(backends: Backends) -> list[Route]:
    base = "/v1/Sinks/{sid}"
    return resources(
        (f"{base}/Health", "GET", authenticated(backends, fetch_health)),
        (f"{base}/Deliveries", "GET", authenticated(backends, list_deliveries)),
        (f"{base}/Deliveries/{{attempt}}", "GET", authenticated(backends, fetch_delivery)),
        (f"{base}/Deliveries/{{attempt}}/Resend", "POST", authenticated(backends, resend_delivery)),
        (f"{base}/DeadLetters", "GET", authenticated(backends, list_dead_letters)),
        (f"{base}/DeadLetters/Redrive", "POST", authenticated(backends, redrive)),
        (f"{base}/Replays", "GET", authenticated(backends, list_replays)),
        (f"{base}/Replays", "POST", authenticated(backends, create_replay)),
        (f"{base}/Replays/{{replay}}", "GET", authenticated(backends, fetch_replay)),
        (f"{base}/Replays/{{replay}}", "POST", authenticated(backends, update_replay)),
    )
