"""The dashboard in a real browser: Debian's Chromium driven by Playwright signs in with Slack
(the emulator's consent page), filters the queue, assigns a ticket, opens a report, downloads a
CSV, and checks every page with axe-core (labels, contrast, keyboard); screenshots of each page
at desktop and phone widths go under the test run's output directory."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.tickets.helpers import tickets
from tests.web.conftest import AGENT, LEAD, open_tickets, scored_account

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(os.environ.get("TICKETBOT_TEST_OUTPUT", "test-output")) / "screenshots"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

playwright_api = pytest.importorskip("playwright.async_api")
axe_api = pytest.importorskip("axe_playwright_python.async_playwright")

if not CHROMIUM.exists():
    if os.environ.get("TICKETBOT_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium package")
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


async def accessible(page, name: str) -> None:
    results = await axe_api.Axe().run(page)
    assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"


async def test_a_lead_works_the_queue_in_a_browser(dashboard, emulator, clock, is_postgres):
    await open_tickets(dashboard, "Exports fail since the update", "Password reset loops")
    account_id = await scored_account(dashboard, "Globex", clock.now())
    clock.advance(minutes=5)  # the tickets are in the report's past
    assert emulator.oauth is not None
    emulator.oauth.sign_in("T0001", LEAD)
    shots = OUTPUT / ("postgresql" if is_postgres else "sqlite")
    shots.mkdir(parents=True, exist_ok=True)

    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        context = await browser.new_context(viewport=SIZES["desktop"], accept_downloads=True)
        context.set_default_timeout(10_000)
        page = await context.new_page()

        # Signing in: the queue sends us to the sign-in page, Slack's consent page back.
        await page.goto(dashboard.url + "/web/queue")
        await page.get_by_role("link", name="Sign in with Slack").click()
        await page.wait_for_url(re.compile(r".*/web/queue$"))
        await playwright_api.expect(page.get_by_role("heading", name="Queue")).to_be_visible()
        await accessible(page, "queue")

        # Filtering: only the password ticket has "Password" in it once filtered by account
        # would be empty; filter by priority after making one urgent instead.
        await page.get_by_role("checkbox", name="Tick T-2").check()
        await page.get_by_label("With the ticked tickets").select_option("priority")
        await page.get_by_label("Priority", exact=True).select_option("urgent")
        await page.get_by_role("button", name="Apply").click()
        await playwright_api.expect(page.get_by_role("status")).to_contain_text("1 ticket updated")
        await page.get_by_role("checkbox", name="urgent").check()
        await page.get_by_role("button", name="Filter").click()
        await playwright_api.expect(page.get_by_text("Password reset loops")).to_be_visible()
        await playwright_api.expect(
            page.get_by_text("Exports fail since the update")
        ).to_have_count(0)

        # Assigning from the queue, to an agent, as a lead may.
        await page.goto(dashboard.url + "/web/queue")
        await page.get_by_role("checkbox", name="Tick T-1").check()
        await page.get_by_label("With the ticked tickets").select_option("assign")
        await page.get_by_label("Assignee", exact=True).fill(AGENT)
        await page.get_by_role("button", name="Apply").click()
        await playwright_api.expect(page.get_by_role("status")).to_contain_text("1 ticket updated")
        await page.screenshot(path=shots / "queue-desktop.png", full_page=True)

        # The CSV of the queue.
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Download CSV").click()
        download = await download_info.value
        saved = shots / "queue.csv"
        await download.save_as(saved)
        assert saved.read_text().count("\n") == 3  # header and two tickets

        # The ticket, the report, the accounts, the testimonials.
        await page.get_by_role("link", name="T-1", exact=True).click()
        await playwright_api.expect(page.get_by_role("heading", level=1)).to_contain_text("T-1")
        await accessible(page, "ticket")
        await page.screenshot(path=shots / "ticket-desktop.png", full_page=True)

        await page.get_by_role("link", name="Reports").click()
        await playwright_api.expect(page.get_by_role("heading", name="Reports")).to_be_visible()
        assert await page.locator("figure svg").count() == 4
        await accessible(page, "reports")
        await page.screenshot(path=shots / "reports-desktop.png", full_page=True)

        await page.goto(f"{dashboard.url}/web/accounts/{account_id}")
        await playwright_api.expect(page.get_by_role("heading", name="Globex")).to_be_visible()
        await accessible(page, "account")
        await page.screenshot(path=shots / "account-desktop.png", full_page=True)
        await page.get_by_role("link", name="Testimonials").click()
        await accessible(page, "testimonials")

        # Phone width: the same pages, still usable.
        await page.set_viewport_size(SIZES["phone"])
        for name, path in (
            ("queue", "/web/queue"),
            ("ticket", "/web/tickets/1"),
            ("reports", "/web/reports"),
            ("account", f"/web/accounts/{account_id}"),
        ):
            await page.goto(dashboard.url + path)
            await page.screenshot(path=shots / f"{name}-phone.png", full_page=True)
        await page.goto(dashboard.url + "/web/queue")
        await accessible(page, "queue at phone width")

        # Keyboard: the skip link is the first stop and takes focus to the content.
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement.textContent")
        assert focused.strip() == "Skip to content"
        await browser.close()

    by_number = {t.number: t for t in await tickets(dashboard)}
    assert by_number[1].assignee_user_id == AGENT
    assert by_number[2].priority.value == "urgent"
