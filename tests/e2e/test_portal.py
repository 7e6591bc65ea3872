"""The tenant portal: a parent account issues a signed, expiring link to one of its
subaccounts; the link opens the console scoped to that subaccount, and the gateway — not the
page — keeps every call made with its session to that account's sinks, subscriptions,
delivery logs and error log. Another subaccount's or the parent's resources are Twilio's
404; accounts, keys and usage are 403; an expired or tampered link is 401."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc
from tests.helpers import create_webhook_sink, subscribe
from tests.support import console_browser
from tests.support.console_browser import NARROW, at_widths, confirm, new_page, sign_in

pytestmark = pytest.mark.e2e

TYPE = "com.twilio.messaging.message.delivered"
COOKIE = "evs_portal"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async for launched in console_browser.browser():
        yield launched


async def subaccount(rest: httpx.AsyncClient, name: str) -> httpx.AsyncClient:
    made = await rest.post("/2010-04-01/Accounts.json", data={"FriendlyName": name})
    assert made.status_code == 201, made.text
    body = made.json()
    return httpx.AsyncClient(
        base_url=str(rest.base_url),
        auth=(body["sid"], body["auth_token"]),
        headers={"X-Account-Sid": body["sid"]},  # for sub_sid; the gateway ignores it
        timeout=30,
    )


def sub_sid(client: httpx.AsyncClient) -> str:
    """A subaccount's SID: its client's username."""
    return str(client.headers.get("X-Account-Sid"))


async def link(rest: httpx.AsyncClient, account_sid: str, ttl: int = 300) -> dict[str, Any]:
    made = await rest.post("/v1/PortalLinks", data={"AccountSid": account_sid, "Ttl": str(ttl)})
    assert made.status_code == 201, made.text
    return dict(made.json())


async def session(suite: Suite, token: str) -> httpx.AsyncClient:
    """A client holding only the portal's session cookie, as the console's page does."""
    anonymous = httpx.AsyncClient(base_url=suite.gateway_url, timeout=30)
    opened = await anonymous.post("/v1/PortalSessions", data={"Token": token})
    assert opened.status_code == 201, opened.text
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    anonymous.headers["Cookie"] = f"{COOKIE}={opened.cookies[COOKIE]}"
    return anonymous


def twilio_refusal(response: httpx.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["message"] and body["more_info"]


async def test_a_portal_session_reaches_its_subaccount_only(
    suite: Suite,
    rest: httpx.AsyncClient,
    account: control_pb2.Account,
    control: control_pb2_grpc.ControlAsyncStub,
) -> None:
    a = await subaccount(rest, "tenant A")
    b = await subaccount(rest, "tenant B")
    async with a, b:
        a_sink = await create_webhook_sink(a, "http://127.0.0.1:9/a")
        a_subscription = await subscribe(a, a_sink["sid"], TYPE)
        b_sink = await create_webhook_sink(b, "http://127.0.0.1:9/b")
        b_subscription = await subscribe(b, b_sink["sid"], TYPE)
        parent_sink = await create_webhook_sink(rest, "http://127.0.0.1:9/parent")

        portal = await session(suite, (await link(rest, sub_sid(a)))["token"])
        try:
            # A's own: listed and reachable.
            listed = (await portal.get("/v1/Sinks")).json()["sinks"]
            assert [s["sid"] for s in listed] == [a_sink["sid"]]
            assert (await portal.get(f"/v1/Sinks/{a_sink['sid']}/Deliveries")).status_code == 200
            subscriptions = (await portal.get("/v1/Subscriptions")).json()["subscriptions"]
            assert [s["sid"] for s in subscriptions] == [a_subscription["sid"]]
            assert (await portal.get("/v1/Alerts")).status_code == 200
            # B's and the parent's: not found, read or written, as if they did not exist.
            for sid in (b_sink["sid"], parent_sink["sid"]):
                twilio_refusal(await portal.get(f"/v1/Sinks/{sid}"), 404, 20404)
                twilio_refusal(await portal.get(f"/v1/Sinks/{sid}/Deliveries"), 404, 20404)
                twilio_refusal(await portal.get(f"/v1/Sinks/{sid}/DeadLetters"), 404, 20404)
                twilio_refusal(await portal.delete(f"/v1/Sinks/{sid}"), 404, 20404)
            twilio_refusal(await portal.get(f"/v1/Subscriptions/{b_subscription['sid']}"), 404, 20404)
            # What is the issuer's to manage is out of the portal's reach altogether.
            twilio_refusal(await portal.get("/2010-04-01/Accounts.json"), 403, 20403)
            keys = await portal.get(f"/2010-04-01/Accounts/{sub_sid(a)}/Keys.json")
            twilio_refusal(keys, 403, 20403)
            twilio_refusal(await portal.post("/v1/PortalLinks", data={}), 403, 20403)
            twilio_refusal(await portal.post("/v1/AuthTokens/Secondary"), 403, 20403)
            # A cross-site write with the cookie is refused even where SameSite is not honoured.
            crossing = await portal.post(
                "/v1/Sinks", data={}, headers={"Origin": "https://elsewhere.example"}
            )
            twilio_refusal(crossing, 403, 20403)
            # What the session writes lands in A.
            made = await create_webhook_sink(portal, "http://127.0.0.1:9/made-in-portal")
            assert (await a.get(f"/v1/Sinks/{made['sid']}")).status_code == 200
            assert (await b.get(f"/v1/Sinks/{made['sid']}")).status_code == 404
        finally:
            await portal.aclose()

        # Links are issued for the caller's own subaccounts or itself, with its auth token.
        sibling = await b.post("/v1/PortalLinks", data={"AccountSid": sub_sid(a)})
        twilio_refusal(sibling, 404, 20404)
        stranger = await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="stranger"))
        twilio_refusal(await rest.post("/v1/PortalLinks", data={"AccountSid": stranger.sid}), 404, 20404)
        own = await rest.post("/v1/PortalLinks", data={})
        assert own.status_code == 201 and own.json()["account_sid"] == account.sid
        key = (await rest.post(f"/2010-04-01/Accounts/{account.sid}/Keys.json")).json()
        async with httpx.AsyncClient(base_url=suite.gateway_url, auth=(key["sid"], key["secret"])) as keyed:
            twilio_refusal(await keyed.post("/v1/PortalLinks", data={}), 403, 20403)
        twilio_refusal(await rest.post("/v1/PortalLinks", data={"Ttl": "999999999"}), 400, 20001)


async def test_an_expired_or_tampered_link_is_refused(suite: Suite, rest: httpx.AsyncClient) -> None:
    a = await subaccount(rest, "tenant A")
    async with a:
        issued = await link(rest, sub_sid(a), 2)
        version, payload, signature = issued["token"].split(".")
        forged = f"{version}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
        anonymous = httpx.AsyncClient(base_url=suite.gateway_url, timeout=30)
        async with anonymous:
            twilio_refusal(await anonymous.post("/v1/PortalSessions", data={"Token": forged}), 401, 20003)
            # A forged session cookie is no credential either.
            forged_cookie = {"Cookie": f"{COOKIE}={forged}"}
            twilio_refusal(await anonymous.get("/v1/Sinks", headers=forged_cookie), 401, 20003)
            portal = await session(suite, issued["token"])
            try:
                assert (await portal.get("/v1/Sinks")).status_code == 200
                await asyncio.sleep(2.5)
                expired = await portal.get("/v1/Sinks")
                twilio_refusal(expired, 401, 20003)
                assert "expired" in expired.json()["message"]
            finally:
                await portal.aclose()
            again = await anonymous.post("/v1/PortalSessions", data={"Token": issued["token"]})
            twilio_refusal(again, 401, 20003)

            # A subaccount suspended by its parent: its session and its links stop working.
            lasting = await link(rest, sub_sid(a), 300)
            portal = await session(suite, lasting["token"])
            try:
                suspended = await rest.post(
                    f"/2010-04-01/Accounts/{sub_sid(a)}.json", data={"Status": "suspended"}
                )
                assert suspended.status_code == 200, suspended.text
                refused = await portal.get("/v1/Sinks")
                twilio_refusal(refused, 401, 20003)
                assert "not active" in refused.json()["message"]
            finally:
                await portal.aclose()
            reopened = await anonymous.post("/v1/PortalSessions", data={"Token": lasting["token"]})
            twilio_refusal(reopened, 401, 20003)


async def test_an_issuer_expires_every_link_and_session_of_an_account_at_once(
    suite: Suite, rest: httpx.AsyncClient, control: control_pb2_grpc.ControlAsyncStub
) -> None:
    """A link handed to the wrong person is ended without waiting out its lifetime or
    rotating the gateway's secret; the account's other tenants' links keep working."""
    a = await subaccount(rest, "tenant A")
    b = await subaccount(rest, "tenant B")
    async with a, b:
        # Only the caller's own account or its subaccounts.
        stranger = await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="stranger"))
        twilio_refusal(
            await rest.post("/v1/PortalLinks/ExpireAll", data={"AccountSid": stranger.sid}), 404, 20404
        )
        twilio_refusal(await b.post("/v1/PortalLinks/ExpireAll", data={"AccountSid": sub_sid(a)}), 404, 20404)
        first, second = await link(rest, sub_sid(a)), await link(rest, sub_sid(a))
        others = await link(rest, sub_sid(b))
        portal = await session(suite, first["token"])
        anonymous = httpx.AsyncClient(base_url=suite.gateway_url, timeout=30)
        async with anonymous:
            try:
                assert (await portal.get("/v1/Sinks")).status_code == 200
                # Not from the portal itself, nor with an API key: the issuer's auth token only.
                twilio_refusal(await portal.post("/v1/PortalLinks/ExpireAll", data={}), 403, 20403)
                expired = await rest.post("/v1/PortalLinks/ExpireAll", data={"AccountSid": sub_sid(a)})
                assert expired.status_code == 200, expired.text
                assert expired.json()["account_sid"] == sub_sid(a) and expired.json()["date_expired"]
                refused = await portal.get("/v1/Sinks")
                twilio_refusal(refused, 401, 20003)
                assert "expired by its issuer" in refused.json()["message"]
            finally:
                await portal.aclose()
            for token in (first["token"], second["token"]):
                again = await anonymous.post("/v1/PortalSessions", data={"Token": token})
                twilio_refusal(again, 401, 20003)
            # Another account's links, and a link made afterwards, work.
            for made in (others, await link(rest, sub_sid(a))):
                fresh = await session(suite, made["token"])
                try:
                    assert (await fresh.get("/v1/Sinks")).status_code == 200
                finally:
                    await fresh.aclose()


async def accounts_page(page: Any, suite: Suite, account: control_pb2.Account) -> None:
    """The parent signed in to its console, on its accounts page."""
    await sign_in(page, suite.gateway_url, account.sid, account.auth_token)
    await page.click("a[href='#/accounts']")


async def test_the_portal_in_a_browser(
    suite: Suite, browser: Any, rest: httpx.AsyncClient, account: control_pb2.Account
) -> None:
    """The link opens the console on the subaccount's sinks (at a phone's width), with no
    credential a script could read, nothing of its siblings', and no way to the rest."""
    backend = "postgres" if "postgres" in suite.control_db else "sqlite"
    a = await subaccount(rest, "Acme (tenant A)")
    b = await subaccount(rest, "tenant B")
    async with a, b:
        a_sink = await create_webhook_sink(a, "http://127.0.0.1:9/a")
        await subscribe(a, a_sink["sid"], TYPE)
        b_sink = await create_webhook_sink(b, "http://127.0.0.1:9/b")

        # The parent makes the link in its console, on its accounts page.
        parent = await new_page(browser)
        try:
            await accounts_page(parent, suite, account)
            await parent.select_option(f"#portal-ttl-{sub_sid(a)}", "900")
            await parent.click(f"button[data-portal-link='{sub_sid(a)}']")
            made = parent.locator(f"input[data-portal-url='{sub_sid(a)}']")
            await made.wait_for()
            url = await made.input_value()
            await at_widths(parent, "the accounts page", "accounts", backend)
        finally:
            await parent.context.close()
        assert url.startswith(f"{suite.gateway_url}/console/#/portal/")

        page = await new_page(browser, NARROW)
        try:
            # A link whose token was changed opens nothing, and says so.
            await page.goto(url[:-3] + ("xyz" if not url.endswith("xyz") else "abc"))
            await page.locator("#portal-ended", has_text="signature").wait_for()
            await at_widths(page, "a refused link", "portal-refused", backend)
            await page.goto(url)
            await page.locator("#sinks tbody tr", has_text=a_sink["sid"]).wait_for()
            assert await page.locator("#sinks tbody tr").count() == 1
            assert "Acme (tenant A)" in await page.inner_text("#who")
            assert await page.is_hidden("#nav-types") and await page.is_hidden("#nav-accounts")
            # The token left the address bar; the session is a cookie no script can read.
            assert "portal" not in page.url
            assert await page.evaluate("document.cookie") == ""
            stored = await page.evaluate("JSON.stringify(Object.assign({}, sessionStorage))")
            assert url.rsplit("/", 1)[1] not in stored and "auth_token" not in stored
            await at_widths(page, "the portal's sinks", "portal-sinks", backend)

            # Its sink's page works; B's is not found, whatever the page is asked for.
            await page.goto(f"{suite.gateway_url}/console/#/sinks/{a_sink['sid']}")
            await page.locator("#delivery-log").wait_for()
            await page.goto(f"{suite.gateway_url}/console/#/sinks/{b_sink['sid']}")
            await page.wait_for_selector("#toast:has-text('20404')")
            await page.goto(f"{suite.gateway_url}/console/#/subscriptions")
            await page.locator("#subscriptions tbody tr").first.wait_for()
            await page.goto(f"{suite.gateway_url}/console/#/alerts")
            await page.locator("#alert-filters").wait_for()
            await at_widths(page, "the portal's error log", None, backend)

            # Signing out ends the session on the gateway's side too.
            await page.click("#sign-out")
            await page.wait_for_selector("#portal-ended")
            assert (await page.context.request.get(f"{suite.gateway_url}/v1/Sinks")).status == 401
        finally:
            await page.context.close()

        # The parent ends A's links from its accounts page: the link opens nothing after that.
        parent = await new_page(browser)
        try:
            await accounts_page(parent, suite, account)
            await parent.click(f"button[data-portal-expire='{sub_sid(a)}']")
            await confirm(parent, "Acme (tenant A)")
            await parent.locator(f"[data-portal-expired='{sub_sid(a)}']").wait_for()
        finally:
            await parent.context.close()
        page = await new_page(browser, NARROW)
        try:
            await page.goto(url)
            await page.locator("#portal-ended", has_text="expired by its issuer").wait_for()
        finally:
            await page.context.close()


async def evs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "evs", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def test_evs_prints_a_portal_link_and_expires_it(
    suite: Suite, rest: httpx.AsyncClient, account: control_pb2.Account
) -> None:
    a = await subaccount(rest, "tenant A")
    async with a:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "EVS_"))}
        env |= {
            "TWILIO_ACCOUNT_SID": account.sid,
            "TWILIO_AUTH_TOKEN": account.auth_token,
            "EVS_URL": suite.gateway_url,
            "EVS_CONFIG": "/nonexistent/evs.json",
        }
        done = await evs(env, "portal-link", sub_sid(a), "--ttl", "60")
        assert done.returncode == 0, done.stderr
        url = done.stdout.strip()
        assert url.startswith(f"{suite.gateway_url}/console/#/portal/") and sub_sid(a) in done.stderr
        portal = await session(suite, url.rsplit("/", 1)[1])
        try:
            assert (await portal.get("/v1/Sinks")).status_code == 200
            expired = await evs(env, "portal-expire", sub_sid(a))
            assert expired.returncode == 0, expired.stderr
            assert f"portal links of {sub_sid(a)} issued until" in expired.stdout
            assert (await portal.get("/v1/Sinks")).status_code == 401
        finally:
            await portal.aclose()
