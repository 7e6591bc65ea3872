"""/v1/Subscriptions: create, list, fetch, update, delete."""

from __future__ import annotations

from typing import Any

import grpc
from starlette.routing import Route

from eventstreams.v1 import control_pb2
from gateway import forms
from gateway.context import Backends, Call, authenticated, created, no_content, ok
from gateway.paging import PageRequest, envelope
from gateway.routing import resources
from runtime import sids
from runtime.errors import InvalidArgument


def subscription_body(call: Call, s: control_pb2.Subscription) -> dict[str, Any]:
    url = call.url(f"/v1/Subscriptions/{s.sid}")
    return {
        "account_sid": s.account_sid,
        "sid": s.sid,
        "date_created": s.date_created,
        "date_updated": s.date_updated,
        "description": s.description,
        "sink_sid": s.sink_sid,
        # Our extension (Twilio's request examples carry a Filter; its API does not apply one).
        "filter": s.filter or None,
        # Twilio's beta parameter (in its spec 2025-01 to 2025-05): a parent also gets its
        # subaccounts' events.
        "receive_events_from_subaccounts": s.receive_events_from_subaccounts,
        # Our extension: events with the same value at this field path arrive in order.
        "ordering_key": s.ordering_key or None,
        "url": url,
        "links": {"subscribed_events": f"{url}/SubscribedEvents"},
    }


def parse_type(raw: str) -> control_pb2.TypeSelector:
    """One `Types` item: a JSON object string {"type": ..., "schema_version": N}."""
    item = forms.json_object(raw, "Types", 91104)
    type_name = item.get("type")
    if not isinstance(type_name, str) or not type_name.strip():
        raise InvalidArgument("Missing required input parameter event_types[].type", twilio_code=91104)
    unknown = set(item) - {"type", "schema_version"}
    if unknown:
        raise InvalidArgument(f"Unknown field(s) in Types: {', '.join(sorted(unknown))}", twilio_code=91104)
    version = item.get("schema_version", 0)
    if version is None:
        version = 0
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= forms.INT32_MAX:
        raise InvalidArgument("schema_version must be a positive integer", twilio_code=91104)
    return control_pb2.TypeSelector(type=type_name, schema_version=version)


async def create_subscription(call: Call) -> Any:
    form = await call.form()
    forms.reject_unknown(
        form, {"Description", "SinkSid", "Types", "Filter", "ReceiveEventsFromSubaccounts", "OrderingKey"}
    )
    description = forms.required(form, "Description")
    sink_sid = forms.required(form, "SinkSid")
    raw_types = [str(v) for v in form.getlist("Types")]
    if not raw_types:
        raise InvalidArgument("Missing required parameter Types in the post body", twilio_code=91103)
    subscription = await call.backends.control.CreateSubscription(
        control_pb2.CreateSubscriptionRequest(
            account_sid=call.account.sid,
            description=description,
            sink_sid=sink_sid,
            types=[parse_type(raw) for raw in raw_types],
            filter=forms.optional(form, "Filter"),
            receive_events_from_subaccounts=bool(forms.boolean(form, "ReceiveEventsFromSubaccounts")),
            ordering_key=forms.optional(form, "OrderingKey"),
        )
    )
    return created(subscription_body(call, subscription))


async def list_subscriptions(call: Call) -> Any:
    params = call.request.query_params
    page = PageRequest.read(params, "SinkSid")
    sink_sid = forms.optional(params, "SinkSid")
    if sink_sid and not sids.is_sid(sink_sid, sids.SINK):
        raise InvalidArgument(f"SinkSid {sink_sid!r} is not a Sink SID (DG followed by 32 hex digits)")
    found = await call.backends.control.ListSubscriptions(
        control_pb2.ListSubscriptionsRequest(
            account_sid=call.account.sid, sink_sid=sink_sid, page_size=page.size, page_token=page.token
        )
    )
    filters = {"SinkSid": sink_sid} if sink_sid else {}
    return ok(
        envelope(
            "subscriptions",
            [subscription_body(call, s) for s in found.subscriptions],
            call.url("/v1/Subscriptions"),
            filters,
            page,
            found,
        )
    )


def _ref(call: Call) -> control_pb2.SubscriptionRef:
    return control_pb2.SubscriptionRef(account_sid=call.account.sid, sid=call.request.path_params["sid"])


async def fetch_subscription(call: Call) -> Any:
    return ok(subscription_body(call, await call.backends.control.GetSubscription(_ref(call))))


async def update_subscription(call: Call) -> Any:
    form = await call.form()
    forms.reject_unknown(form, {"Description", "Filter", "OrderingKey"})
    current = await call.backends.control.GetSubscription(_ref(call))
    request = control_pb2.UpdateSubscriptionRequest(
        account_sid=call.account.sid,
        sid=current.sid,
        description=forms.optional(form, "Description", current.description),
    )
    if "Filter" in form:
        request.filter = forms.optional(form, "Filter")  # empty: no filter any more
    if "OrderingKey" in form:
        request.ordering_key = forms.optional(form, "OrderingKey")  # empty: unordered
    return ok(subscription_body(call, await call.backends.control.UpdateSubscription(request)))


async def delete_subscription(call: Call) -> Any:
    await call.backends.control.DeleteSubscription(_ref(call))
    return no_content()


def subscribed_body(call: Call, e: control_pb2.SubscribedEvent) -> dict[str, Any]:
    return {
        "account_sid": e.account_sid,
        "type": e.type,
        "schema_version": e.schema_version,
        "subscription_sid": e.subscription_sid,
        "url": call.url(f"/v1/Subscriptions/{e.subscription_sid}/SubscribedEvents/{e.type}"),
    }


def _event_request(call: Call, type_name: str, version: int = 0) -> control_pb2.SubscribedEventRequest:
    return control_pb2.SubscribedEventRequest(
        account_sid=call.account.sid,
        subscription_sid=call.request.path_params["sid"],
        type=type_name,
        schema_version=version,
    )


async def create_subscribed_event(call: Call) -> Any:
    form = await call.form()
    forms.reject_unknown(form, {"Type", "SchemaVersion"})
    type_name = forms.required(form, "Type")
    version = forms.integer(form, "SchemaVersion", 0, 1)
    request = _event_request(call, type_name, version)
    try:
        await call.backends.control.GetSubscribedEvent(request)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return created(subscribed_body(call, await call.backends.control.CreateSubscribedEvent(request)))
    # Twilio answers 200 for a type already subscribed: the call re-pins its version.
    return ok(subscribed_body(call, await call.backends.control.UpdateSubscribedEvent(request)))


async def list_subscribed_events(call: Call) -> Any:
    params = call.request.query_params
    page = PageRequest.read(params)
    sid = call.request.path_params["sid"]
    found = await call.backends.control.ListSubscribedEvents(
        control_pb2.ListSubscribedEventsRequest(
            account_sid=call.account.sid, subscription_sid=sid, page_size=page.size, page_token=page.token
        )
    )
    return ok(
        envelope(
            "types",
            [subscribed_body(call, e) for e in found.types],
            call.url(f"/v1/Subscriptions/{sid}/SubscribedEvents"),
            {},
            page,
            found,
        )
    )


async def fetch_subscribed_event(call: Call) -> Any:
    event = await call.backends.control.GetSubscribedEvent(
        _event_request(call, call.request.path_params["type"])
    )
    return ok(subscribed_body(call, event))


async def update_subscribed_event(call: Call) -> Any:
    form = await call.form()
    forms.reject_unknown(form, {"SchemaVersion"})
    version = forms.integer(form, "SchemaVersion", 0, 1)
    event = await call.backends.control.UpdateSubscribedEvent(
        _event_request(call, call.request.path_params["type"], version)
    )
    return ok(subscribed_body(call, event))


async def delete_subscribed_event(call: Call) -> Any:
    await call.backends.control.DeleteSubscribedEvent(_event_request(call, call.request.path_params["type"]))
    return no_content()


def routes(backends: Backends) -> list[Route]:
    return resources(
        ("/v1/Subscriptions", "GET", authenticated(backends, list_subscriptions)),
        ("/v1/Subscriptions", "POST", authenticated(backends, create_subscription)),
        ("/v1/Subscriptions/{sid}", "GET", authenticated(backends, fetch_subscription)),
        ("/v1/Subscriptions/{sid}", "POST", authenticated(backends, update_subscription)),
        ("/v1/Subscriptions/{sid}", "DELETE", authenticated(backends, delete_subscription)),
        ("/v1/Subscriptions/{sid}/SubscribedEvents", "GET", authenticated(backends, list_subscribed_events)),
        (
            "/v1/Subscriptions/{sid}/SubscribedEvents",
            "POST",
            authenticated(backends, create_subscribed_event),
        ),
        (
            "/v1/Subscriptions/{sid}/SubscribedEvents/{type}",
            "GET",
            authenticated(backends, fetch_subscribed_event),
        ),
        (
            "/v1/Subscriptions/{sid}/SubscribedEvents/{type}",
            "POST",
            authenticated(backends, update_subscribed_event),
        ),
        (
            "/v1/Subscriptions/{sid}/SubscribedEvents/{type}",
            "DELETE",
            authenticated(backends, delete_subscribed_event),
        ),
    )
