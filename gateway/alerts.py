"""Twilio's error log for Event Streams: Monitor v1 Alerts, the failed deliveries of the
account's sinks, in Monitor's shape so twilio-python's `client.monitor.v1.alerts` reads them.

    GET /v1/Alerts          ?StartDate=&EndDate= (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ, inclusive)
                            &LogLevel=error|warning|notice|debug
    GET /v1/Alerts/{Sid}    one alert (NO…)

Twilio serves these from monitor.twilio.com; the paths do not meet Events v1's, so one
gateway serves both. Newest first, as Twilio's error log lists them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.routing import Route

from eventstreams.v1 import delivery_pb2
from gateway import forms
from gateway.context import Backends, Call, authenticated, ok
from gateway.paging import PageRequest, envelope
from gateway.routing import resources

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"
# The API the alert's request was made to: an Event Streams delivery, not a REST call.
API_VERSION = "v1"


def alert_text(a: delivery_pb2.Alert) -> str:
    """What happened, form-encoded as Twilio's alert texts are (`Msg=…&…`)."""
    fields = {
        "Msg": a.error,
        "sinkSid": a.sink_sid,
        "eventId": a.event_id,
        "eventType": a.type,
        "attempt": str(a.attempt),
        "outcome": a.outcome,
    }
    if a.status_code:
        fields["httpResponse"] = str(a.status_code)
    return urlencode(fields)


def headers_text(headers: Any) -> str | None:
    """Headers form-encoded, as Twilio's alerts show them."""
    return urlencode(list(headers.items())) if isinstance(headers, dict) else None


def exchange_fields(a: delivery_pb2.Alert) -> dict[str, Any]:
    """Twilio's request_* / response_* fields from the attempt's call as the delivery log
    keeps it (secrets already hidden there); null where none was kept — and on a listed
    alert, which Twilio's list leaves them out of too."""
    request = json.loads(a.request_json) if a.request_json else {}
    response = json.loads(a.response_json) if a.response_json else {}
    return {
        "request_method": request.get("method"),
        "request_url": request.get("url"),
        # An event delivery sends its event as the body, not form variables.
        "request_variables": None,
        "request_headers": headers_text(request.get("headers")),
        "response_body": response.get("body"),
        "response_headers": headers_text(response.get("headers")),
    }


def alert_body(call: Call, a: delivery_pb2.Alert) -> dict[str, Any]:
    return {
        "account_sid": a.account_sid,
        "alert_text": alert_text(a),
        "api_version": API_VERSION,
        "date_created": a.date_created,
        "date_generated": a.date_created,
        "date_updated": a.date_created,
        "error_code": str(a.error_code),
        "log_level": a.log_level,
        "more_info": MORE_INFO.format(code=a.error_code),
        **exchange_fields(a),
        "resource_sid": a.sink_sid,
        "service_sid": None,
        "sid": a.sid,
        "url": call.url(f"/v1/Alerts/{a.sid}"),
    }


async def list_alerts(call: Call) -> Any:
    params = call.request.query_params
    page = PageRequest.read(params, "StartDate", "EndDate", "LogLevel")
    filters = {
        name: value
        for name in ("LogLevel", "StartDate", "EndDate")
        if (value := forms.optional(params, name))
    }
    found = await call.backends.delivery.ListAlerts(
        delivery_pb2.ListAlertsRequest(
            account_sid=call.account.sid,
            start_date=filters.get("StartDate", ""),
            end_date=filters.get("EndDate", ""),
            log_level=filters.get("LogLevel", ""),
            page_size=page.size,
            page_token=page.token,
        )
    )
    return ok(
        envelope(
            "alerts",
            [alert_body(call, a) for a in found.alerts],
            call.url("/v1/Alerts"),
            filters,
            page,
            found,
        )
    )


async def fetch_alert(call: Call) -> Any:
    alert = await call.backends.delivery.GetAlert(
        delivery_pb2.AlertRef(account_sid=call.account.sid, sid=str(call.request.path_params["sid"]))
    )
    return ok(alert_body(call, alert))


def routes(backends: Backends) -> list[Route]:
    return resources(
        ("/v1/Alerts", "GET", authenticated(backends, list_alerts)),
        ("/v1/Alerts/{sid}", "GET", authenticated(backends, fetch_alert)),
    )
