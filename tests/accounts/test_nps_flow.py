"""NPS end to end, on both databases: a lead starts a round in Slack; the question reaches each
account's contacts (never a team member) in their channel; only the addressee's tap counts; a
detractor alerts the account owner and the triage channel; the reason modal; the interval and
opt-outs; the numbers; the account's health. Signed Slack requests in, the emulator out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.accounts.enums import Consent
from app.accounts.models import Account, NpsSurvey, Testimonial
from app.apikeys.scopes import Scope
from app.slack.ids import ActionId, BlockId, CallbackId
from app.slack_emulator import message_event
from tests.accounts.test_accounts_flow import command, latest_health
from tests.api.helpers import api_client, api_key
from tests.sla.test_sla_flow import sweep
from tests.support.server import RunningApp, wait_until
from tests.tickets.helpers import add_member, watch

LEAD, CSM, CUSTOMER, COLLEAGUE = "ULEAD1", "UCSM", "UEXT1", "UEXT2"


def question(emulator) -> dict[str, Any] | None:
    for message in emulator.messages("CSHARED"):
        if any(b.get("block_id") == BlockId.NPS_SCORES for b in message.get("blocks") or []):
            return message
    return None


async def tap(sender, prompt: dict[str, Any], action_id: str, user: str):
    block, button = next(
        (b, e)
        for b in prompt["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )
    return await sender.send_block_actions(
        [{"action_id": action_id, "value": button["value"], "block_id": block["block_id"]}],
        user_id=user,
        channel_id="CSHARED",
        message=prompt,
        team_id="T0001",
        user_team_id="TGLOBEX",
    )


async def surveys(app: RunningApp) -> list[NpsSurvey]:
    async with app.runtime.session_factory() as session:
        return list(await session.scalars(select(NpsSurvey).order_by(NpsSurvey.id)))


async def test_an_nps_round_reaches_only_customers_and_counts_only_the_addressee(
    running_app, sender, emulator, clock
):
    emulator.add_team("TGLOBEX", name="Globex Corp", domain="globex")
    await watch(running_app, "CSHARED", is_ext_shared=True)
    await add_member(running_app, CSM)
    for person, words in ((CUSTOMER, "Webhook retries?"), (COLLEAGUE, "Invoices?")):
        await sender.send_event(
            message_event("CSHARED", person, words, team="TGLOBEX", user_team="TGLOBEX"),
            is_ext_shared_channel=True,
        )
    await add_member(running_app, COLLEAGUE)  # joined the support team since: never asked
    await wait_until(lambda: _named(running_app), message="account named by team.info")
    await command(sender, f"account set Globex Corp owner=<@{CSM}|csm>")

    # A lead starts a round: one question, to the customer, in their channel.
    refused = await command(sender, "nps start", user=CSM)
    assert refused == "Sorry, only support leads can start an NPS round."
    started = await command(sender, "nps start")
    assert started.startswith("Asked 1 contact(s) of 1 account(s)")
    prompt = await wait_until(lambda: question(emulator), message="the NPS question")
    assert prompt["text"].startswith(f"<@{CUSTOMER}> a quick question: How likely")
    [survey] = await surveys(running_app)
    assert (survey.contact_user_id, survey.channel_id) == (CUSTOMER, "CSHARED")

    # Someone else's tap changes nothing and is told so; the customer's counts.
    assert (await tap(sender, prompt, "nps_score_10", COLLEAGUE)).status_code == 200
    await wait_until(
        lambda: [
            c for c in emulator.calls("chat.postEphemeral") if c.args.get("user") == COLLEAGUE
        ],
        message="the refusal",
    )
    assert (await surveys(running_app))[0].score is None
    assert (await tap(sender, prompt, "nps_score_3", CUSTOMER)).status_code == 200
    [survey] = await surveys(running_app)
    assert survey.score == 3

    # A detractor: the owner hears in a direct message, and the triage channel too.
    def alerts() -> list[str]:
        return [
            str(call.args["channel"])
            for call in emulator.delivered("chat.postMessage")
            if "scored us *3/10*" in str(call.args.get("text"))
        ]

    await wait_until(lambda: sorted(alerts()) == ["CTRIAGE", CSM], message="detractor alerts")
    redrawn = await wait_until(
        lambda: (q := question(emulator)) and "You answered 3/10" in q["text"] and q,
        message="the question redrawn",
    )

    # The reason, in a modal only the customer can open.
    assert (await tap(sender, redrawn, ActionId.NPS_ADD_REASON, CUSTOMER)).status_code == 200
    [opened] = emulator.calls("views.open")
    modal = opened.args["view"]
    assert modal["callback_id"] == CallbackId.NPS_REASON
    submitted = await sender.send_view_submission(
        {
            "callback_id": modal["callback_id"],
            "private_metadata": modal["private_metadata"],
            "blocks": modal["blocks"],
            "state": {
                "values": {
                    BlockId.NPS_REASON: {
                        ActionId.NPS_REASON_INPUT: {
                            "type": "plain_text_input",
                            "value": "Exports keep failing <!channel>",
                        }
                    }
                }
            },
        },
        user_id=CUSTOMER,
        team_id="TGLOBEX",
    )
    assert submitted.status_code == 200 and not submitted.content
    assert (await surveys(running_app))[0].reason == "Exports keep failing <!channel>"
    told = await wait_until(
        lambda: [
            call.args["text"]
            for call in emulator.delivered("chat.postMessage")
            if "said why they scored 3/10" in str(call.args.get("text"))
        ],
        message="the reason shared",
    )
    assert "&lt;!channel&gt;" in told[0]  # escaped: a customer never pings the team

    # Numbers, and the account's health counts its NPS.
    shown = await command(sender, "nps")
    assert "*-100* (1 answers: 0 promoters, 0 passives, 1 detractors)" in shown
    assert f"<@{CSM}> -100 (1)" in shown and "<#CSHARED> -100 (1)" in shown
    assert "last 30 days" in await command(sender, "nps 30d")
    async with api_client(running_app, await api_key(running_app, Scope.ACCOUNTS_READ)) as api:
        detail = (await api.get(f"/api/accounts/{survey.account_id}")).json()
    assert (detail["nps_180_days"], detail["nps_answers_180_days"]) == (-100.0, 1)

    # Within the interval nobody is asked twice; an opted-out channel is never asked.
    again = await command(sender, "nps start")
    assert "Asked 0 contact(s)" in again and "1 were asked in the last 90 days" in again
    assert "will not be asked" in await command(sender, "nps optout <#CSHARED|shared>")
    clock.advance(timedelta(days=91))
    later = await command(sender, "nps start")
    assert "Asked 0 contact(s)" in later and "1 are never asked" in later
    assert len(await surveys(running_app)) == 1

    await sweep(running_app)  # the question has closed; the morning scoring has run
    closed = await wait_until(
        lambda: (q := _latest(emulator)) and "This question has closed" in q and q,
        message="the question closed",
    )
    assert "You answered 3/10" in closed
    health = await latest_health(running_app, survey.account_id)
    assert {"signal": "nps", "points": -20, "why": "NPS -100"} in health.reasons


def _latest(emulator) -> str | None:
    for call in reversed(emulator.delivered("chat.update")):
        if call.args.get("channel") == "CSHARED":
            return str(call.args.get("text"))
    return None


async def _named(app: RunningApp) -> bool:
    async with app.runtime.session_factory() as session:
        return bool(await session.scalar(select(Account.id).where(Account.name == "Globex Corp")))


async def test_a_promoter_with_a_reason_is_asked_to_be_quoted(running_app, sender, emulator):
    emulator.add_team("TGLOBEX", name="Globex Corp", domain="globex")
    await watch(running_app, "CSHARED", is_ext_shared=True)
    await sender.send_event(
        message_event(
            "CSHARED", CUSTOMER, "Thanks for the help!", team="TGLOBEX", user_team="TGLOBEX"
        ),
        is_ext_shared_channel=True,
    )
    assert (await command(sender, "nps start")).startswith("Asked 1 contact(s)")
    prompt = await wait_until(lambda: question(emulator), message="the NPS question")
    assert (await tap(sender, prompt, "nps_score_10", CUSTOMER)).status_code == 200
    redrawn = await wait_until(
        lambda: (q := question(emulator)) and "You answered 10/10" in q["text"] and q,
        message="the question redrawn",
    )
    assert (await tap(sender, redrawn, ActionId.NPS_ADD_REASON, CUSTOMER)).status_code == 200
    [opened] = emulator.calls("views.open")
    reason = {"type": "plain_text_input", "value": "They fix things the same day."}
    submitted = await sender.send_view_submission(
        {
            "callback_id": CallbackId.NPS_REASON,
            "private_metadata": opened.args["view"]["private_metadata"],
            "blocks": opened.args["view"]["blocks"],
            "state": {"values": {BlockId.NPS_REASON: {ActionId.NPS_REASON_INPUT: reason}}},
        },
        user_id=CUSTOMER,
        team_id="TGLOBEX",
    )
    assert submitted.status_code == 200

    # "May we quote you?" in the question's thread; this time the answer is no.
    [survey] = await surveys(running_app)
    asked = await wait_until(
        lambda: [
            m
            for m in emulator.thread("CSHARED", survey.prompt_ts or "")
            if "May we quote you?" in str(m.get("text"))
        ],
        message="the consent question",
    )
    [block] = [b for b in asked[0]["blocks"] if b.get("block_id") == BlockId.QUOTE_CONSENT]
    [no] = [e for e in block["elements"] if e["action_id"] == "quote_declined"]
    answer = await sender.send_block_actions(
        [{"action_id": no["action_id"], "block_id": BlockId.QUOTE_CONSENT, "value": no["value"]}],
        user_id=CUSTOMER,
        channel_id="CSHARED",
        message=asked[0],
        team_id="T0001",
        user_team_id="TGLOBEX",
    )
    assert answer.status_code == 200
    async with running_app.runtime.session_factory() as session:
        [quote] = list(await session.scalars(select(Testimonial)))
    assert (quote.source, quote.consent, quote.quote) == ("nps", Consent.DECLINED, None)


async def test_a_reminder_then_dont_ask_me_again_until_a_lead_opts_them_back_in(
    running_app, sender, emulator, clock
):
    emulator.add_team("TGLOBEX", name="Globex Corp", domain="globex")
    await watch(running_app, "CSHARED", is_ext_shared=True)
    await sender.send_event(
        message_event("CSHARED", CUSTOMER, "Hello?", team="TGLOBEX", user_team="TGLOBEX"),
        is_ext_shared_channel=True,
    )
    await command(sender, "nps start")
    prompt = await wait_until(lambda: question(emulator), message="the NPS question")

    # Unanswered after three days: one reminder, addressed to them.
    clock.advance(timedelta(days=3, minutes=1))
    await sweep(running_app)
    reminders = await wait_until(
        lambda: [
            m["text"]
            for m in emulator.messages("CSHARED")
            if "a gentle reminder" in str(m.get("text"))
        ],
        message="the reminder",
    )
    assert reminders == [
        f"<@{CUSTOMER}> a gentle reminder: how likely are you to recommend us?"
        " One tap on the question above; it helps the team a lot."
    ]

    # "Don't ask me again" closes it and opts them out; a lead can opt them back in.
    assert (await tap(sender, prompt, ActionId.NPS_DECLINE, CUSTOMER)).status_code == 200
    await wait_until(
        lambda: (text := _latest(emulator)) and "we won't ask you again" in text,
        message="the question says so",
    )
    clock.advance(timedelta(days=91))
    assert "1 are never asked" in await command(sender, "nps start")
    assert "may be asked for NPS again" in await command(sender, f"nps optin <@{CUSTOMER}|gina>")
    assert (await command(sender, "nps start")).startswith("Asked 1 contact(s)")
