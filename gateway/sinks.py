"""/v1/Sinks: create, list, fetch, update, delete, test, validate; and an extension, a
webhook's Standard Webhooks secret (as Svix's endpoint secret):

    GET  /v1/Sinks/{Sid}/Secret          → {secret: "whsec_…", date_created, …}
    POST /v1/Sinks/{Sid}/Secret/Rotate   → a new secret (the old one signs beside it for 24 h)
"""

from __future__ import annotations

import json
from typing import Any

from starlette.routing import Route

from eventstreams.v1 import control_pb2
from gateway import forms
from gateway.context import Backends, Call, authenticated, created, no_content, ok
from gateway.paging import PageRequest, envelope
from gateway.routing import resources
from runtime.errors import InvalidArgument
from runtime.sinks.webhook import STANDARD_WEBHOOKS

PAUSED, ACTIVE = "paused", "active"


def sink_body(call: Call, s: control_pb2.Sink) -> dict[str, Any]:
    url = call.url(f"/v1/Sinks/{s.sid}")
    configuration = json.loads(s.configuration_json)
    links = {"sink_test": f"{url}/Test", "sink_validate": f"{url}/Validate"}
    if isinstance(configuration, dict) and configuration.get("signing") == STANDARD_WEBHOOKS:
        links["signing_secret"] = f"{url}/Secret"
    return {
        "date_created": s.date_created,
        "date_updated": s.date_updated,
        "description": s.description,
        "sid": s.sid,
        "sink_configuration": configuration,
        "sink_type": s.sink_type,
        # Paused is our extension's value (its lifecycle status returns with resume).
        "status": PAUSED if s.paused else s.status,
        "url": url,
        "links": links,
    }


async def create_sink(call: Call) -> Any:
    form = await call.form()
    forms.reject_unknown(form, {"Description", "SinkConfiguration", "SinkType"})
    description = forms.required(form, "Description")
    sink_type = forms.required(form, "SinkType")
    configuration = forms.required(form, "SinkConfiguration")
    forms.json_object(configuration, "SinkConfiguration", 91000)
    sink = await call.backends.control.CreateSink(
        control_pb2.CreateSinkRequest(
            account_sid=call.account.sid,
            description=description,
            sink_type=sink_type,
            configuration_json=configuration,
        )
    )
    return created(sink_body(call, sink))


async def list_sinks(call: Call) -> Any:
    params = call.request.query_params
    page = PageRequest.read(params, "InUse", "Status")
    in_use = forms.boolean(params, "InUse")
    status = forms.optional(params, "Status")
    request = control_pb2.ListSinksRequest(
        account_sid=call.account.sid, status=status, page_size=page.size, page_token=page.token
    )
    if in_use is not None:
        request.in_use = in_use
    found = await call.backends.control.ListSinks(request)
    filters = {}
    if in_use is not None:
        filters["InUse"] = str(in_use).lower()
    if status:
        filters["Status"] = status
    return ok(
        envelope(
            "sinks",
            [sink_body(call, s) for s in found.sinks],
            call.url("/v1/Sinks"),
            filters,
            page,
            found,
        )
    )


def _ref(call: Call) -> control_pb2.SinkRef:
    return control_pb2.SinkRef(account_sid=call.account.sid, sid=call.request.path_params["sid"])


async def fetch_sink(call: Call) -> Any:
    return ok(sink_body(call, await call.backends.control.GetSink(_ref(call))))


async def update_sink(call: Call) -> Any:
    """Twilio's update (Description), and our extension: `Status=paused` pauses the sink (its
    events are kept, nothing is delivered), `Status=active` resumes it."""
    form = await call.form()
    forms.reject_unknown(form, {"Description", "Status"})
    status = forms.optional(form, "Status")
    if status not in ("", PAUSED, ACTIVE):
        raise InvalidArgument(f"Status must be {PAUSED} or {ACTIVE}")
    request = control_pb2.UpdateSinkRequest(account_sid=call.account.sid, sid=call.request.path_params["sid"])
    if status:
        request.paused = status == PAUSED
        request.description = forms.optional(form, "Description")
    else:
        request.description = forms.required(form, "Description")
    return ok(sink_body(call, await call.backends.control.UpdateSink(request)))


async def delete_sink(call: Call) -> Any:
    await call.backends.control.DeleteSink(_ref(call))
    return no_content()


async def test_sink(call: Call) -> Any:
    forms.reject_unknown(await call.form(), set())
    result = await call.backends.control.TestSink(_ref(call))
    return created({"result": result.result})


async def validate_sink(call: Call) -> Any:
    form = await call.form()
    forms.reject_unknown(form, {"TestId"})
    test_id = forms.required(form, "TestId")
    result = await call.backends.control.ValidateSink(
        control_pb2.ValidateSinkRequest(
            account_sid=call.account.sid, sid=call.request.path_params["sid"], test_id=test_id
        )
    )
    return created({"result": result.result})


def secret_body(call: Call, secret: control_pb2.SinkSecret) -> dict[str, Any]:
    url = call.url(f"/v1/Sinks/{secret.sink_sid}/Secret")
    return {
        "account_sid": secret.account_sid,
        "sink_sid": secret.sink_sid,
        "secret": secret.secret,
        "date_created": secret.date_created,
        # After a rotation: until when deliveries also carry a signature with the old secret.
        "date_previous_expires": secret.date_previous_expires or None,
        "url": url,
        "links": {"rotate": f"{url}/Rotate"},
    }


async def fetch_secret(call: Call) -> Any:
    return ok(secret_body(call, await call.backends.control.GetSinkSecret(_ref(call))))


async def rotate_secret(call: Call) -> Any:
    forms.reject_unknown(await call.form(), set())
    return created(secret_body(call, await call.backends.control.RotateSinkSecret(_ref(call))))


async def kinesis_external_id(call: Call) -> Any:
    """An extension: the ExternalId this deployment issued to the account, which its Kinesis
    sinks must carry and its roles must trust — readable before the role is made."""
    trust = await call.backends.control.GetKinesisTrust(control_pb2.AccountRef(account_sid=call.account.sid))
    return ok(
        {
            "account_sid": trust.account_sid,
            "external_id": trust.external_id,
            # The AWS account the role's trust policy names as principal (None: ask the operator).
            "platform_aws_account_id": trust.platform_aws_account_id or None,
            "url": call.url("/v1/Sinks/Kinesis/ExternalId"),
        }
    )


def routes(backends: Backends) -> list[Route]:
    return resources(
        ("/v1/Sinks/Kinesis/ExternalId", "GET", authenticated(backends, kinesis_external_id)),
        ("/v1/Sinks", "GET", authenticated(backends, list_sinks)),
        ("/v1/Sinks", "POST", authenticated(backends, create_sink)),
        ("/v1/Sinks/{sid}", "GET", authenticated(backends, fetch_sink)),
        ("/v1/Sinks/{sid}", "POST", authenticated(backends, update_sink)),
        ("/v1/Sinks/{sid}", "DELETE", authenticated(backends, delete_sink)),
        ("/v1/Sinks/{sid}/Test", "POST", authenticated(backends, test_sink)),
        ("/v1/Sinks/{sid}/Validate", "POST", authenticated(backends, validate_sink)),
        ("/v1/Sinks/{sid}/Secret", "GET", authenticated(backends, fetch_secret)),
        ("/v1/Sinks/{sid}/Secret/Rotate", "POST", authenticated(backends, rotate_secret)),
    )
