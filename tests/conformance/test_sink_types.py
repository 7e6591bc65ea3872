"""GET /v1/SinkTypes: the registry's description of each sink type, as the console and `evs
sinks types` read it — and every type it lists is one a sink can be created as."""

from __future__ import annotations

import json

import httpx
import pytest

from runtime.sinks import registry

pytestmark = pytest.mark.e2e


async def test_the_sink_types_are_the_registrys(rest: httpx.AsyncClient) -> None:
    response = await rest.get("/v1/SinkTypes")
    assert response.status_code == 200, response.text
    listed = response.json()["sink_types"]
    assert [t["sink_type"] for t in listed] == list(registry.NAMES)
    sqs = next(t for t in listed if t["sink_type"] == "sqs")
    assert sqs["initial_status"] == "initialized" and sqs["assumes_role"] is True
    assert sqs["usage_category"] == "event-streams-sqs"
    assert sqs["limits"] == {"max_events": 10, "max_call_bytes": 262144, "max_event_bytes": 262144}
    schema = sqs["configuration_schema"]
    assert (
        schema["required"] == ["arn", "role_arn", "external_id"] and schema["additionalProperties"] is False
    )
    # A form filled from the schema is what the API takes (here refused only for its trust).
    form = {name: field.get("examples", ["placeholder"])[0] for name, field in schema["properties"].items()}
    created = await rest.post(
        "/v1/Sinks", data={"Description": "d", "SinkType": "sqs", "SinkConfiguration": json.dumps(form)}
    )
    assert created.status_code == 400 and "external_id must be the ExternalId issued" in created.text


async def test_an_unknown_sink_type_is_refused_naming_the_known_ones(rest: httpx.AsyncClient) -> None:
    refused = await rest.post(
        "/v1/Sinks", data={"Description": "d", "SinkType": "ftp", "SinkConfiguration": json.dumps({"a": 1})}
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == 91000 and ", ".join(registry.NAMES) in refused.json()["message"]
