"""Contract test: Schemathesis drives Twilio's own Events v1 OpenAPI spec against the gateway.

Acceptance: over all operations of the spec, no 5xx and every response conforms to the spec.

How the spec is used, and why:
- Twilio's spec documents only the success response of each operation, yet every Twilio API
  answers errors with `{code, message, more_info, status}` (400 bad input, 401 no or wrong
  credentials, 404 unknown resource). Checked against the bare spec, `status_code_conformance`
  would flag every correct 401 and 404, so the test documents those error responses, with that
  body schema, in a copy of the spec: 400 and 401 on every operation, 404 only where the path
  names a resource. Any other status (405, 409, 422, 5xx, ...) stays undocumented and is
  reported, and error bodies are checked against Twilio's error schema.
- A fresh account is seeded with real sinks and subscriptions, and their SIDs become the examples
  of the path parameters (and of `SinkSid` / `TestId` in request bodies); where none of Twilio's
  request examples can succeed, one valid example is added next to them. The examples phase then
  reaches the success response of every operation, so response-schema conformance is checked on
  real 2xx bodies too, and the check `every_operation_succeeds` (schemathesis_hooks.py) fails if
  any operation never answers 2xx. Everything else in the spec is Twilio's, unchanged.

Checks run (schemathesis 4.x names):
- not_a_server_error, status_code_conformance, content_type_conformance,
  response_schema_conformance, response_headers_conformance: the acceptance itself;
- negative_data_rejection: the spec's constraints (SID patterns, PageSize 1..1000, enums, integer
  and boolean types, required fields) are ones Twilio enforces, so schema-violating input must get
  a 4xx;
- ignored_auth: every operation requires HTTP Basic account credentials;
- unsupported_method, allow_header_conformance: a method the spec does not declare gets 405 with
  an `Allow` header (RFC 9110);
- use_after_free, ensure_resource_availability: stateful phase, resources created through the API
  are there until deleted and gone after;
- every_operation_succeeds: ours, see above.
Excluded, deliberately:
- positive_data_acceptance: it expects 2xx for every schema-valid request, which Twilio's spec
  cannot give a Twilio-compatible server: `SinkConfiguration` and the `Types` items have no schema
  at all (random JSON must be refused with 400), request bodies are not marked required (Validate
  without `TestId` is "valid"), `PageToken` is any string, and valid-looking SIDs name nothing (404).
- object_level_authorization: needs a second identity configured in schemathesis; account
  isolation is covered by test_tenancy_and_paging.py.
- missing_required_header: the spec declares no header parameters, so there is nothing to check.
- max_response_time: timing, not contract; flaky on a 2-core machine under load.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from devkit.receiver import Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2
from tests.helpers import create_webhook_sink, import_or_missing, kinesis_external_id, subscribe

pytestmark = pytest.mark.e2e

import_or_missing("schemathesis", "schemathesis missing: it is in the dev extras", minversion="4.32")

ROOT = Path(__file__).resolve().parents[2]
SPEC_NAME = "twilio_events_v1.yaml"
# The repository's vendored copy first; CI also has ../shared next to the clone.
SPEC_CANDIDATES = [ROOT / "gateway" / "openapi" / SPEC_NAME, ROOT.parent / "shared" / "reference" / SPEC_NAME]
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "every_operation_succeeds",
]
# Test cases per operation and phase: the schemathesis run takes ~15 s per backend on 2 cores while
# it finds failures (it stops fuzzing an operation at its first), 20-30 s when everything passes.
# The out-of-range 5xx needed 50 to show up reliably.
MAX_EXAMPLES = 50
SEED = 20240601
# Only a safety net: the run is bounded by MAX_EXAMPLES (--max-time would instead make fuzzing and
# stateful testing repeat until the budget is spent).
RUN_TIMEOUT = 150

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DELIVERED = "com.twilio.messaging.message.delivered"
FAILED = "com.twilio.messaging.message.failed"
OTHER_SINKS = {
    "kinesis": {
        "arn": "arn:aws:kinesis:us-east-1:111111111111:stream/test",
        "role_arn": "arn:aws:iam::111111111111:role/Role",
        "external_id": "1234567890",
    },
    "segment": {"write_key": "KEY"},
}
TWILIO_ERROR = {
    "type": "object",
    "required": ["code", "message", "more_info", "status"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "more_info": {"type": "string", "format": "uri"},
        "status": {"type": "integer"},
    },
}


def spec_path() -> Path:
    for candidate in SPEC_CANDIDATES:
        if candidate.is_file():
            return candidate
    pytest.fail(f"Twilio's Events v1 spec not found; looked at {', '.join(map(str, SPEC_CANDIDATES))}")


@dataclass(frozen=True)
class Seeds:
    """Resources of the test's account, each for the operations named in `path_examples`."""

    sink: str  # active, in use by every subscription below: fetched and updated
    tested_sinks: tuple[str, ...]  # one of each sink type, for POST /Test
    validated_sink: str  # tested before the run; its test id validates it
    test_id: str
    deleted_sink: str
    subscription: str  # subscribed to FAILED only, so creating DELIVERED succeeds
    deleted_subscription: str
    trimmed_subscription: str  # subscribed to DELIVERED and FAILED; loses FAILED

    def path_examples(self) -> dict[str, dict[str, Any]]:
        """Per operation, the example of each path parameter (a list gives several examples)."""
        catalog: dict[str, Any] = {"Id": "Messaging.MessageStatus"}
        return {
            "FetchEventType": {"Type": DELIVERED},
            "FetchSchema": catalog,
            "ListSchemaVersion": catalog,
            "FetchSchemaVersion": {**catalog, "SchemaVersion": 1},
            "FetchSink": {"Sid": self.sink},
            "UpdateSink": {"Sid": self.sink},
            "DeleteSink": {"Sid": self.deleted_sink},
            "CreateSinkTest": {"Sid": list(self.tested_sinks)},
            "CreateSinkValidate": {"Sid": self.validated_sink},
            "FetchSubscription": {"Sid": self.subscription},
            "UpdateSubscription": {"Sid": self.subscription},
            "DeleteSubscription": {"Sid": self.deleted_subscription},
            "ListSubscribedEvent": {"SubscriptionSid": self.subscription},
            "CreateSubscribedEvent": {"SubscriptionSid": self.subscription},
            "FetchSubscribedEvent": {"SubscriptionSid": self.subscription, "Type": FAILED},
            "UpdateSubscribedEvent": {"SubscriptionSid": self.subscription, "Type": FAILED},
            "DeleteSubscribedEvent": {"SubscriptionSid": self.trimmed_subscription, "Type": FAILED},
        }

    def body_examples(self) -> dict[str, dict[str, Any]]:
        """Values replacing Twilio's placeholders in the request-body examples (other fields kept)."""
        return {"CreateSubscription": {"SinkSid": self.sink}, "CreateSinkValidate": {"TestId": self.test_id}}

    def added_body_examples(self) -> dict[str, dict[str, Any]]:
        """Request bodies added next to Twilio's own examples where those cannot succeed here:
        Twilio's subscription examples carry `Filter` and a `schema_version` of 12 (the catalog
        has 1..7 for Messaging.MessageStatus)."""
        return {
            "CreateSubscription": {
                "Description": "seeded",
                "SinkSid": self.sink,
                "Types": [json.dumps({"type": DELIVERED, "schema_version": 1})],
            },
            "UpdateSubscription": {"Description": "seeded"},
        }


def contract(spec: dict[str, Any], seeds: Seeds) -> dict[str, Any]:
    """Twilio's spec plus its error responses and the seeded examples; nothing else changes."""
    spec = copy.deepcopy(spec)
    spec["components"]["schemas"]["twilio_error"] = TWILIO_ERROR
    error = {
        "description": "Twilio REST error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/twilio_error"}}},
    }
    path_examples, body_examples = seeds.path_examples(), seeds.body_examples()
    added_body_examples = seeds.added_body_examples()
    for path, item in spec["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for status in ["400", "401", *(["404"] if "{" in path else [])]:
                operation["responses"].setdefault(status, error)
            examples = path_examples.get(operation["operationId"], {})
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] in examples:
                    values = examples[parameter["name"]]
                    values = values if isinstance(values, list) else [values]
                    parameter["examples"] = {f"seeded{i}": {"value": v} for i, v in enumerate(values)}
            replacements = body_examples.get(operation["operationId"], {})
            for media in operation.get("requestBody", {}).get("content", {}).values():
                for example in media.get("examples", {}).values():
                    example["value"].update(
                        {name: value for name, value in replacements.items() if name in example["value"]}
                    )
                if operation["operationId"] in added_body_examples:
                    media.setdefault("examples", {})["seeded"] = {
                        "value": added_body_examples[operation["operationId"]]
                    }
    return spec


def operation_count(spec: dict[str, Any]) -> int:
    return sum(1 for item in spec["paths"].values() for method in METHODS if method in item)


async def seed(rest: httpx.AsyncClient, receiver: Receiver) -> Seeds:
    destination = f"http://127.0.0.1:{receiver.port}/hook"
    sink = (await create_webhook_sink(rest, destination))["sid"]
    tested_sinks = [(await create_webhook_sink(rest, destination))["sid"]]
    for sink_type, configuration in OTHER_SINKS.items():
        response = await rest.post(
            "/v1/Sinks",
            data={
                "Description": f"{sink_type} sink",
                "SinkType": sink_type,
                "SinkConfiguration": json.dumps(
                    {**configuration, "external_id": await kinesis_external_id(rest)}
                    if sink_type == "kinesis"
                    else configuration
                ),
            },
        )
        assert response.status_code == 201, response.text
        tested_sinks.append(response.json()["sid"])
    validated_sink = (await create_webhook_sink(rest, destination))["sid"]
    deleted_sink = (await create_webhook_sink(rest, destination))["sid"]

    response = await rest.post(f"/v1/Sinks/{validated_sink}/Test")
    assert response.status_code == 201, response.text

    def test_ids(received: Receiver) -> list[str]:
        return [
            event["data"]["test_id"]
            for event in received.events()
            if event.get("type") == "com.twilio.eventstreams.test-event"
        ]

    await receiver.wait_for(lambda received: bool(test_ids(received)))

    return Seeds(
        sink=sink,
        tested_sinks=tuple(tested_sinks),
        validated_sink=validated_sink,
        test_id=test_ids(receiver)[0],
        deleted_sink=deleted_sink,
        subscription=(await subscribe(rest, sink, FAILED))["sid"],
        deleted_subscription=(await subscribe(rest, sink, DELIVERED))["sid"],
        trimmed_subscription=(await subscribe(rest, sink, DELIVERED, FAILED))["sid"],
    )


def failures_section(output: str) -> str:
    """The failures, warnings and summary of a schemathesis run (its progress lines dropped)."""
    for marker in ("= FAILURES =", "= ERRORS =", "= WARNINGS =", "= SUMMARY ="):
        start = output.find(marker)
        if start != -1:
            return output[output.rfind("\n", 0, start) + 1 :]
    return output


async def test_twilio_spec_conformance(
    suite: Suite, account: control_pb2.Account, rest: httpx.AsyncClient, receiver: Receiver, tmp_path: Path
) -> None:
    twilio = yaml.safe_load(spec_path().read_text())
    seeds = await seed(rest, receiver)
    spec = tmp_path / "twilio_events_v1.contract.json"
    spec.write_text(json.dumps(contract(twilio, seeds), indent=1))
    reports = tmp_path / "reports"

    command = [
        sys.executable, "-m", "schemathesis.cli", "--no-color",
        "run", str(spec),
        "--url", suite.gateway_url,
        "--auth", f"{account.sid}:{account.auth_token}",
        "--checks", ",".join(CHECKS),
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--workers", "1",
        "--request-timeout", "10",
        "--generation-database", "none",  # no .hypothesis/ directory anywhere
        "--output-sanitize", "false",  # keep PageToken etc. real in the curl reproductions
        "--report", "json", "--report-dir", str(reports),
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=tmp_path,  # no schemathesis.toml of the project's (or anyone's) is picked up
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "COLUMNS": "120"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"schemathesis did not finish in {RUN_TIMEOUT}s", pytrace=False)
    output = stdout.decode("utf-8", "replace")

    if process.returncode != 0:
        pytest.fail(
            f"schemathesis found contract violations (exit {process.returncode}); "
            f"the spec as run is {spec}\n\n{failures_section(output)}",
            pytrace=False,
        )
    report = json.loads(next(reports.glob("*.json")).read_text())
    # A run that tested nothing would also exit 0.
    assert report["operations"]["tested"] == operation_count(twilio), output
    assert report["test_cases"]["generated"] > operation_count(twilio) * 10, output
