"""Messages in watched channels become tickets; the thread is the conversation (end to end)."""

from __future__ import annotations

import asyncio

from sqlalchemy import event as sqlalchemy_event

from app.slack_emulator import message_event, next_ts
from app.team.enums import Role
from app.tickets.enums import AuthorKind, TicketSource, TicketStatus
from tests.support.server import wait_until
from tests.tickets.helpers import (
    add_member,
    count_tickets,
    event_kinds,
    ticket_messages,
    tickets,
    watch,
)

CUSTOMER = "UCUSTOMER"
AGENT = "UAGENT"


def card_in_triage(emulator, channel: str = "CTRIAGE"):
    """The first top-level message (a parent with replies carries its own ts as thread_ts)."""
    posted = [m for m in emulator.messages(channel) if m.get("thread_ts") in (None, m["ts"])]
    return posted[0] if posted else None


def triage_thread(emulator, card_ts: str) -> list[str]:
    return [
        m["text"]
        for m in emulator.messages("CTRIAGE")
        if m.get("thread_ts") == card_ts and m["ts"] != card_ts
    ]


async def test_customer_message_opens_a_ticket_with_card_and_auto_reply(
    running_app, sender, emulator
):
    await watch(running_app)
    ts = next_ts()

    answer = await sender.send_event(
        message_event("CSUPPORT", CUSTOMER, "Exports fail since this morning\nDetails: ...", ts=ts)
    )

    assert answer.status_code == 200
    [ticket] = await tickets(running_app)  # committed before the 200
    assert (ticket.number, ticket.subject, ticket.status) == (
        1,
        "Exports fail since this morning",
        TicketStatus.NEW,
    )
    assert (ticket.requester_user_id, ticket.channel_id, ticket.root_ts) == (
        CUSTOMER,
        "CSUPPORT",
        ts,
    )
    assert ticket.source is TicketSource.MESSAGE
    assert ticket.permalink.endswith(f"/archives/CSUPPORT/p{ts.replace('.', '')}")
    card = await wait_until(lambda: card_in_triage(emulator), message="triage card")
    assert "*T-1* · Exports fail since this morning" in card["blocks"][0]["text"]["text"]
    replies = await wait_until(
        lambda: [m for m in emulator.messages("CSUPPORT") if m.get("thread_ts") == ts],
        message="auto-reply",
    )
    assert "*T-1*" in replies[0]["text"]
    [stored] = await wait_until(lambda: _with_card(running_app), message="card ts stored")
    assert stored.triage_card_ts == card["ts"]
    assert await event_kinds(running_app, ticket.id) == ["created", "message_added"]


async def _with_card(app):
    return [t for t in await tickets(app) if t.triage_card_ts]


async def test_thread_is_the_conversation(running_app, sender, emulator):
    await watch(running_app)
    await add_member(running_app, AGENT)
    root = next_ts()
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "Billing is wrong", ts=root))
    await wait_until(lambda: _with_card(running_app), message="card")

    await sender.send_event(
        message_event("CSUPPORT", AGENT, "Looking into it", ts=next_ts(), thread_ts=root)
    )
    await sender.send_event(
        message_event("CSUPPORT", CUSTOMER, "Invoice 42", ts=next_ts(), thread_ts=root)
    )

    [ticket] = await tickets(running_app)
    assert ticket.status is TicketStatus.OPEN
    assert ticket.first_response_at is not None
    kinds = [(m.author_kind, m.text) for m in await ticket_messages(running_app, ticket.id)]
    assert kinds == [
        (AuthorKind.CUSTOMER, "Billing is wrong"),
        (AuthorKind.AGENT, "Looking into it"),
        (AuthorKind.CUSTOMER, "Invoice 42"),
    ]
    card = card_in_triage(emulator)
    mirrored = await wait_until(
        lambda: (lambda texts: texts if len(texts) >= 2 else None)(
            triage_thread(emulator, card["ts"])
        ),
        message="two mirrored messages",
    )
    assert "Looking into it" in mirrored[0] and "Invoice 42" in mirrored[1]
    await wait_until(
        lambda: "Open" in str(card_in_triage(emulator)["blocks"]), message="card update"
    )


async def test_retries_and_concurrent_deliveries_make_one_ticket(running_app, sender):
    await watch(running_app)
    ts = next_ts()
    event = message_event("CSUPPORT", CUSTOMER, "Our SSO is broken", ts=ts)

    answers = await asyncio.gather(
        *(sender.send_event(event, event_id="EvSAME", retry_num=n or None) for n in range(20))
    )
    # The same message delivered again under another event id (Slack does this too).
    again = await sender.send_event(event, event_id="EvOTHER")

    assert {a.status_code for a in answers} == {200} and again.status_code == 200
    assert await count_tickets(running_app) == 1


async def test_a_new_ticket_reads_everything_before_it_takes_its_number(
    running_app, sender, emulator
):
    """Taking the number locks the workspace's counter until commit, and every other new
    ticket of the workspace waits for it: after it, intake only writes (the ticket goes in
    with its SLA due times, not updated after)."""
    await watch(running_app)
    await add_member(running_app, AGENT)
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "First, to warm up", ts=next_ts()))
    engine = running_app.runtime.engine.sync_engine
    seen: list[tuple[int, str]] = []

    def statement(connection, cursor, sql, parameters, context, executemany):
        seen.append((id(connection), " ".join(sql.split()).upper()))

    def commit(connection):
        seen.append((id(connection), "COMMIT"))

    sqlalchemy_event.listen(engine, "before_cursor_execute", statement)
    sqlalchemy_event.listen(engine, "commit", commit)
    try:
        answer = await sender.send_event(
            message_event("CSUPPORT", "UOTHERCUSTOMER", "Second: the one watched", ts=next_ts())
        )
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", statement)
        sqlalchemy_event.remove(engine, "commit", commit)

    assert answer.status_code == 200
    [numbered] = [i for i, (_, sql) in enumerate(seen) if "SET NEXT_TICKET_NUMBER" in sql]
    connection = seen[numbered][0]
    held = []
    for other, sql in seen[numbered + 1 :]:
        if other != connection:
            continue  # the outbox, on its own connections
        if sql == "COMMIT":
            break
        held.append(sql.split(" (")[0])
    else:
        raise AssertionError("the intake transaction did not commit")
    assert held and all(sql.startswith("INSERT INTO") for sql in held), held
    assert held[0].startswith("INSERT INTO TICKETS")
    [second] = [t for t in await tickets(running_app) if t.requester_user_id == "UOTHERCUSTOMER"]
    assert second.number == 2
    assert second.first_response_due_at is not None and second.resolution_due_at is not None


async def test_what_is_not_a_request_opens_nothing(running_app, sender):
    await watch(running_app)
    await add_member(running_app, AGENT)
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "thanks!"))
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, ":+1: :tada:"))
    await sender.send_event(message_event("CSUPPORT", "UOTHER", "OK"))
    await sender.send_event(message_event("CSUPPORT", AGENT, "Maintenance tonight at 10pm"))
    await sender.send_event(message_event("CSUPPORT", "UBOT", "beep", bot_id="BBOT"))
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "joined", subtype="channel_join"))
    await sender.send_event(message_event("CUNWATCHED", CUSTOMER, "Help please"))

    assert await count_tickets(running_app) == 0


async def test_follow_ups_within_the_window_join_the_open_ticket(running_app, sender, clock):
    await watch(running_app)
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "Can't log in"))
    clock.advance(seconds=60)
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "Error says 'SAML'"))
    clock.advance(seconds=90)
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "and it's for all users"))
    clock.advance(minutes=3)
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "New topic: billing address"))

    first, second = await tickets(running_app)
    texts = [m.text for m in await ticket_messages(running_app, first.id)]
    assert texts == ["Can't log in", "Error says 'SAML'", "and it's for all users"]
    assert second.subject == "New topic: billing address"


async def test_customer_reply_reopens_a_resolved_ticket(running_app, sender):
    await watch(running_app)
    await add_member(running_app, AGENT)
    root = next_ts()
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "Broken export", ts=root))
    from app.slack_emulator import reaction_added_event

    await sender.send_event(reaction_added_event(CUSTOMER, "white_check_mark", "CSUPPORT", root))
    assert (await tickets(running_app))[0].status is TicketStatus.NEW  # customers can't resolve
    await sender.send_event(reaction_added_event(AGENT, "white_check_mark", "CSUPPORT", root))
    [resolved] = await tickets(running_app)
    assert resolved.status is TicketStatus.RESOLVED and resolved.resolved_at is not None

    await sender.send_event(
        message_event("CSUPPORT", CUSTOMER, "Still broken", ts=next_ts(), thread_ts=root)
    )

    [reopened] = await tickets(running_app)
    assert reopened.status is TicketStatus.OPEN and reopened.resolved_at is None
    assert "reopened" in await event_kinds(running_app, reopened.id)


async def test_triage_thread_messages_are_internal_notes(running_app, sender, emulator):
    await watch(running_app)
    await add_member(running_app, AGENT, Role.LEAD)
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "Need a refund"))
    [ticket] = await wait_until(lambda: _with_card(running_app), message="card")
    customer_posts = len(emulator.messages("CSUPPORT"))

    await sender.send_event(
        message_event(
            "CTRIAGE",
            AGENT,
            "They're on the legacy plan",
            ts=next_ts(),
            thread_ts=ticket.triage_card_ts,
        )
    )

    notes = [m for m in await ticket_messages(running_app, ticket.id) if m.is_internal]
    assert [n.text for n in notes] == ["They're on the legacy plan"]
    await asyncio.sleep(0)  # nothing was queued for the customer's channel
    assert len(emulator.messages("CSUPPORT")) == customer_posts
    assert "note_added" in await event_kinds(running_app, ticket.id)


async def test_edits_and_deletions_are_reflected(running_app, sender):
    from app.slack_emulator import message_changed_event, message_deleted_event

    await watch(running_app)
    root = next_ts()
    reply = next_ts()
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "Exprot fails", ts=root))
    await sender.send_event(
        message_event("CSUPPORT", CUSTOMER, "oops wrong", ts=reply, thread_ts=root)
    )

    await sender.send_event(message_changed_event("CSUPPORT", CUSTOMER, root, "Export fails"))
    await sender.send_event(message_deleted_event("CSUPPORT", reply))

    [ticket] = await tickets(running_app)
    messages = await ticket_messages(running_app, ticket.id)
    assert ticket.subject == "Export fails"
    assert messages[0].text == "Export fails" and messages[0].edited_at is not None
    assert messages[1].deleted_at is not None
    kinds = await event_kinds(running_app, ticket.id)
    assert "message_edited" in kinds and "message_deleted" in kinds


async def test_slack_connect_customer_gets_their_account(running_app, sender, emulator):
    emulator.add_team("TEXT", name="Globex Corp", domain="globex")
    await watch(running_app, "CSHARED", is_ext_shared=True)

    await sender.send_event(
        message_event("CSHARED", "UEXT", "Webhook retries?", team="TEXT", user_team="TEXT"),
        is_ext_shared_channel=True,
    )

    [ticket] = await tickets(running_app)
    assert ticket.is_external and ticket.requester_team_id == "TEXT"
    named = await wait_until(lambda: _named(running_app), message="account name from team.info")
    assert named.account_name == "Globex Corp"
    await wait_until(
        lambda: "Globex Corp" in str((card_in_triage(emulator) or {}).get("blocks")),
        message="card shows the account",
    )


async def _named(app):
    found = [t for t in await tickets(app) if t.account_name]
    return found[0] if found else None


async def test_auto_reply_follows_the_channel_settings(running_app, sender, emulator):
    await watch(running_app, "CQUIET", auto_reply_enabled=False)
    await watch(running_app, "CCUSTOM", auto_reply_text="Got it, {ticket} is with the team.")
    quiet, custom = next_ts(), next_ts()

    await sender.send_event(message_event("CQUIET", CUSTOMER, "Question one", ts=quiet))
    await sender.send_event(message_event("CCUSTOM", CUSTOMER, "Question two", ts=custom))

    replies = await wait_until(
        lambda: [m for m in emulator.messages("CCUSTOM") if m.get("thread_ts") == custom],
        message="custom auto-reply",
    )
    assert replies[0]["text"] == "Got it, T-2 is with the team."
    await wait_until(lambda: len(emulator.delivered("chat.postMessage")) >= 3, message="both cards")
    assert not [m for m in emulator.messages("CQUIET") if m.get("thread_ts") == quiet]
