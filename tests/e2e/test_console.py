"""The web console in a real browser: Debian's headless Chromium driven by Playwright, against
the running suite — sign in, create a sink and a subscription through the UI, publish events,
see them in the live delivery log and the health box, redrive a dead letter, browse the
catalogue — with screenshots saved as test artefacts (test-artifacts/console/; the README's
come from there)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from devkit.receiver import Received, Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, router_pb2_grpc
from tests.helpers import (
    create_webhook_sink,
    import_or_missing,
    missing_tool,
    publish_when_routed,
    sample,
    subscribe,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ES_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "console"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TYPE = "com.twilio.messaging.message.delivered"


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        missing_tool("chromium not found: make test installs Debian's chromium (apt-get install chromium)")
    return found


@pytest.fixture
async def page(suite: Suite) -> AsyncIterator[Any]:
    playwright_api = import_or_missing("playwright.async_api", "playwright")
    async with playwright_api.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        opened = await context.new_page()
        opened.set_default_timeout(20_000)
        try:
            yield opened
        finally:
            await browser.close()


async def shot(page: Any, name: str, backend: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}-{backend}.png"), full_page=full_page)


async def test_the_console_drives_a_sink_end_to_end(
    suite: Suite,
    page: Any,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
    rest: httpx.AsyncClient,
) -> None:
    backend = "postgres" if "postgres" in suite.control_db else "sqlite"
    refusing = {"on": False}

    def respond(_record: Received) -> web.Response:
        return web.Response(status=410 if refusing["on"] else 200)

    receiver.responder = respond
    page.on("dialog", lambda dialog: dialog.accept())

    # Sign in: a wrong token is refused on the form, the right one gets in.
    await page.goto(f"{suite.gateway_url}/console/")
    await page.fill("#account-sid", account.sid)
    await page.fill("#auth-token", "0" * 32)
    await page.click("#sign-in-button")
    await page.wait_for_selector("#sign-in-error")
    assert "20003" in await page.inner_text("#sign-in-error")
    await page.fill("#account-sid", account.sid)
    await page.fill("#auth-token", account.auth_token)
    await page.click("#sign-in-button")
    await page.wait_for_selector("#create-sink")

    # A webhook sink, created through the form.
    destination = f"http://127.0.0.1:{receiver.port}/console"
    config = json.dumps({"destination": destination, "method": "POST", "batch_events": False})
    await page.fill("#sink-description", "made in the console")
    await page.fill("#sink-configuration", config)
    await page.click("#create-sink button[type=submit]")
    row = page.locator("#sinks tbody tr", has_text="made in the console")
    await row.wait_for()
    sink_sid = (await row.locator("a").first.inner_text()).strip()
    assert await row.locator("[data-state=active]").count() == 1
    await shot(page, "sinks", backend)

    # A subscription to it.
    await page.click("a[href='#/subscriptions']")
    await page.wait_for_selector("#create-subscription")
    await page.select_option("#subscription-sink", sink_sid)
    await page.fill("#subscription-description", "console subscription")
    await page.fill("#subscription-types", f"{TYPE}:7")
    await page.click("#create-subscription button[type=submit]")
    await page.locator("#subscriptions tbody tr", has_text=f"{TYPE} (v7)").wait_for()
    # Edited in place.
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
    await shot(page, "subscriptions", backend)

    # Events published arrive in the live log of the sink's page.
    events = [sample(account.sid) for _ in range(3)]
    await publish_when_routed(router, events)
    await page.goto(f"{suite.gateway_url}/console/#/sinks/{sink_sid}")
    for event in events:
        await page.locator("#deliveries", has_text=event.id).wait_for()
    await page.locator("#health [data-state]").wait_for()
    assert await page.locator("#charts svg[data-chart]").count() == 2
    # The charts follow the log: what it shows is counted at once, not at their next redraw.
    delivered = page.locator("#charts svg[data-chart=rate] rect[data-outcome=delivered]")
    await delivered.first.wait_for(timeout=3000)

    # A dead letter (the receiver refuses), redriven from the page once it accepts again.
    refusing["on"] = True
    refused = sample(account.sid)
    await publish_when_routed(router, [refused])
    await page.locator("#dead-letter-list", has_text=refused.id).wait_for(timeout=30_000)
    await shot(page, "sink", backend)
    refusing["on"] = False
    await page.click("#redrive-all")
    await page.wait_for_selector("#no-dead-letters")
    await receiver.wait_for(lambda r: sum(refused.id in x.body.decode() for x in r.received) >= 2)

    # A replay of the last hour, started from the page, runs to its end there.
    await page.click("#start-replay button[type=submit]")
    await page.locator("#replay-list [data-state=completed]").wait_for(timeout=30_000)
    progress = page.locator("#replay-list progress").first
    assert await progress.get_attribute("value") == await progress.get_attribute("max")

    # The catalogue, with a schema's versions.
    await page.click("a[href='#/types']")
    await page.fill("#type-search", "message.delivered")
    await page.locator("#types tbody tr", has_text=TYPE).first.locator("a").click()
    await page.locator("#versions tbody tr").first.wait_for()
    await shot(page, "types", backend, full_page=False)  # the catalogue is long


async def test_a_failing_sink_shows_its_failures_and_the_newest_attempts(
    suite: Suite,
    page: Any,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
    rest: httpx.AsyncClient,
) -> None:
    """A sink that refuses every event: the rate chart shows the failures (by outcome, on
    axes), and the live log shows the newest attempts, past the page it has room for."""
    backend = "postgres" if "postgres" in suite.control_db else "sqlite"
    receiver.responder = lambda _record: web.Response(status=400)  # refused for good: dead letters
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/refuses")
    await subscribe(rest, sink["sid"], TYPE)
    events = [sample(account.sid) for _ in range(30)]  # more than the log's 25 rows
    await publish_when_routed(router, events)
    await receiver.wait_for(lambda r: len(r.received) >= len(events), 60)

    await page.goto(f"{suite.gateway_url}/console/")
    await page.fill("#account-sid", account.sid)
    await page.fill("#auth-token", account.auth_token)
    await page.click("#sign-in-button")
    await page.wait_for_selector("#create-sink")
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
    await shot(page, "failing-sink", backend)


async def test_the_root_leads_to_the_console(rest: httpx.AsyncClient) -> None:
    """A person who opens the gateway's address finds the console, not a 404."""
    found = await rest.get("/", follow_redirects=False)
    assert found.status_code in (302, 307) and found.headers["location"] == "/console/"
    assert (await rest.get("/", follow_redirects=True)).status_code == 200
