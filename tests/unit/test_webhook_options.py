"""The webhook sink's extensions, as configured: `signing` (X-Twilio-Signature or Standard
Webhooks) and static `headers` — what is taken, what is refused (Twilio's 91000, naming the
field), and the form the console and `evs` read."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from runtime import sink_configs
from runtime.errors import InvalidArgument
from runtime.sinks import webhook

pytestmark = pytest.mark.unit

BASE = {"destination": "https://example.com/hook", "method": "POST"}


def parsed(config: dict[str, Any]) -> webhook.WebhookConfig:
    made = sink_configs.parse("webhook", json.dumps(config))
    assert isinstance(made, webhook.WebhookConfig)
    return made


def test_a_plain_sink_reads_back_as_twilios_three_keys() -> None:
    config = parsed(BASE)
    assert (config.signing, config.headers) == ("twilio", ())
    assert sink_configs.as_dict(config) == {**BASE, "batch_events": False}
    assert sink_configs.as_dict(parsed({**BASE, "signing": "twilio", "headers": {}})) == {
        **BASE,
        "batch_events": False,
    }


def test_standard_webhooks_signing_and_headers_are_kept_in_order() -> None:
    config = parsed(
        {
            **BASE,
            "signing": " Standard-Webhooks ",
            "headers": {"X-Tenant": "acme", "authorization": "Bearer t"},
        }
    )
    assert config.standard_webhooks
    assert config.headers == (("X-Tenant", "acme"), ("authorization", "Bearer t"))
    shape = sink_configs.as_dict(config)
    assert shape["signing"] == "standard-webhooks"
    assert list(shape["headers"].items()) == [("X-Tenant", "acme"), ("authorization", "Bearer t")]
    # What is stored parses back to the same configuration.
    assert sink_configs.parse("webhook", sink_configs.to_json(config)) == config


def test_a_user_agent_and_tabs_inside_values_are_allowed() -> None:
    config = parsed({**BASE, "headers": {"User-Agent": "acme-hooks/1.0", "X-List": "a,\tb"}})
    assert dict(config.headers) == {"User-Agent": "acme-hooks/1.0", "X-List": "a,\tb"}


REFUSED = [
    *(
        pytest.param({name: "x"}, name, id=name)
        for name in (
            "Connection",
            "keep-alive",
            "Transfer-Encoding",
            "TE",
            "Trailer",
            "Upgrade",
            "Proxy-Authorization",
            "proxy-connection",
            "Host",
            "Content-Length",
            "content-type",
            "Content-Encoding",
            "Expect",
            "X-Twilio-Signature",
            "webhook-id",
            "Webhook-Timestamp",
            "WEBHOOK-SIGNATURE",
        )
    ),
    pytest.param({"X-A": "one\r\nX-Injected: yes"}, "X-A", id="crlf-in-value"),
    pytest.param({"X-A": "one\nX-Injected: yes"}, "X-A", id="lf-in-value"),
    pytest.param({"X-A": "one\rtwo"}, "X-A", id="cr-in-value"),
    pytest.param({"X-A": "nul\x00"}, "X-A", id="nul-in-value"),
    pytest.param({"X-A": "café"}, "X-A", id="non-ascii-value"),
    pytest.param({"X-A": 1}, "X-A", id="number-value"),
    pytest.param({"X-A": None}, "X-A", id="null-value"),
    pytest.param({"X-A": "v" * 1025}, "X-A", id="value-too-long"),
    pytest.param({"X A": "x"}, "X A", id="space-in-name"),
    pytest.param({"X-A:": "x"}, "X-A:", id="colon-in-name"),
    pytest.param({"X-A\r\nX-B": "x"}, "X-A", id="crlf-in-name"),
    pytest.param({"": "x"}, "header name", id="empty-name"),
    pytest.param({"X-" + "a" * 63: "x"}, "X-aaa", id="name-too-long"),
    pytest.param({f"X-{i}": "x" for i in range(21)}, "at most 20", id="too-many"),
    pytest.param({f"X-{i}": "v" * 1000 for i in range(9)}, "bytes in all", id="too-large-in-all"),
]


@pytest.mark.parametrize(("headers", "named"), REFUSED)
def test_refused_headers_are_twilios_91000_naming_the_field(headers: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parsed({**BASE, "headers": headers})
    assert raised.value.twilio_code == 91000
    assert "headers" in raised.value.message and named in raised.value.message


def test_a_header_given_twice_in_two_cases_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="headers: x-a is given twice"):
        parsed({**BASE, "headers": {"X-A": "1", "x-a": "2"}})


def test_authorization_beside_credentials_in_the_destination_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="Authorization conflicts"):
        parsed(
            {
                "destination": "https://u:p@example.com/hook",
                "method": "POST",
                "headers": {"Authorization": "x"},
            }
        )


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        pytest.param({**BASE, "headers": ["X-A: 1"]}, "headers must be a JSON object", id="headers-a-list"),
        pytest.param({**BASE, "headers": "X-A: 1"}, "headers must be a JSON object", id="headers-a-string"),
        pytest.param(
            {**BASE, "signing": "hmac"}, "signing must be one of twilio, standard-webhooks", id="unknown"
        ),
        pytest.param({**BASE, "signing": True}, "signing must be one of", id="not-a-string"),
        pytest.param(
            {**BASE, "method": "GET", "signing": "standard-webhooks"}, "needs method POST", id="standard-get"
        ),
    ],
)
def test_other_refusals(config: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment) as raised:
        parsed(config)
    assert raised.value.twilio_code == 91000


def test_the_form_offers_both_and_holds_what_the_parser_takes() -> None:
    schema = webhook.TYPE.config_schema()
    assert schema["properties"]["signing"]["enum"] == ["twilio", "standard-webhooks"]
    assert schema["properties"]["headers"]["type"] == "object"
    good = {**BASE, "signing": "standard-webhooks", "headers": {"X-Tenant": "acme"}}
    jsonschema.validate(good, schema)
    parsed(good)
    for bad_headers in ({"X A": "x"}, {"X-A": 1}, {f"X-{i}": "x" for i in range(21)}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**BASE, "headers": bad_headers}, schema)


def test_a_new_secret_is_a_whsec_of_32_random_bytes() -> None:
    one, two = webhook.new_signing_secret(), webhook.new_signing_secret()
    assert one.startswith("whsec_") and one != two
    assert len(webhook.signing_key(one)) == 32
