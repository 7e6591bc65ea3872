"""Service-to-service authentication: a credential per caller, and what each role may call.

Any pod of a cluster can reach the services' ports; without this, any of them could watch
every account's routing (auth tokens included), create API keys, read delivery logs or
publish events. One shared secret would make every holder — a producer, the internet-facing
gateway — as strong as the strongest caller, so each caller holds its own credential:

- A credential is `<name>.<secret>` (`gateway.Zx3…`, `producer-billing.q8F…`). A caller sends
  its own in `ES_SERVICE_TOKEN`; `clients.channel(..., credential)` attaches it to every call.
- A server knows its callers by `ES_SERVICE_CALLERS`: `name:role:sha256hex` entries, comma-
  separated, the hash over the whole credential. Hashes only: a server's environment (a pod
  spec, a process listing) never reveals a credential another caller could use.
- `ALLOWED` below is the one table of which full gRPC method names each role may call. Unknown
  or wrong credential: UNAUTHENTICATED. A known caller asking for a method its role lacks:
  PERMISSION_DENIED. A request field may narrow a method further, checked by its servicer with
  `caller(context)`: only `delivery` may ask WatchRouting for accounts' auth tokens (it signs
  deliveries with them) — see `may_read_auth_tokens`; a role in `PUBLISH_TYPES` may publish
  only the event types listed for it (the router checks each event) — see `may_publish`.
- Health checks and reflection stay open (probes, grpcurl's listing) and carry nothing of a
  tenant. A server without a caller list checks nothing (a warning at start): any caller is
  `ANONYMOUS`, whose role is `admin`.

Hashed bearer credentials rather than mTLS: nothing to issue or renew per pod, a producer team
gets a line in a Secret; the transport can add TLS underneath (a service mesh) without
changing this. `new_credential` and `caller_entry` make a credential and its server-side line.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from runtime import error_logs, grpc_wrap

HEADER = "x-es-service-token"
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Caller:
    """Who made a call, as the server verified it: the credential's name and its role."""

    name: str
    role: str


# The caller of every call on a server that checks nothing: anyone may call anything there.
ANONYMOUS = Caller("anonymous", "admin")


def _methods(service: str, *names: str) -> frozenset[str]:
    return frozenset(f"/eventstreams.v1.{service}/{name}" for name in names)


PUBLISH = _methods("Router", "Publish", "PublishStream")
CATALOG_READS = _methods(
    "Catalog", "ListEventTypes", "GetEventType", "GetSchema", "ListSchemaVersions", "GetSchemaVersion"
)
# The schema registry a producer team registers its own event types in (the catalog decides
# which types a caller owns).
CATALOG_REGISTRY = CATALOG_READS | _methods(
    "Catalog",
    "RegisterEventType",
    "RegisterSchemaVersion",
    "GetCompatibility",
    "SetCompatibility",
    "SetEventTypeStatus",
    "DiscontinueEventType",
)
CATALOG_ALL = CATALOG_REGISTRY | _methods("Catalog", "WatchCatalog")
WATCH_ROUTING = _methods("Control", "WatchRouting", "GetRouting")
HELD_ROUTING = _methods("HeldRouting", "Describe")
CONTROL_API = _methods(
    "Control",
    "Authenticate",
    "CreateAccount",
    "GetAccount",
    "ListAccounts",
    "UpdateAccount",
    "ExpirePortalLinks",
    "CreateSecondaryAuthToken",
    "DeleteSecondaryAuthToken",
    "PromoteSecondaryAuthToken",
    "CreateApiKey",
    "ListApiKeys",
    "GetApiKey",
    "DeleteApiKey",
    "CreateSink",
    "GetSink",
    "ListSinks",
    "UpdateSink",
    "DeleteSink",
    "TestSink",
    "ValidateSink",
    "GetSinkSecret",
    "RotateSinkSecret",
    "GetKinesisTrust",
    "CreateSubscription",
    "GetSubscription",
    "ListSubscriptions",
    "UpdateSubscription",
    "DeleteSubscription",
    "CreateSubscribedEvent",
    "GetSubscribedEvent",
    "ListSubscribedEvents",
    "UpdateSubscribedEvent",
    "DeleteSubscribedEvent",
)
DELIVERY_API = _methods(
    "Delivery",
    "GetSinkHealth",
    "GetUsage",
    "ListAttempts",
    "GetAttempt",
    "ResendAttempt",
    "ListDeadLetters",
    "RedriveDeadLetters",
    "CreateReplay",
    "GetReplay",
    "ListReplays",
    "CancelReplay",
    "ListAlerts",
    "GetAlert",
)

# The one allow-list: role -> the full method names its callers may call.
ALLOWED: Mapping[str, frozenset[str]] = {
    # A producer team: publishes, and registers its own event types.
    "producer": PUBLISH | CATALOG_REGISTRY,
    # The REST API: accounts, keys, sinks, subscriptions, the catalogue, delivery logs.
    "gateway": CONTROL_API | CATALOG_READS | DELIVERY_API,
    # Routes events: the routing feed (without tokens) and the catalogue.
    "router": WATCH_ROUTING | CATALOG_ALL,
    # Delivers: the routing feed, with the accounts' auth tokens it signs deliveries with; and
    # publishes its sinks' error-log events (that type alone: PUBLISH_TYPES).
    "delivery": WATCH_ROUTING | PUBLISH,
    # Sends sinks' test events and resolves the types subscriptions name.
    "control": PUBLISH | CATALOG_READS,
    # The operator (services.control.admin, tests' setup): everything.
    "admin": CONTROL_API | WATCH_ROUTING | CATALOG_ALL | DELIVERY_API | PUBLISH | HELD_ROUTING,
}

# The roles that may ask WatchRouting for accounts' auth tokens: the workers sign deliveries
# with them; nobody else — the operator included — needs to see them.
SIGNING_ROLES = frozenset({"delivery"})

# Roles whose Publish is held to these event types, and to no sink test (an event for one
# sink, whatever its subscriptions). The workers publish what they saw of their sinks'
# failures: a worker's credential must not let it speak for an account in any other way.
PUBLISH_TYPES: Mapping[str, frozenset[str]] = {"delivery": frozenset({error_logs.ERROR_LOGGED})}


def allowed(role: str, method: str) -> bool:
    """Whether a caller of this role may call this full method name."""
    return method.startswith(OPEN_PREFIXES) or method in ALLOWED.get(role, frozenset())


def may_read_auth_tokens(who: Caller) -> bool:
    # ANONYMOUS itself (not a configured caller of that name): a server that checks nothing.
    return who is ANONYMOUS or who.role in SIGNING_ROLES


def may_publish(who: Caller, type_name: str, *, sink_test: bool = False) -> bool:
    """Whether this caller (allowed Publish) may publish an event of this type; `sink_test`:
    one addressed to a single sink."""
    held = PUBLISH_TYPES.get(who.role)
    return held is None or (type_name in held and not sink_test)


def digest(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def new_credential(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"a caller's name is lowercase letters, digits and '-': {name!r}")
    return f"{name}.{secrets.token_urlsafe(32)}"


def name_of(credential: str) -> str:
    return credential.split(".", 1)[0]


def caller_entry(credential: str, role: str) -> str:
    """The line a server's ES_SERVICE_CALLERS holds for this credential."""
    if role not in ALLOWED:
        raise ValueError(f"unknown role {role!r} (known: {', '.join(sorted(ALLOWED))})")
    return f"{name_of(credential)}:{role}:{digest(credential)}"


@dataclass(frozen=True)
class Known:
    caller: Caller
    sha256: str


class Callers:
    """A server's caller list: who may call, by the hash of their credential."""

    def __init__(self, entries: Iterable[Known]) -> None:
        self._by_name = {known.caller.name: known for known in entries}

    @classmethod
    def parse(cls, text: str) -> Callers:
        """`name:role:sha256hex` entries separated by commas or newlines (a mounted file)."""
        entries = []
        for raw in re.split(r"[,\n]", text):
            item = raw.strip()
            if not item or item.startswith("#"):
                continue
            parts = item.split(":")
            if len(parts) != 3:
                raise ValueError(f"ES_SERVICE_CALLERS: {item!r} is not name:role:sha256hex")
            name, role, sha = parts
            if not NAME.match(name):
                raise ValueError(f"ES_SERVICE_CALLERS: bad caller name {name!r}")
            if role not in ALLOWED:
                raise ValueError(f"ES_SERVICE_CALLERS: {name}: unknown role {role!r}")
            if not re.fullmatch(r"[0-9a-f]{64}", sha):
                raise ValueError(f"ES_SERVICE_CALLERS: {name}: the hash is not 64 hex digits")
            entries.append(Known(Caller(name, role), sha))
        return cls(entries)

    def __len__(self) -> int:
        return len(self._by_name)

    def verify(self, credential: str) -> Caller | None:
        """The caller this credential is, or None (unknown name, or wrong secret)."""
        known = self._by_name.get(name_of(credential))
        if known is None:
            return None
        if not hmac.compare_digest(digest(credential), known.sha256):
            return None
        return known.caller


_CURRENT: contextvars.ContextVar[Caller] = contextvars.ContextVar("service_caller", default=ANONYMOUS)


def caller(context: Any) -> Caller:
    """The verified caller of the call `context` belongs to (its servicer's argument).

    The interceptor records it for the call before the servicer runs (each call is served in
    its own asyncio task, so one call's caller is never another's); on a server that checks
    nothing it is ANONYMOUS."""
    del context  # the call's own task carries it
    return _CURRENT.get()


def _presented(metadata: Any) -> str:
    for key, value in metadata or ():
        if key == HEADER:
            return str(value)
    return ""


class RequireCaller(grpc.aio.ServerInterceptor):
    """Refuses calls from unknown callers (UNAUTHENTICATED) and calls a caller's role may not
    make (PERMISSION_DENIED); records the verified caller for `caller(context)`."""

    def __init__(self, callers: Callers) -> None:
        self._callers = callers
        # Verified credentials, so the hot path (Publish) hashes each credential once.
        self._verified: dict[str, Caller] = {}

    def _who(self, credential: str) -> Caller | None:
        found = self._verified.get(credential)
        if found is None and credential:
            found = self._callers.verify(credential)
            if found is not None and len(self._verified) < 1024:
                self._verified[credential] = found
        return found

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler: Any = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        who = self._who(_presented(handler_call_details.invocation_metadata))
        if who is None:
            return _denied(
                handler, grpc.StatusCode.UNAUTHENTICATED, f"{method}: missing or wrong service token"
            )
        if not allowed(who.role, method):
            return _denied(
                handler,
                grpc.StatusCode.PERMISSION_DENIED,
                f"{method}: not allowed for {who.name} ({who.role})",
            )
        if handler.stream_stream is not None:
            # `around` leaves bidirectional calls as they are; PublishStream's servicer must
            # know its caller as Publish's does (a role held to some event types).
            return grpc.stream_stream_rpc_method_handler(
                _as_stream(who)(handler.stream_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc_wrap.around(handler, _as(who), _as_stream(who))


def _as(who: Caller) -> Callable[[grpc_wrap.Unary], grpc_wrap.Unary]:
    def wrap(inner: grpc_wrap.Unary) -> grpc_wrap.Unary:
        async def unary(request: Any, context: Any) -> Any:
            _CURRENT.set(who)
            return await inner(request, context)

        return unary

    return wrap


def _as_stream(who: Caller) -> Callable[[grpc_wrap.Streaming], grpc_wrap.Streaming]:
    def wrap(inner: grpc_wrap.Streaming) -> grpc_wrap.Streaming:
        async def stream(request: Any, context: Any) -> Any:
            _CURRENT.set(who)
            async for item in inner(request, context):
                yield item

        return stream

    return wrap


def _denied(handler: Any, code: grpc.StatusCode, message: str) -> Any:
    async def deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, message)

    async def deny_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, message)
        yield  # pragma: no cover - a generator, to match the handler's kind

    codec = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(deny, **codec)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(deny_stream, **codec)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(deny, **codec)
    return grpc.stream_stream_rpc_method_handler(deny_stream, **codec)


class _Attach:
    def __init__(self, token: str) -> None:
        self._token = token

    def _with_token(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata[HEADER] = self._token
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


# One class per kind of call: grpc.aio files an interceptor under the first kind it is an
# instance of, so one object implementing all four would only ever see unary calls.
class _UnaryUnary(_Attach, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._with_token(details), request)


class _UnaryStream(_Attach, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._with_token(details), request)


class _StreamUnary(_Attach, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._with_token(details), requests)


class _StreamStream(_Attach, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._with_token(details), requests)


def attach_token(token: str) -> list[grpc.aio.ClientInterceptor]:
    """Client interceptors that put this caller's credential on every call of a channel."""
    return [_UnaryUnary(token), _UnaryStream(token), _StreamUnary(token), _StreamStream(token)]


def main(argv: list[str] | None = None) -> None:
    """`python -m runtime.service_auth NAME ROLE`: a new credential for the caller (its
    ES_SERVICE_TOKEN) and the line the servers' ES_SERVICE_CALLERS get for it."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("name", help="the caller's name, e.g. gateway or producer-billing")
    parser.add_argument("role", choices=sorted(ALLOWED))
    args = parser.parse_args(argv)
    credential = new_credential(args.name)
    print(f"ES_SERVICE_TOKEN={credential}")
    print(f"ES_SERVICE_CALLERS entry: {caller_entry(credential, args.role)}")


if __name__ == "__main__":
    main()
