"""What the console's browser tests share: Debian's Chromium under Playwright, one browser
per test module; the layout check (no sideways scrolling at 1280 and 420 px); axe-core's
accessibility scan; screenshots (test-artifacts/console/, and docs/console/ for
`make console-screenshots`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.helpers import import_or_missing, missing_tool

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ES_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "console"
AXE = ROOT / "tests" / "support" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WIDE, NARROW = 1280, 420
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


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        missing_tool("chromium not found: make test installs Debian's chromium (apt-get install chromium)")
    return found


async def browser() -> AsyncIterator[Any]:
    """One headless Chromium (for a module-scoped fixture: starting one costs seconds)."""
    playwright_api = import_or_missing("playwright.async_api", "playwright")
    async with playwright_api.async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


async def new_page(browser: Any, width: int = WIDE) -> Any:
    """A page of its own (cookies, storage) in a fresh context. The test injects axe-core as
    an inline script, which the console's CSP rightly refuses: the context bypasses it."""
    context = await browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = await context.new_page()
    page.set_default_timeout(20_000)
    # What the page's scripts said, printed when a test fails (pytest shows captured output).
    page.on("console", lambda message: print(f"console {message.type}: {message.text}"))
    page.on("pageerror", lambda error: print(f"page error: {error}"))
    return page


async def sign_in(page: Any, gateway_url: str, account_sid: str, auth_token: str) -> None:
    """Signed in to the console with an account's auth token, on its sinks page."""
    await page.goto(f"{gateway_url}/console/")
    await page.fill("#account-sid", account_sid)
    await page.fill("#auth-token", auth_token)
    await page.click("#sign-in-button")
    await page.wait_for_selector("#create-sink")


async def confirm(page: Any, expect: str) -> None:
    """The console's confirmation dialog is up, says `expect`, and is accepted."""
    dialog = page.locator("#confirm")
    await dialog.wait_for(state="visible")
    assert expect in await page.inner_text("#confirm-message")
    await page.click("#confirm-ok")
    await dialog.wait_for(state="hidden")


async def overflow(page: Any) -> tuple[int, int] | None:
    """(scrollWidth, clientWidth) when the page scrolls sideways; None when it fits."""
    scroll, client = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return (scroll, client) if scroll > client else None


async def violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations of the page as it is now."""
    if not AXE.exists():
        missing_tool(f"{AXE} is missing: make test installs it (npm ci in tests/support/axe)")
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.add_script_tag(path=str(AXE))
    found = await page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.impact} ${v.id}: ${v.help} — ` +
              v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "))"""
    )
    return list(found)


async def check(page: Any, where: str) -> None:
    """The page as it is now fits the window and has no serious accessibility violation."""
    assert await overflow(page) is None, f"{where}: scrolls sideways {await overflow(page)}"
    found = await violations(page)
    assert not found, f"{where}: {found}"


async def at_widths(page: Any, where: str, name: str | None, backend: str, full_page: bool = True) -> None:
    """`check` at 1280 and 420 px (the page left at 1280), with screenshots at both if `name`."""
    for width in (NARROW, WIDE):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.wait_for_timeout(150)  # a relayout
        await check(page, f"{where} at {width} px")
        if name is not None:
            await shot(page, f"{name}-{width}", backend, full_page)


async def shot(page: Any, name: str, backend: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.evaluate(
        "document.getElementById('toast') && (document.getElementById('toast').hidden = true)"
    )
    await page.screenshot(path=str(ARTIFACTS / f"{name}-{backend}.png"), full_page=full_page)
    docs = os.environ.get("ES_CONSOLE_SCREENSHOTS")
    if docs and backend == "sqlite":
        Path(docs).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(docs) / f"{name}.png"), full_page=full_page)
