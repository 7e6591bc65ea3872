"""A minimal subset of Twilio's 2010-04-01 API: subaccounts (create, fetch, list, update —
FriendlyName, and Status `active | suspended | closed` by the parent) and API keys (create,
list, fetch, delete) — so `client.api.v2010.accounts.create(...)`,
`client.api.v2010.accounts(sid).update(status="suspended")` and
`client.api.v2010.account.new_keys.create()` work. These answer only to an account's auth
token, as Twilio's do: an API key cannot manage accounts or keys."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from typing import Any

from starlette.routing import Route

from eventstreams.v1 import control_pb2
from gateway import forms
from gateway.context import Backends, Call, authenticated, created, no_content, ok
from gateway.paging import PageRequest, PageTokens
from gateway.routing import resources
from runtime.errors import ServiceError

API = "/2010-04-01"


class KeyNotAllowed(ServiceError):
    http_status = 403
    twilio_code = 20403


def rfc2822(iso: str) -> str:
    """The 2010-04-01 API writes dates as RFC 2822, e.g. 'Thu, 30 Jul 2015 20:00:00 +0000'."""
    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def account_body(a: control_pb2.Account) -> dict[str, Any]:
    uri = f"{API}/Accounts/{a.sid}.json"
    return {
        "auth_token": a.auth_token,
        "date_created": rfc2822(a.date_created),
        "date_updated": rfc2822(a.date_updated),
        "friendly_name": a.friendly_name,
        "owner_account_sid": a.owner_account_sid or a.sid,
        "sid": a.sid,
        "status": a.status,
        "subresource_uris": {"keys": f"{API}/Accounts/{a.sid}/Keys.json"},
        "type": "Full",
        "uri": uri,
    }


def key_body(k: control_pb2.ApiKey, with_secret: bool = False) -> dict[str, Any]:
    body = {
        "sid": k.sid,
        "friendly_name": k.friendly_name,
        "date_created": rfc2822(k.date_created),
        "date_updated": rfc2822(k.date_updated),
    }
    if with_secret:
        body["secret"] = k.secret
    return body


def legacy_page(
    key: str,
    items: list[dict[str, Any]],
    path: str,
    filters: dict[str, str],
    page: PageRequest,
    found: PageTokens,
) -> dict[str, Any]:
    next_token, previous_token = found.next_page_token, found.previous_page_token

    def uri(number: int, token: str) -> str:
        return page.link(path, filters, number, token)

    start = page.page * page.size
    return {
        key: items,
        "end": start + max(0, len(items) - 1),
        "first_page_uri": uri(0, ""),
        "next_page_uri": uri(page.page + 1, next_token) if next_token else None,
        "page": page.page,
        "page_size": page.size,
        "previous_page_uri": uri(max(0, page.page - 1), previous_token) if previous_token else None,
        "start": start,
        "uri": uri(page.page, page.token),
    }


def require_auth_token(call: Call) -> None:
    if call.principal.api_key_sid:
        raise KeyNotAllowed("API keys cannot manage accounts or keys; use the account's auth token")


async def _target_account(call: Call) -> str:
    """The account named in the path: the caller's own or one of its subaccounts."""
    require_auth_token(call)
    sid = call.request.path_params["account"]
    await call.backends.control.GetAccount(
        control_pb2.GetAccountRequest(account_sid=call.account.sid, sid=sid)
    )
    return str(sid)


async def create_account(call: Call) -> Any:
    require_auth_token(call)
    form = await call.form()
    forms.reject_unknown(form, {"FriendlyName"})
    account = await call.backends.control.CreateAccount(
        control_pb2.CreateAccountRequest(
            friendly_name=forms.optional(form, "FriendlyName"), owner_account_sid=call.account.sid
        )
    )
    return created(account_body(account))


async def fetch_account(call: Call) -> Any:
    require_auth_token(call)
    account = await call.backends.control.GetAccount(
        control_pb2.GetAccountRequest(account_sid=call.account.sid, sid=call.request.path_params["account"])
    )
    return ok(account_body(account))


async def update_account(call: Call) -> Any:
    require_auth_token(call)
    form = await call.form()
    forms.reject_unknown(form, {"FriendlyName", "Status"})
    sid = call.request.path_params["account"]
    account = await call.backends.control.UpdateAccount(
        control_pb2.UpdateAccountRequest(
            account_sid=call.account.sid,
            sid=sid,
            friendly_name=str(form["FriendlyName"]) if "FriendlyName" in form else None,
            status=str(form["Status"]) if "Status" in form else None,
        )
    )
    if "Status" in form:
        # Its credentials, keys included, stop working here at once (other replicas trust
        # their cache for at most ES_AUTH_CACHE_SECONDS).
        call.backends.auth.forget_account(sid)
    return ok(account_body(account))


async def list_accounts(call: Call) -> Any:
    require_auth_token(call)
    params = call.request.query_params
    page = PageRequest.read(params, "FriendlyName", "Status")
    friendly_name = forms.optional(params, "FriendlyName")
    status = forms.optional(params, "Status")
    found = await call.backends.control.ListAccounts(
        control_pb2.ListAccountsRequest(
            account_sid=call.account.sid,
            friendly_name=friendly_name,
            page_size=page.size,
            page_token=page.token,
        )
    )
    accounts = [account_body(a) for a in found.accounts if not status or a.status == status]
    filters = {k: v for k, v in {"FriendlyName": friendly_name, "Status": status}.items() if v}
    return ok(
        legacy_page(
            "accounts",
            accounts,
            f"{API}/Accounts.json",
            filters,
            page,
            found,
        )
    )


async def create_key(call: Call) -> Any:
    owner = await _target_account(call)
    form = await call.form()
    forms.reject_unknown(form, {"FriendlyName"})
    key = await call.backends.control.CreateApiKey(
        control_pb2.CreateApiKeyRequest(account_sid=owner, friendly_name=forms.optional(form, "FriendlyName"))
    )
    return created(key_body(key, with_secret=True))


async def list_keys(call: Call) -> Any:
    owner = await _target_account(call)
    params = call.request.query_params
    page = PageRequest.read(params)
    found = await call.backends.control.ListApiKeys(
        control_pb2.ListApiKeysRequest(account_sid=owner, page_size=page.size, page_token=page.token)
    )
    return ok(
        legacy_page(
            "keys",
            [key_body(k) for k in found.keys],
            f"{API}/Accounts/{owner}/Keys.json",
            {},
            page,
            found,
        )
    )


async def fetch_key(call: Call) -> Any:
    owner = await _target_account(call)
    key = await call.backends.control.GetApiKey(
        control_pb2.GetApiKeyRequest(account_sid=owner, sid=call.request.path_params["sid"])
    )
    return ok(key_body(key))


async def delete_key(call: Call) -> Any:
    owner = await _target_account(call)
    sid = call.request.path_params["sid"]
    await call.backends.control.DeleteApiKey(control_pb2.DeleteApiKeyRequest(account_sid=owner, sid=sid))
    call.backends.auth.forget(sid)
    return no_content()


def routes(backends: Backends) -> list[Route]:
    return resources(
        (f"{API}/Accounts.json", "GET", authenticated(backends, list_accounts)),
        (f"{API}/Accounts.json", "POST", authenticated(backends, create_account)),
        (f"{API}/Accounts/{{account}}.json", "GET", authenticated(backends, fetch_account)),
        (f"{API}/Accounts/{{account}}.json", "POST", authenticated(backends, update_account)),
        (f"{API}/Accounts/{{account}}/Keys.json", "GET", authenticated(backends, list_keys)),
        (f"{API}/Accounts/{{account}}/Keys.json", "POST", authenticated(backends, create_key)),
        (f"{API}/Accounts/{{account}}/Keys/{{sid}}.json", "GET", authenticated(backends, fetch_key)),
        (f"{API}/Accounts/{{account}}/Keys/{{sid}}.json", "DELETE", authenticated(backends, delete_key)),
    )
