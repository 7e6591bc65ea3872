"""GET /v1/SinkTypes: the registry's description of each sink type, as the console and `evs
sinks types` read it — and every type it lists is one a sink can be created as."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from devkit.suite import Suite
from eventstreams.v1 import control_pb2
from evs.main import cli
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


async def test_evs_lists_the_types_and_their_fields(
    platform: Suite, account: control_pb2.Account, tmp_path: Path
) -> None:
    env = {
        "EVS_URL": platform.gateway_url,
        "TWILIO_ACCOUNT_SID": account.sid,
        "TWILIO_AUTH_TOKEN": account.auth_token,
        "EVS_CONFIG": str(tmp_path / "evs.json"),
    }
    answer = await asyncio.to_thread(CliRunner().invoke, cli, ["sinks", "types"], env=env)
    assert answer.exit_code == 0, answer.output
    assert "sqs: Amazon SQS" in answer.output
    assert "    region (required): The bucket's AWS region" in answer.output
    assert "    prefix (optional):" in answer.output
