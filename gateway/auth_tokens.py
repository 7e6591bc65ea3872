"""Twilio's Accounts v1 auth-token rotation: `/v1/AuthTokens/Secondary` (create, delete) and
`/v1/AuthTokens/Promote` — so `client.accounts.v1.secondary_auth_token().create()` and
`client.accounts.v1.auth_token_promotion().update()` work.

While a secondary auth token exists both tokens authenticate; the auth token (the primary)
alone signs webhook deliveries. Promotion makes the secondary the auth token — deliveries
are signed with it from then on — and the old one authenticates no more. Like the Accounts
resources these answer only to the account's auth token, never to an API key."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from eventstreams.v1 import control_pb2
from gateway.accounts import require_auth_token
from gateway.context import Backends, Call, authenticated, created, no_content, ok
from gateway.routing import resources

SECONDARY = "/v1/AuthTokens/Secondary"
PROMOTE = "/v1/AuthTokens/Promote"


async def create_secondary(call: Call) -> Any:
    require_auth_token(call)
    made = await call.backends.control.CreateSecondaryAuthToken(
        control_pb2.AccountRef(account_sid=call.account.sid)
    )
    return created(
        {
            "account_sid": made.account_sid,
            "date_created": made.date_created,
            "date_updated": made.date_updated,
            "secondary_auth_token": made.secondary_auth_token,  # shown this once
            "url": call.url(SECONDARY),
        }
    )


async def delete_secondary(call: Call) -> Any:
    require_auth_token(call)
    await call.backends.control.DeleteSecondaryAuthToken(control_pb2.AccountRef(account_sid=call.account.sid))
    call.backends.auth.forget_account(call.account.sid)
    return no_content()


async def promote(call: Call) -> Any:
    require_auth_token(call)
    account = await call.backends.control.PromoteSecondaryAuthToken(
        control_pb2.AccountRef(account_sid=call.account.sid)
    )
    call.backends.auth.forget_account(call.account.sid)
    return ok(
        {
            "account_sid": account.sid,
            "auth_token": account.auth_token,
            "date_created": account.date_created,
            "date_updated": account.date_updated,
            "url": call.url(PROMOTE),
        }
    )


def routes(backends: Backends) -> list[Route]:
    return resources(
        (SECONDARY, "POST", authenticated(backends, create_secondary)),
        (SECONDARY, "DELETE", authenticated(backends, delete_secondary)),
        (PROMOTE, "POST", authenticated(backends, promote)),
    )
