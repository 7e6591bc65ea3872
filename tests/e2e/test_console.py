"""The web console in a real browser: Debian's headless Chromium driven by Playwright, against
the running suite — sign in (and what a failed one says), create a sink and a subscription
through the UI, publish events, see them in the live delivery log (filtered) and the charts,
dead letters with their dates and events, redrive and delete after a confirmation, schema
versions with their fields — every page at 1280 and 420 px without sideways scrolling and
without a serious axe-core violation. Screenshots go to test-artifacts/console/ (and
docs/console/ under `make console-screenshots`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from devkit.receiver import Received, Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, router_pb2_grpc
from tests.helpers import create_webhook_sink, publish_when_routed, sample, subscribe
from tests.support import console_browser
from tests.support.certificates import self_signed
from tests.support.console_browser import at_widths, check, confirm, new_page, sign_in

pytestmark = pytest.mark.e2e

TYPE = "com.twilio.messaging.message.delivered"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async for launched in console_browser.browser():
        yield launched


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    opened = await new_page(browser)
    yield opened
    await opened.context.close()


def backend_of(suite: Suite) -> str:
    return "postgres" if "postgres" in suite.control_db else "sqlite"


async def test_the_console_drives_a_sink_end_to_end(
    suite: Suite,
    page: Any,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
    rest: httpx.AsyncClient,
) -> None:
    backend = backend_of(suite)
    refusing = {"on": False}

    def respond(_record: Received) -> web.Response:
        return web.Response(status=410 if refusing["on"] else 200)

    receiver.responder = respond

    # Sign in: a malformed SID is caught before asking; a wrong token says what is wrong and
    # keeps the SID typed; the right one gets in.
    await page.goto(f"{suite.gateway_url}/console/")
    await page.fill("#account-sid", "AC123")
    await page.fill("#auth-token", "x")
    await page.click("#sign-in-button")
    assert "not an Account SID" in await page.inner_text("#sign-in-error")
    await page.fill("#account-sid", account.sid)
    await page.fill("#auth-token", "0" * 32)
    await page.click("#sign-in-button")
    await page.locator("#sign-in-error", has_text="do not match").wait_for()
    assert await page.input_value("#account-sid") == account.sid
    assert await page.is_hidden("#nav") and await page.is_hidden("#sign-out")  # not signed in yet
    await at_widths(page, "sign-in", "sign-in", backend)
    await page.fill("#auth-token", account.auth_token)
    await page.click("#sign-in-button")
    await page.wait_for_selector("#create-sink")

    # A webhook sink, created through the form.
    # Its form is the type's, as the gateway's sink-type registry describes it.
    destination = f"http://127.0.0.1:{receiver.port}/console"
    await page.fill("#sink-description", "made in the console")
    await page.select_option("#sink-type", "kinesis")
    # Its ExternalId field holds the one issued to the account.
    await page.wait_for_function("(document.querySelector('#sink-config-external_id') || {}).value")
    await page.select_option("#sink-type", "webhook")
    await page.fill("#sink-config-destination", destination)
    assert await page.input_value("#sink-config-method") == "POST"
    await page.click("#create-sink button[type=submit]")
    row = page.locator("#sinks tbody tr", has_text="made in the console")
    await row.wait_for()
    sink_sid = (await row.locator("code").first.inner_text()).strip()
    assert await row.locator("[data-state=active]").count() == 1
    await row.locator(f"[data-health='{sink_sid}'] [data-state]").wait_for()
    await at_widths(page, "sinks", "sinks", backend)

    # Tested, then validated with the test event's test_id, asked for in a dialog.
    await page.click(f"#sinks button[data-test='{sink_sid}']")
    await page.wait_for_selector("#toast:has-text('Test event')")

    def test_ids(received: Receiver) -> list[str]:
        return [e["data"]["test_id"] for e in received.events() if e.get("type", "").endswith("test-event")]

    await receiver.wait_for(lambda received: bool(test_ids(received)))
    await page.click(f"#sinks button[data-validate='{sink_sid}']")
    await page.locator("#confirm-input").wait_for()
    await page.fill("#confirm-input", test_ids(receiver)[0])
    await page.click("#confirm-ok")
    await page.wait_for_selector("#toast:has-text('validated')")

    # A subscription to it, edited in place.
    await page.click("a[href='#/subscriptions']")
    await page.wait_for_selector("#create-subscription")
    await page.select_option("#subscription-sink", sink_sid)
    await page.fill("#subscription-description", "console subscription")
    await page.fill("#subscription-types", f"{TYPE}:7")
    await page.click("#create-subscription button[type=submit]")
    await page.locator("#subscriptions tbody tr", has_text=f"{TYPE} (v7)").wait_for()
    await page.fill("#subscriptions input[data-description]", "renamed in the console")
    await page.click("#subscriptions button[data-save]")
    await page.wait_for_selector("#toast:has-text('Saved')")
    [saved] = (await rest.get("/v1/Subscriptions", params={"SinkSid": sink_sid})).json()["subscriptions"]
    assert saved["description"] == "renamed in the console"
    sent = "com.twilio.messaging.message.sent"
    await page.fill("#subscriptions input[data-add-type]", f"{sent}:1")
    await page.click("#subscriptions button[data-add]")
    await page.locator("#subscriptions tbody tr", has_text=f"{sent} (v1)").wait_for()
    subscribed = await rest.get(f"/v1/Subscriptions/{saved['sid']}/SubscribedEvents")
    assert {t["type"] for t in subscribed.json()["types"]} == {TYPE, sent}
    await at_widths(page, "subscriptions", "subscriptions", backend)

    # Events published arrive in the live log of the sink's page, and in its charts at once.
    events = [sample(account.sid) for _ in range(3)]
    await publish_when_routed(router, events)
    await page.goto(f"{suite.gateway_url}/console/#/sinks/{sink_sid}")
    for event in events:
        await page.locator("#deliveries", has_text=event.id).wait_for()
    await page.locator("#health [data-state]").wait_for()
    assert await page.locator("#charts svg[data-chart]").count() == 2
    delivered = page.locator("#charts svg[data-chart=rate] rect[data-outcome=delivered]")
    await delivered.first.wait_for(timeout=3000)
    # One attempt in full.
    await page.locator(f"#deliveries tr:has-text('{events[0].id}') button[data-details]").click()
    detail = page.locator("[data-attempt-detail]").first
    await detail.locator("h3", has_text="Request").wait_for()  # the call as sent, and answered
    assert events[0].id in await detail.inner_text() and "status" in await detail.inner_text()
    await detail.locator("button[data-resend]").click()
    await confirm(page, "Send event")
    await page.wait_for_selector("#toast:has-text('sent again')")
    await receiver.wait_for(lambda r: sum(events[0].id in x.body.decode() for x in r.received) >= 2)

    # A dead letter (the receiver refuses): its date and its event on the page; redriven,
    # after a confirmation, once the receiver accepts again.
    refusing["on"] = True
    refused = sample(account.sid)
    await publish_when_routed(router, [refused])
    letter = page.locator("#dead-letter-list tbody tr", has_text=refused.id)
    await letter.wait_for(timeout=30_000)
    assert await letter.locator("time[datetime]").count() >= 1
    await letter.locator("summary").click()
    assert refused.id in await letter.locator("pre.payload").inner_text()
    await at_widths(page, "a sink's page", "sink", backend)
    refusing["on"] = False
    await page.click("#redrive-all")
    await confirm(page, "Redrive all 1 dead letter")
    await page.wait_for_selector("#no-dead-letters")
    await receiver.wait_for(lambda r: sum(refused.id in x.body.decode() for x in r.received) >= 2)

    # A replay of the last hour, started (and confirmed) from the page, runs to its end there.
    await page.click("#start-replay button[type=submit]")
    await confirm(page, "Replay every event stored since")
    await page.locator("#replay-list [data-state=completed]").wait_for(timeout=30_000)
    progress = page.locator("#replay-list progress").first
    assert await progress.get_attribute("value") == await progress.get_attribute("max")

    # Paused (after a confirmation) and resumed from the sink's page.
    await page.click(f"button[data-pause='{sink_sid}']")
    await confirm(page, "Pause sink")
    await page.locator("h1 [data-state=paused]").wait_for()
    assert (await rest.get(f"/v1/Sinks/{sink_sid}")).json()["status"] == "paused"
    await page.click(f"button[data-resume='{sink_sid}']")
    await page.locator("h1 [data-state=active]").wait_for()

    # The catalogue: a schema's versions, the newest open with its fields.
    await page.click("a[href='#/types']")
    await page.fill("#type-search", "message.delivered")
    await page.locator("#types tbody tr", has_text=TYPE).first.locator("a").click()
    newest = page.locator("#versions details[open]")
    await newest.locator("table tbody tr").first.wait_for()
    assert await newest.locator("td", has_text="required").count() >= 1
    assert await newest.locator("code", has_text="messageSid").count() >= 1
    await at_widths(page, "a schema's versions", "types", backend, full_page=False)

    # The error log lists the refused attempts.
    await page.click("a[href='#/alerts']")
    await page.locator("#alerts tbody tr", has_text=refused.id).first.wait_for()
    await at_widths(page, "the error log", "alerts", backend)

    # Deleting asks first: cancelled, the sink stays; confirmed while a subscription uses it,
    # the API's refusal is shown; once the subscription is deleted (confirmed too), it goes.
    await page.click("a[href='#/sinks']")
    await page.click(f"#sinks button[data-delete='{sink_sid}']")
    await page.locator("#confirm").wait_for(state="visible")
    await page.click("#confirm-cancel")
    assert (await rest.get(f"/v1/Sinks/{sink_sid}")).status_code == 200
    await page.click(f"#sinks button[data-delete='{sink_sid}']")
    await confirm(page, "This cannot be undone")
    await page.wait_for_selector("#toast:has-text('in use by subscription')")
    await page.click("a[href='#/subscriptions']")
    await page.click(f"#subscriptions button[data-delete='{saved['sid']}']")
    await confirm(page, "Delete subscription")
    await page.locator("#subscriptions").wait_for(state="detached")
    await page.click("a[href='#/sinks']")
    await page.click(f"#sinks button[data-delete='{sink_sid}']")
    await confirm(page, "This cannot be undone")
    await page.locator("#sinks tbody tr", has_text=sink_sid).wait_for(state="detached")
    assert (await rest.get(f"/v1/Sinks/{sink_sid}")).status_code == 404


async def test_a_failing_sink_shows_its_failures_and_the_newest_attempts(
    suite: Suite,
    page: Any,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
    rest: httpx.AsyncClient,
) -> None:
    """A sink that refuses every event: the rate chart shows the failures (by outcome, on
    axes), the live log shows the newest attempts past the page it has room for, and its
    filters (outcome, event id, event type, time range) narrow it."""
    backend = backend_of(suite)
    receiver.responder = lambda _record: web.Response(status=400)  # refused for good: dead letters
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/refuses")
    await subscribe(rest, sink["sid"], TYPE)
    events = [sample(account.sid) for _ in range(30)]  # more than the log's 25 rows
    await publish_when_routed(router, events)
    await receiver.wait_for(lambda r: len(r.received) >= len(events), 60)

    await sign_in(page, suite.gateway_url, account.sid, account.auth_token)
    await page.goto(f"{suite.gateway_url}/console/#/sinks/{sink['sid']}")

    rate = page.locator("#charts svg[data-chart=rate]")
    await rate.locator("rect[data-outcome=failed]").first.wait_for()
    failed = page.locator("#charts [data-total=failed]", has_text=f"{len(events)} failed")
    await failed.wait_for(timeout=30_000)
    assert await rate.locator("rect[data-outcome=delivered]").count() == 0
    assert await rate.locator("line.axis").count() == 2
    assert await rate.locator("text", has_text="now").count() == 1  # the time axis, labelled
    assert int(await rate.locator("[data-y-max]").get_attribute("data-y-max")) >= 1
    latency = page.locator("#charts svg[data-chart=latency]")
    assert await latency.locator("rect[data-outcome=failed]").count() >= 1

    # Newest first: the log shows the API's first page, and says there is more.
    found = await rest.get(f"/v1/Sinks/{sink['sid']}/Deliveries", params={"PageSize": 25})
    for attempt in found.json()["deliveries"][:3]:
        await page.locator("#deliveries", has_text=attempt["event_id"]).wait_for(timeout=30_000)
    assert await page.locator("#deliveries tbody tr").count() == 25
    assert "there are more" in await page.inner_text("#delivery-log")
    await at_widths(page, "a failing sink", "failing-sink", backend, full_page=False)

    # Filters: by event id, by outcome, by event type, by time.
    one = events[7].id
    await page.fill("#log-event", one)
    await page.click("#log-filters button[type=submit]")
    await page.wait_for_function("document.querySelectorAll('#deliveries tbody tr').length === 1")
    assert await page.locator("#deliveries tbody tr", has_text=one).count() == 1
    await page.click("#log-clear")
    await page.select_option("#log-outcome", "delivered")
    await page.wait_for_selector("#no-deliveries")
    await page.select_option("#log-outcome", "failed")
    await page.locator("#deliveries tbody tr").first.wait_for()
    await page.select_option("#log-outcome", "")
    await page.fill("#log-type", "com.twilio.messaging.message.sent")
    # The time range and type are the API's filters, not the page's: one request asks for them.
    async with page.expect_request(lambda r: "EventType=com.twilio.messaging.message.sent" in r.url):
        await page.click("#log-filters button[type=submit]")
    await page.wait_for_selector("#no-deliveries")
    await page.fill("#log-type", TYPE)
    await page.click("#log-filters button[type=submit]")
    await page.locator("#deliveries tbody tr").first.wait_for()
    await page.fill("#log-type", "")
    await page.select_option("#log-range", "custom")
    later = (datetime.now(UTC) + timedelta(days=1)).astimezone()
    await page.fill("#log-from", later.strftime("%Y-%m-%dT%H:%M:%S"))
    async with page.expect_request(lambda r: "StartDate=" in r.url and "EventType" not in r.url):
        await page.click("#log-filters button[type=submit]")
    await page.wait_for_selector("#no-deliveries")
    await page.select_option("#log-range", "15")
    await page.locator("#deliveries tbody tr").first.wait_for()
    await check(page, "the filtered log")


async def test_a_sinks_signing_secret_is_shown_and_rotated_by_an_api_key(
    suite: Suite, page: Any, account: control_pb2.Account, rest: httpx.AsyncClient
) -> None:
    made = await rest.post(
        "/v1/Sinks",
        data={
            "Description": "signed by its own secret",
            "SinkType": "webhook",
            "SinkConfiguration": json.dumps(
                {"destination": "http://127.0.0.1:9/x", "method": "POST", "signing": "standard-webhooks"}
            ),
        },
    )
    assert made.status_code == 201, made.text
    sid = made.json()["sid"]
    # Signed in with an API key this time: sinks are its to manage, accounts are not.
    key = (await rest.post(f"/2010-04-01/Accounts/{account.sid}/Keys.json")).json()
    await page.goto(f"{suite.gateway_url}/console/")
    await page.fill("#account-sid", account.sid)
    await page.fill("#api-key", key["sid"])
    await page.fill("#auth-token", key["secret"])
    await page.click("#sign-in-button")
    await page.wait_for_selector("#create-sink")
    await page.click("a[href='#/accounts']")
    await page.wait_for_selector("#accounts-refused")
    await page.goto(f"{suite.gateway_url}/console/#/sinks/{sid}")
    await page.click("#reveal-secret")
    first = (await rest.get(f"/v1/Sinks/{sid}/Secret")).json()["secret"]
    await page.locator("#signing-secret code", has_text=first).wait_for()
    await page.click("#rotate-secret")
    await confirm(page, "24 hours")
    await page.locator("#signing-secret", has_text="previous secret signs beside it").wait_for()
    rotated = (await rest.get(f"/v1/Sinks/{sid}/Secret")).json()["secret"]
    assert rotated != first and rotated in await page.inner_text("#signing-secret")
    await at_widths(page, "a signed sink's page", None, backend_of(suite))


async def test_the_root_leads_to_the_console(rest: httpx.AsyncClient) -> None:
    """A person who opens the gateway's address finds the console, not a 404."""
    found = await rest.get("/", follow_redirects=False)
    assert found.status_code in (302, 307) and found.headers["location"] == "/console/"
    assert (await rest.get("/", follow_redirects=True)).status_code == 200


async def test_signing_in_shows_the_sinks_once(suite: Suite, page: Any, account: control_pb2.Account) -> None:
    """Signing in shows the sinks view once: a second rendering racing the first would replace
    a form the person has begun to fill in, losing what they typed."""
    listed: list[str] = []
    page.on(
        "request",
        lambda request: listed.append(request.url) if "/v1/Sinks?PageSize=100" in request.url else None,
    )
    await sign_in(page, suite.gateway_url, account.sid, account.auth_token)
    await page.wait_for_load_state("networkidle")
    assert len(listed) == 1, listed


async def test_a_kafka_sink_without_sasl_and_with_a_private_ca_is_made_in_the_console(
    suite: Suite, page: Any, account: control_pb2.Account, rest: httpx.AsyncClient, tmp_path: Path
) -> None:
    """An optional choice starts at none (the form chose SASL PLAIN for every Kafka sink, so
    one without SASL could not be made), and a PEM field is a text area that keeps its lines."""
    certificate, _ = self_signed(tmp_path)
    pem = certificate.read_text()
    await sign_in(page, suite.gateway_url, account.sid, account.auth_token)
    await page.select_option("#sink-type", "kafka")
    assert await page.input_value("#sink-config-sasl_mechanism") == ""
    assert await page.evaluate("document.querySelector('#sink-config-ca_certificate').tagName") == "TEXTAREA"
    await page.fill("#sink-description", "kafka with a private CA")
    await page.fill("#sink-config-bootstrap_servers", "kafka.example.com:9093")
    await page.fill("#sink-config-topic", "events")
    await page.check("#sink-config-tls")
    await page.fill("#sink-config-ca_certificate", pem)
    await page.click("#create-sink button[type=submit]")
    await page.locator("#sinks tbody tr", has_text="kafka with a private CA").wait_for()
    listed = (await rest.get("/v1/Sinks", params={"PageSize": 100})).json()["sinks"]
    [made] = [s for s in listed if s["description"] == "kafka with a private CA"]
    assert made["sink_configuration"]["ca_certificate"] == pem
