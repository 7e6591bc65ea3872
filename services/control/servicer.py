"""The Control gRPC service: translation between the contract and the stores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc

from eventstreams.v1 import control_pb2, control_pb2_grpc
from runtime.change_signal import ChangeSignal
from runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from runtime.routing_demand import FETCH_ACCOUNTS
from runtime.service_auth import caller, may_read_auth_tokens
from runtime.times import epoch_ms, iso_seconds
from services.control.accounts import AccountStore
from services.control.models import (
    AccountRow,
    ApiKeyRow,
    SinkRow,
    SubscribedEventRow,
    SubscriptionRow,
)
from services.control.routing_feed import RoutingFeed
from services.control.sinks import SigningSecret, SinkStore
from services.control.subscriptions import Selector, SubscriptionStore

Ctx = grpc.aio.ServicerContext[Any, Any]


def account_message(row: AccountRow) -> control_pb2.Account:
    return control_pb2.Account(
        sid=row.sid,
        friendly_name=row.friendly_name,
        auth_token=row.auth_token,
        owner_account_sid=row.owner_account_sid or "",
        status=row.status,
        date_created=iso_seconds(row.date_created),
        date_updated=iso_seconds(row.date_updated),
        portal_links_not_before_ms=epoch_ms(row.portal_links_not_before)
        if row.portal_links_not_before
        else 0,
    )


def key_message(row: ApiKeyRow, secret: str = "") -> control_pb2.ApiKey:
    return control_pb2.ApiKey(
        sid=row.sid,
        account_sid=row.account_sid,
        friendly_name=row.friendly_name,
        secret=secret,
        date_created=iso_seconds(row.date_created),
        date_updated=iso_seconds(row.date_updated),
    )


def sink_message(row: SinkRow, in_use: bool) -> control_pb2.Sink:
    return control_pb2.Sink(
        sid=row.sid,
        account_sid=row.account_sid,
        description=row.description,
        sink_type=row.sink_type,
        configuration_json=row.configuration,
        status=row.status,
        date_created=iso_seconds(row.date_created),
        date_updated=iso_seconds(row.date_updated),
        in_use=in_use,
        paused=row.paused,
    )


def secret_message(ref: control_pb2.SinkRef, secret: SigningSecret) -> control_pb2.SinkSecret:
    return control_pb2.SinkSecret(
        account_sid=ref.account_sid,
        sink_sid=ref.sid,
        secret=secret.secret,
        date_created=iso_seconds(secret.created),
        date_previous_expires=iso_seconds(secret.previous_expires) if secret.previous_expires else "",
    )


def subscribed_message(row: SubscribedEventRow, account_sid: str) -> control_pb2.SubscribedEvent:
    return control_pb2.SubscribedEvent(
        account_sid=account_sid,
        subscription_sid=row.subscription_sid,
        type=row.type,
        schema_version=row.schema_version,
    )


def subscription_message(
    row: SubscriptionRow, events: Sequence[SubscribedEventRow]
) -> control_pb2.Subscription:
    return control_pb2.Subscription(
        sid=row.sid,
        account_sid=row.account_sid,
        description=row.description,
        sink_sid=row.sink_sid,
        date_created=iso_seconds(row.date_created),
        date_updated=iso_seconds(row.date_updated),
        types=[subscribed_message(e, row.account_sid) for e in events if e.subscription_sid == row.sid],
        filter=row.filter or "",
        receive_events_from_subaccounts=row.receive_events_from_subaccounts,
        ordering_key=row.ordering_key or "",
    )


class ControlServicer(control_pb2_grpc.ControlServicer):
    def __init__(
        self,
        accounts: AccountStore,
        sinks: SinkStore,
        subscriptions: SubscriptionStore,
        feed: RoutingFeed,
        signal: ChangeSignal,
    ) -> None:
        self._accounts = accounts
        self._sinks = sinks
        self._subscriptions = subscriptions
        self._feed = feed
        self._signal = signal

    # Accounts and keys

    async def Authenticate(
        self, request: control_pb2.AuthenticateRequest, context: Ctx
    ) -> control_pb2.Principal:
        account, key_sid = await self._accounts.authenticate(request.username, request.password)
        return control_pb2.Principal(account=account_message(account), api_key_sid=key_sid)

    async def CreateAccount(
        self, request: control_pb2.CreateAccountRequest, context: Ctx
    ) -> control_pb2.Account:
        if request.owner_account_sid:
            owner = await self._accounts.get(request.owner_account_sid)
            if owner is None:
                raise NotFound(f"Account {request.owner_account_sid} not found")
            if owner.owner_account_sid:
                raise FailedPrecondition("A subaccount cannot create subaccounts", twilio_code=20008)
        row = await self._accounts.create(
            request.friendly_name, request.owner_account_sid, request.sid, request.auth_token
        )
        self._signal.notify()
        return account_message(row)

    async def GetAccount(self, request: control_pb2.GetAccountRequest, context: Ctx) -> control_pb2.Account:
        return account_message(await self._accounts.get_visible(request.account_sid, request.sid))

    async def ListAccounts(
        self, request: control_pb2.ListAccountsRequest, context: Ctx
    ) -> control_pb2.ListAccountsResponse:
        page = await self._accounts.list_visible(
            request.account_sid, request.friendly_name, request.page_size, request.page_token
        )
        return control_pb2.ListAccountsResponse(
            accounts=[account_message(r) for r in page.items],
            next_page_token=page.next_token,
            previous_page_token=page.previous_token,
        )

    async def UpdateAccount(
        self, request: control_pb2.UpdateAccountRequest, context: Ctx
    ) -> control_pb2.Account:
        row = await self._accounts.update(
            request.account_sid,
            request.sid,
            request.friendly_name if request.HasField("friendly_name") else None,
            request.status if request.HasField("status") else None,
        )
        self._signal.notify()
        return account_message(row)

    async def ExpirePortalLinks(
        self, request: control_pb2.GetAccountRequest, context: Ctx
    ) -> control_pb2.Account:
        return account_message(await self._accounts.expire_portal_links(request.account_sid, request.sid))

    async def CreateSecondaryAuthToken(
        self, request: control_pb2.AccountRef, context: Ctx
    ) -> control_pb2.SecondaryAuthToken:
        row = await self._accounts.create_secondary(request.account_sid)
        created = row.secondary_auth_token_created or row.date_updated
        return control_pb2.SecondaryAuthToken(
            account_sid=row.sid,
            secondary_auth_token=row.secondary_auth_token or "",
            date_created=iso_seconds(created),
            date_updated=iso_seconds(created),
        )

    async def DeleteSecondaryAuthToken(
        self, request: control_pb2.AccountRef, context: Ctx
    ) -> control_pb2.Empty:
        await self._accounts.delete_secondary(request.account_sid)
        return control_pb2.Empty()

    async def PromoteSecondaryAuthToken(
        self, request: control_pb2.AccountRef, context: Ctx
    ) -> control_pb2.Account:
        row = await self._accounts.promote(request.account_sid)
        self._signal.notify()
        return account_message(row)

    async def CreateApiKey(
        self, request: control_pb2.CreateApiKeyRequest, context: Ctx
    ) -> control_pb2.ApiKey:
        row, secret = await self._accounts.create_key(request.account_sid, request.friendly_name)
        return key_message(row, secret)

    async def ListApiKeys(
        self, request: control_pb2.ListApiKeysRequest, context: Ctx
    ) -> control_pb2.ListApiKeysResponse:
        page = await self._accounts.list_keys(request.account_sid, request.page_size, request.page_token)
        return control_pb2.ListApiKeysResponse(
            keys=[key_message(r) for r in page.items],
            next_page_token=page.next_token,
            previous_page_token=page.previous_token,
        )

    async def GetApiKey(self, request: control_pb2.GetApiKeyRequest, context: Ctx) -> control_pb2.ApiKey:
        return key_message(await self._accounts.get_key(request.account_sid, request.sid))

    async def DeleteApiKey(self, request: control_pb2.DeleteApiKeyRequest, context: Ctx) -> control_pb2.Empty:
        await self._accounts.delete_key(request.account_sid, request.sid)
        return control_pb2.Empty()

    # Sinks

    async def CreateSink(self, request: control_pb2.CreateSinkRequest, context: Ctx) -> control_pb2.Sink:
        row = await self._sinks.create(
            request.account_sid, request.description, request.sink_type, request.configuration_json
        )
        self._signal.notify()
        return sink_message(row, False)

    async def GetSink(self, request: control_pb2.SinkRef, context: Ctx) -> control_pb2.Sink:
        row = await self._sinks.get(request.account_sid, request.sid)
        return sink_message(row, bool(await self._sinks.in_use([row.sid])))

    async def ListSinks(
        self, request: control_pb2.ListSinksRequest, context: Ctx
    ) -> control_pb2.ListSinksResponse:
        in_use = request.in_use if request.HasField("in_use") else None
        page = await self._sinks.find(
            request.account_sid, in_use, request.status, request.page_size, request.page_token
        )
        used = await self._sinks.in_use([r.sid for r in page.items])
        return control_pb2.ListSinksResponse(
            sinks=[sink_message(r, r.sid in used) for r in page.items],
            next_page_token=page.next_token,
            previous_page_token=page.previous_token,
        )

    async def UpdateSink(self, request: control_pb2.UpdateSinkRequest, context: Ctx) -> control_pb2.Sink:
        paused = request.paused if request.HasField("paused") else None
        if not request.description and paused is None:
            raise InvalidArgument(
                "Missing required parameter Description in the post body", twilio_code=20001
            )
        row = await self._sinks.update(request.account_sid, request.sid, request.description or None, paused)
        if paused is not None:
            self._signal.notify()  # the routing feed: workers park or release its events
        return sink_message(row, bool(await self._sinks.in_use([row.sid])))

    async def DeleteSink(self, request: control_pb2.SinkRef, context: Ctx) -> control_pb2.Empty:
        await self._sinks.delete(request.account_sid, request.sid)
        self._signal.notify()
        return control_pb2.Empty()

    async def GetKinesisTrust(
        self, request: control_pb2.AccountRef, context: Ctx
    ) -> control_pb2.KinesisTrust:
        trust = self._sinks.kinesis
        return control_pb2.KinesisTrust(
            account_sid=request.account_sid,
            external_id=trust.external_id(request.account_sid),
            platform_aws_account_id=trust.platform_account,
        )

    async def GetSinkSecret(self, request: control_pb2.SinkRef, context: Ctx) -> control_pb2.SinkSecret:
        return secret_message(request, await self._sinks.signing_secret(request.account_sid, request.sid))

    async def RotateSinkSecret(self, request: control_pb2.SinkRef, context: Ctx) -> control_pb2.SinkSecret:
        made = await self._sinks.rotate_signing_secret(request.account_sid, request.sid)
        self._signal.notify()  # the routing feed: workers sign with the new secret
        return secret_message(request, made)

    async def TestSink(self, request: control_pb2.SinkRef, context: Ctx) -> control_pb2.SinkTestResult:
        await self._sinks.test(request.account_sid, request.sid)
        self._signal.notify()
        return control_pb2.SinkTestResult(result="submitted")

    async def ValidateSink(
        self, request: control_pb2.ValidateSinkRequest, context: Ctx
    ) -> control_pb2.SinkValidateResult:
        await self._sinks.validate(request.account_sid, request.sid, request.test_id)
        self._signal.notify()
        return control_pb2.SinkValidateResult(result="valid")

    # Subscriptions

    async def CreateSubscription(
        self, request: control_pb2.CreateSubscriptionRequest, context: Ctx
    ) -> control_pb2.Subscription:
        row, events = await self._subscriptions.create(
            request.account_sid,
            request.description,
            request.sink_sid,
            [Selector(t.type, t.schema_version) for t in request.types],
            request.filter,
            request.receive_events_from_subaccounts,
            request.ordering_key,
        )
        self._signal.notify()
        return subscription_message(row, events)

    async def GetSubscription(
        self, request: control_pb2.SubscriptionRef, context: Ctx
    ) -> control_pb2.Subscription:
        row, events = await self._subscriptions.get(request.account_sid, request.sid)
        return subscription_message(row, events)

    async def ListSubscriptions(
        self, request: control_pb2.ListSubscriptionsRequest, context: Ctx
    ) -> control_pb2.ListSubscriptionsResponse:
        page, events = await self._subscriptions.find(
            request.account_sid, request.sink_sid, request.page_size, request.page_token
        )
        return control_pb2.ListSubscriptionsResponse(
            subscriptions=[subscription_message(r, events) for r in page.items],
            next_page_token=page.next_token,
            previous_page_token=page.previous_token,
        )

    async def UpdateSubscription(
        self, request: control_pb2.UpdateSubscriptionRequest, context: Ctx
    ) -> control_pb2.Subscription:
        row, events = await self._subscriptions.update(
            request.account_sid,
            request.sid,
            request.description,
            request.filter if request.HasField("filter") else None,
            request.ordering_key if request.HasField("ordering_key") else None,
        )
        self._signal.notify()
        return subscription_message(row, events)

    async def DeleteSubscription(
        self, request: control_pb2.SubscriptionRef, context: Ctx
    ) -> control_pb2.Empty:
        await self._subscriptions.delete(request.account_sid, request.sid)
        self._signal.notify()
        return control_pb2.Empty()

    # Subscribed events

    async def CreateSubscribedEvent(
        self, request: control_pb2.SubscribedEventRequest, context: Ctx
    ) -> control_pb2.SubscribedEvent:
        row = await self._subscriptions.add_event(
            request.account_sid, request.subscription_sid, request.type, request.schema_version
        )
        self._signal.notify()
        return subscribed_message(row, request.account_sid)

    async def GetSubscribedEvent(
        self, request: control_pb2.SubscribedEventRequest, context: Ctx
    ) -> control_pb2.SubscribedEvent:
        row = await self._subscriptions.get_event(request.account_sid, request.subscription_sid, request.type)
        return subscribed_message(row, request.account_sid)

    async def ListSubscribedEvents(
        self, request: control_pb2.ListSubscribedEventsRequest, context: Ctx
    ) -> control_pb2.ListSubscribedEventsResponse:
        page = await self._subscriptions.find_events(
            request.account_sid, request.subscription_sid, request.page_size, request.page_token
        )
        return control_pb2.ListSubscribedEventsResponse(
            types=[subscribed_message(r, request.account_sid) for r in page.items],
            next_page_token=page.next_token,
            previous_page_token=page.previous_token,
        )

    async def UpdateSubscribedEvent(
        self, request: control_pb2.SubscribedEventRequest, context: Ctx
    ) -> control_pb2.SubscribedEvent:
        row = await self._subscriptions.update_event(
            request.account_sid, request.subscription_sid, request.type, request.schema_version
        )
        self._signal.notify()
        return subscribed_message(row, request.account_sid)

    async def DeleteSubscribedEvent(
        self, request: control_pb2.SubscribedEventRequest, context: Ctx
    ) -> control_pb2.Empty:
        await self._subscriptions.remove_event(request.account_sid, request.subscription_sid, request.type)
        self._signal.notify()
        return control_pb2.Empty()

    # Routing feed

    async def WatchRouting(
        self, request: control_pb2.WatchRoutingRequest, context: Ctx
    ) -> AsyncIterator[control_pb2.RoutingChanges]:
        who = caller(context)
        if request.with_auth_tokens and not may_read_auth_tokens(who):
            raise PermissionDenied(f"{who.name} ({who.role}) may not read accounts' auth tokens")
        async for changes in self._feed.watch(
            request.known_revision, request.with_auth_tokens, request.on_demand
        ):
            yield changes

    async def GetRouting(
        self, request: control_pb2.GetRoutingRequest, context: Ctx
    ) -> control_pb2.RoutingChanges:
        who = caller(context)
        if request.with_auth_tokens and not may_read_auth_tokens(who):
            raise PermissionDenied(f"{who.name} ({who.role}) may not read accounts' auth tokens")
        if len(request.account_sids) > FETCH_ACCOUNTS:
            raise InvalidArgument(f"at most {FETCH_ACCOUNTS} accounts a call")
        return await self._feed.fetch(list(request.account_sids), request.with_auth_tokens)
