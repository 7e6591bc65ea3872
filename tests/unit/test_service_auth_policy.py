"""The allow-list: which role may call which method, and the caller list's format."""

from __future__ import annotations

import pytest

from runtime import service_auth
from runtime.error_logs import ERROR_LOGGED
from runtime.service_auth import Caller, Callers

CONTROL = "/eventstreams.v1.Control/"
CATALOG = "/eventstreams.v1.Catalog/"
DELIVERY = "/eventstreams.v1.Delivery/"
PUBLISH = "/eventstreams.v1.Router/Publish"
PUBLISH_STREAM = "/eventstreams.v1.Router/PublishStream"


@pytest.mark.parametrize(
    ("role", "method", "allowed"),
    [
        ("producer", PUBLISH, True),
        ("producer", PUBLISH_STREAM, True),
        ("producer", CATALOG + "RegisterEventType", True),
        ("producer", CATALOG + "RegisterSchemaVersion", True),
        ("producer", CONTROL + "WatchRouting", False),
        ("producer", CONTROL + "CreateApiKey", False),
        ("producer", CONTROL + "CreateAccount", False),
        ("producer", CONTROL + "Authenticate", False),
        ("producer", DELIVERY + "ListAttempts", False),
        ("producer", CATALOG + "WatchCatalog", False),
        ("gateway", CONTROL + "CreateApiKey", True),
        ("gateway", CONTROL + "Authenticate", True),
        ("gateway", DELIVERY + "ListAttempts", True),
        ("gateway", CATALOG + "ListEventTypes", True),
        ("gateway", CONTROL + "WatchRouting", False),
        ("gateway", PUBLISH, False),
        ("gateway", PUBLISH_STREAM, False),
        ("gateway", CATALOG + "RegisterEventType", False),
        ("router", CONTROL + "WatchRouting", True),
        ("router", CATALOG + "WatchCatalog", True),
        ("router", CONTROL + "CreateApiKey", False),
        ("router", PUBLISH, False),
        ("delivery", CONTROL + "WatchRouting", True),
        ("delivery", CONTROL + "GetAccount", False),
        # Delivery publishes its error-log events (the router holds it to that one type).
        ("delivery", PUBLISH, True),
        ("delivery", PUBLISH_STREAM, True),
        ("control", PUBLISH, True),
        ("control", CATALOG + "GetEventType", True),
        ("control", CONTROL + "WatchRouting", False),
        ("admin", CONTROL + "CreateApiKey", True),
        ("admin", CATALOG + "DiscontinueEventType", True),
        ("nobody", PUBLISH, False),
        ("producer", "/grpc.health.v1.Health/Check", True),
        ("nobody", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", True),
    ],
)
def test_allowed(role: str, method: str, allowed: bool) -> None:
    assert service_auth.allowed(role, method) is allowed


@pytest.mark.parametrize(
    ("who", "may"),
    [
        (Caller("delivery", "delivery"), True),
        (Caller("ops", "admin"), False),
        (Caller("anonymous", "admin"), False),
        (service_auth.ANONYMOUS, True),
        (Caller("router", "router"), False),
        (Caller("gateway", "gateway"), False),
        (Caller("producer", "producer"), False),
    ],
)
def test_only_delivery_reads_auth_tokens_where_calls_are_checked(who: Caller, may: bool) -> None:
    assert service_auth.may_read_auth_tokens(who) is may


@pytest.mark.parametrize(
    ("role", "type_name", "sink_test", "may"),
    [
        ("delivery", ERROR_LOGGED, False, True),
        ("delivery", "com.twilio.messaging.message.delivered", False, False),
        ("delivery", "com.twilio.error-logs.error.logged.x", False, False),
        ("delivery", "", False, False),
        # A sink's test event goes to the one sink it names, subscribed or not: not delivery's.
        ("delivery", ERROR_LOGGED, True, False),
        ("producer", "com.twilio.messaging.message.delivered", False, True),
        ("producer", ERROR_LOGGED, False, True),
        ("control", "com.twilio.messaging.message.delivered", True, True),
        ("admin", "com.acme.anything", True, True),
    ],
)
def test_a_role_may_be_held_to_some_event_types(
    role: str, type_name: str, sink_test: bool, may: bool
) -> None:
    assert service_auth.may_publish(Caller(role, role), type_name, sink_test=sink_test) is may


def test_every_method_the_protos_declare_has_a_place_in_the_table() -> None:
    from eventstreams.v1 import catalog_pb2, control_pb2, delivery_pb2, router_pb2

    declared = {
        f"/{service.full_name}/{method.name}"
        for module in (catalog_pb2, control_pb2, delivery_pb2, router_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert declared <= service_auth.ALLOWED["admin"]


def test_the_caller_list_holds_hashes_and_verifies_credentials() -> None:
    credential = service_auth.new_credential("producer-billing")
    name, secret = credential.split(".", 1)
    entry = service_auth.caller_entry(credential, "producer")
    assert secret not in entry and entry.startswith("producer-billing:producer:")
    callers = Callers.parse(f"{entry},\n# a comment\n")
    assert callers.verify(credential) == Caller("producer-billing", "producer")
    assert callers.verify(f"{name}.{secret}x") is None
    assert callers.verify(f"other.{secret}") is None
    assert callers.verify("") is None


@pytest.mark.parametrize(
    "text",
    ["gateway:gateway", "gateway:root:" + "0" * 64, "Gate way:gateway:" + "0" * 64, "gateway:gateway:xyz"],
)
def test_a_malformed_caller_list_is_refused_at_start(text: str) -> None:
    with pytest.raises(ValueError, match="ES_SERVICE_CALLERS"):
        Callers.parse(text)
