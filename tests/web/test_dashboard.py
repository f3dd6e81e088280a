"""The web dashboard end to end over HTTP: Sign in with Slack against the emulator, the
session and its form token, and every page through the same flows as Slack."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from app.accounts.enums import NpsStatus
from app.accounts.models import NpsSurvey
from app.apikeys.scopes import Scope
from app.team.service import remove_member
from app.tickets.enums import Priority, TicketStatus
from app.web.session import SESSION_COOKIE, SIGN_IN_COOKIE
from app.workspaces.models import Workspace
from tests.api.helpers import api_client, api_key
from tests.support.server import wait_until
from tests.tickets.helpers import tickets
from tests.web.conftest import (
    AGENT,
    CALLBACK,
    CUSTOMER,
    LEAD,
    OUTSIDER,
    open_tickets,
    scored_account,
)


async def test_a_lead_signs_in_with_slack_and_sees_the_queue(dashboard, browser, emulator):
    await open_tickets(dashboard, "Exports fail <b>since</b> the update")

    first = await browser.http.get("/web/queue")
    assert first.status_code == 303
    assert first.headers["location"].startswith("/web/signin?next=%2Fweb%2Fqueue")

    page = await browser.sign_in(LEAD)

    assert page.status_code == 200 and str(page.url).endswith("/web/queue")
    assert "Lena Lead" in page.text and "(lead)" in page.text
    assert "Exports fail &lt;b&gt;since&lt;/b&gt; the update" in page.text  # escaped once
    [token] = emulator.delivered("openid.connect.token")
    assert token.args["redirect_uri"] == dashboard.url + CALLBACK
    assert emulator.delivered("openid.connect.userInfo")
    cookie = next(c for c in browser.http.cookies.jar if c.name == SESSION_COOKIE)
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/web"
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.parametrize("who", [OUTSIDER, CUSTOMER])
async def test_only_the_support_team_can_sign_in(dashboard, browser, who):
    page = await browser.sign_in(who)

    assert str(page.url).endswith("/web/signin?reason=not_on_team")
    assert "Only the support team signs in here" in page.text
    assert SESSION_COOKIE not in browser.http.cookies
    assert (await browser.http.get("/web/queue")).status_code == 303


async def test_a_forged_or_expired_session_is_refused(dashboard, browser, clock):
    await browser.sign_in(AGENT)
    good = browser.http.cookies[SESSION_COOKIE]
    assert (await browser.http.get("/web/queue")).status_code == 200

    for forged in (good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "x" * 40, ""):
        browser.http.cookies.set(SESSION_COOKIE, forged, path="/web")
        answer = await browser.http.get("/web/queue")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/web/signin")

    browser.http.cookies.set(SESSION_COOKIE, good, path="/web")
    clock.advance(hours=12, minutes=1)  # WEB_SESSION_HOURS is 12
    answer = await browser.http.get("/web/queue")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/web/signin")


async def test_a_callback_that_did_not_start_here_is_refused(dashboard, browser, emulator):
    assert emulator.oauth is not None and emulator.openid is not None
    emulator.oauth.sign_in("T0001", LEAD)
    # Someone else's sign-in, its code sent to this browser (login CSRF): no state cookie.
    start = await browser.http.get("/web/signin/slack")
    slack = await browser.http.get(start.headers["location"])
    callback = slack.headers["location"].removeprefix(dashboard.url)
    browser.http.cookies.delete(SIGN_IN_COOKIE, path="/web/signin")

    answer = await browser.http.get(callback)

    assert answer.headers["location"] == "/web/signin?reason=expired"
    assert SESSION_COOKIE not in browser.http.cookies
    assert not emulator.calls("openid.connect.token")  # the code was never even exchanged

    # The right browser, a state that does not match.
    start = await browser.http.get("/web/signin/slack")
    slack = await browser.http.get(start.headers["location"])
    wrong = slack.headers["location"].replace("state=", "state=x")
    answer = await browser.http.get(wrong.removeprefix(dashboard.url))
    assert answer.headers["location"] == "/web/signin?reason=expired"

    # Slack refusing the code (used twice) is a clear message, not an error page.
    start = await browser.http.get("/web/signin/slack")
    slack = await browser.http.get(start.headers["location"])
    code = slack.headers["location"].removeprefix(dashboard.url)
    assert (await browser.http.get(code)).status_code == 303
    again = await browser.http.get("/web/signin/slack")
    await browser.http.get(again.headers["location"])
    browser.http.cookies.set(SIGN_IN_COOKIE, "", path="/web/signin")
    assert (await browser.http.get(code)).headers["location"] == "/web/signin?reason=expired"


async def test_a_cross_site_form_post_is_refused_and_changes_nothing(dashboard, browser):
    await open_tickets(dashboard, "Login loops")
    await browser.sign_in(LEAD)
    token = await browser.csrf()
    form = {"ticket": "1", "action": "resolve"}

    without = await browser.http.post("/web/queue", data=form)
    forged = await browser.http.post("/web/queue", data={**form, "csrf": "not-the-token"})
    elsewhere = await browser.http.post(
        "/web/queue",
        data={**form, "csrf": token},
        headers={"Origin": "https://evil.example"},
    )

    assert [r.status_code for r in (without, forged, elsewhere)] == [403, 403, 403]
    [ticket] = await tickets(dashboard)
    assert ticket.status is TicketStatus.NEW


async def test_bulk_changes_go_through_the_same_flows_as_slack(dashboard, browser, emulator):
    await open_tickets(dashboard, "One", "Two", "Three")
    await browser.sign_in(LEAD)
    token = await browser.csrf()

    answer = await browser.http.post(
        "/web/queue",
        data={
            "csrf": token,
            "ticket": ["1", "2"],
            "action": "assign",
            "assignee": AGENT,
            "back": "/web/queue?status=new",
        },
        follow_redirects=True,
    )
    assert "2 tickets updated." in answer.text
    await browser.http.post(
        "/web/queue",
        data={"csrf": token, "ticket": ["3"], "action": "priority", "priority": "urgent"},
    )
    by_number = {t.number: t for t in await tickets(dashboard)}
    assert (by_number[1].assignee_user_id, by_number[2].assignee_user_id) == (AGENT, AGENT)
    assert by_number[3].priority is Priority.URGENT
    # The triage cards follow, as they do after a click in Slack.
    await wait_until(
        lambda: len(emulator.delivered("chat.update")) >= 3, message="three cards redrawn"
    )

    # An agent may take tickets, not hand them to someone else: the flow says so.
    agent = type(browser)(dashboard, emulator)
    await agent.sign_in(AGENT)
    agent_token = await agent.csrf()
    refused = await agent.http.post(
        "/web/queue",
        data={"csrf": agent_token, "ticket": ["3"], "action": "assign", "assignee": LEAD},
        follow_redirects=True,
    )
    assert "only support leads can assign tickets to someone else" in refused.text
    taken = await agent.http.post(
        "/web/queue",
        data={"csrf": agent_token, "ticket": ["3"], "action": "assign_me"},
        follow_redirects=True,
    )
    assert "1 ticket updated." in taken.text
    await agent.aclose()


async def test_the_queue_filters(dashboard, browser):
    await open_tickets(dashboard, "Alpha question", "Beta question")
    await browser.sign_in(LEAD)
    token = await browser.csrf()
    await browser.http.post(
        "/web/queue",
        data={"csrf": token, "ticket": ["2"], "action": "priority", "priority": "high"},
    )

    high = await browser.http.get("/web/queue?priority=high")
    unknown = await browser.http.get("/web/queue?priority=whenever")

    assert "Beta question" in high.text and "Alpha question" not in high.text
    assert unknown.status_code == 200 and "Unknown priority &#39;whenever&#39; ignored." in (
        unknown.text
    )


async def test_someone_removed_from_the_team_is_signed_out_at_the_next_click(dashboard, browser):
    await browser.sign_in(AGENT)
    assert (await browser.http.get("/web/queue")).status_code == 200
    async with dashboard.runtime.session_factory() as session, session.begin():
        workspace_id = await session.scalar(select(Workspace.id))
        await remove_member(
            session=session, workspace_id=workspace_id, user_id=AGENT, actor_id=LEAD
        )

    answer = await browser.http.get("/web/queue")

    assert answer.status_code == 303
    assert answer.headers["location"].endswith("reason=not_on_team")


async def test_the_ticket_page_shows_the_conversation_and_takes_notes_and_changes(
    dashboard, browser, emulator, clock
):
    await open_tickets(dashboard, "Invoices are wrong & late")
    account_id = await scored_account(dashboard, "Globex", clock.now())
    async with dashboard.runtime.session_factory() as session, session.begin():
        session.add(
            NpsSurvey(
                workspace_id=await session.scalar(select(Workspace.id)),
                account_id=account_id,
                contact_user_id=CUSTOMER,
                channel_id="CSUPPORT",
                status=NpsStatus.SENT,
                score=9,
                reason="Fast <answers>",
                sent_at=clock.now(),
                expires_at=clock.now() + timedelta(days=7),
                answered_at=clock.now(),
            )
        )
    await browser.sign_in(LEAD)

    page = await browser.http.get("/web/tickets/T-1")
    assert page.status_code == 200
    assert "Invoices are wrong &amp; late" in page.text  # plain text, escaped by the page
    assert "9/10" in page.text and "Fast &lt;answers&gt;" in page.text  # the requester's NPS
    token = await browser.csrf("/web/tickets/1")

    noted = await browser.http.post(
        "/web/tickets/1/notes",
        data={"csrf": token, "text": "Customer on the <!channel> plan"},
        follow_redirects=True,
    )
    changed = await browser.http.post(
        "/web/tickets/1",
        data={"csrf": token, "status": "resolved", "priority": "high", "assignee": "me"},
        follow_redirects=True,
    )

    assert "Note added" in noted.text and "internal note" in noted.text
    assert "Saved." in changed.text
    [ticket] = await tickets(dashboard)
    assert (ticket.status, ticket.priority, ticket.assignee_user_id) == (
        TicketStatus.RESOLVED,
        Priority.HIGH,
        LEAD,
    )
    posted = await wait_until(
        lambda: [
            c for c in emulator.delivered("chat.postMessage") if "plan" in str(c.args.get("text"))
        ],
        message="the note in the triage thread",
    )
    assert "<!channel>" not in str(posted[0].args)  # never a broadcast
    missing = await browser.http.get("/web/tickets/999")
    assert missing.status_code == 404


async def test_the_queue_downloads_as_csv_every_page_streamed(dashboard, browser):
    subjects = [f"Question {n}" for n in range(1, 4)] + ["=HYPERLINK(evil)"]
    await open_tickets(dashboard, *subjects)
    await browser.sign_in(LEAD)

    answer = await browser.http.get("/web/queue.csv?status=new")

    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert sorted(row["subject"] for row in rows) == sorted(
        [*subjects[:3], "'=HYPERLINK(evil)"]  # a spreadsheet never runs it
    )
    assert [row["number"] for row in rows] == ["T-4", "T-3", "T-2", "T-1"]


async def test_reports_show_charts_beside_the_previous_period(dashboard, browser, clock):
    await open_tickets(dashboard, "Old one")
    clock.advance(days=8)
    await open_tickets(dashboard, "New one", "Newer one")
    clock.advance(minutes=1)
    await browser.sign_in(LEAD)

    page = await browser.http.get("/web/reports?days=7&by=channel")
    png = await browser.http.get("/web/reports/volume.png?days=7")
    csat_png = await browser.http.get("/web/reports/csat.png?days=7")
    table = await browser.http.get("/web/reports.csv?days=7&by=channel")

    assert page.status_code == 200
    assert page.text.count("<svg") == 4 and 'role="img"' in page.text
    assert "This period: 2 in all, most 2 on" in page.text  # the chart's words: today's two
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert csat_png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<dt>NPS</dt>" in page.text
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert (rows[0]["group"], rows[0]["opened"], rows[0]["opened_before"]) == ("all", "2", "1")
    assert (await browser.http.get("/web/reports?days=11")).status_code == 422


async def test_accounts_show_health_and_why(dashboard, browser, clock):
    account_id = await scored_account(dashboard, "Globex", clock.now())
    await browser.sign_in(LEAD)

    listed = await browser.http.get("/web/accounts")
    page = await browser.http.get(f"/web/accounts/{account_id}")
    exported = await browser.http.get("/web/accounts.csv")
    quotes = await browser.http.get("/web/testimonials")

    assert "Globex" in listed.text
    assert page.status_code == 200 and "Why " in page.text
    [exported_row] = csv.DictReader(io.StringIO(exported.text))
    assert exported_row["name"] == "Globex"
    assert quotes.status_code == 200 and "No consented quotes yet" in quotes.text
    assert (await browser.http.get("/web/accounts/4242")).status_code == 404


async def test_signing_out_ends_the_session(dashboard, browser):
    await browser.sign_in(LEAD)
    token = await browser.csrf()

    answer = await browser.http.post("/web/signout", data={"csrf": token})

    assert answer.headers["location"] == "/web/signin?reason=signed_out"
    assert (await browser.http.get("/web/queue")).status_code == 303


async def test_without_client_credentials_the_sign_in_page_says_what_is_missing(
    running_app,
):
    async with httpx.AsyncClient(base_url=running_app.url) as http:
        page = await http.get("/web/signin")
        start = await http.get("/web/signin/slack")

    assert "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET" in page.text
    assert start.headers["location"] == "/web/signin?reason=not_configured"


async def test_the_same_csv_comes_over_the_rest_api_with_a_key(dashboard):
    await open_tickets(dashboard, "First", "Second", "Third")
    reader = await api_key(dashboard, Scope.TICKETS_READ)
    nothing = await api_key(dashboard, Scope.ACCOUNTS_READ)

    async with api_client(dashboard, reader) as api:
        exported = await api.get("/api/tickets.csv", params={"status": "new"})
        bad = await api.get("/api/tickets.csv", params={"status": "sleeping"})
        backwards = await api.get(
            "/api/tickets.csv",
            params={"created_from": "2026-02-01T00:00:00Z", "created_to": "2026-01-01T00:00:00Z"},
        )
    async with api_client(dashboard, nothing) as api:
        refused = await api.get("/api/tickets.csv")

    assert exported.headers["content-type"].startswith("text/csv")
    assert [row["number"] for row in csv.DictReader(io.StringIO(exported.text))] == [
        "T-3",
        "T-2",
        "T-1",
    ]
    assert (bad.status_code, backwards.status_code, refused.status_code) == (422, 422, 403)
    assert "created_from must not be later than created_to" in backwards.text
