"""`/ticket nps …`: the NPS settings and numbers, a round of questions, and opt-outs."""

from __future__ import annotations

from datetime import timedelta

from app.accounts import nps
from app.accounts import service as accounts
from app.accounts.enums import NpsOptOutKind
from app.accounts.queries import account_names
from app.slack.listeners.account_commands import account_named
from app.slack.ticket_command.account_grammar import NpsOptOut, NpsShow, NpsStart
from app.slack.ticket_command.call import Call
from app.text_safety import escape

SHOWN = 10


async def show_nps(call: Call, command: NpsShow) -> str:
    since, until = call.now - timedelta(days=command.days), call.now
    [overall] = await nps.nps_numbers(
        session=call.session, workspace_id=call.workspace_id, since=since, until=until
    )
    policy = call.nps
    lines = [
        f"*NPS*, answers of the last {command.days} days: " + _numbers(overall),
        f"Each contact is asked at most once every {policy.interval.days} days; the question"
        f" closes after {_days(policy.expire_after)}"
        + (
            f", with a reminder after {_days(policy.remind_after)}." if policy.remind_after else "."
        ),
    ]
    by_account = await nps.nps_numbers(
        session=call.session, workspace_id=call.workspace_id, since=since, until=until, by="account"
    )
    if by_account:
        names = await account_names(
            session=call.session, account_ids=[int(n.key) for n in by_account if n.key]
        )
        ranked = sorted(by_account, key=lambda n: n.nps if n.nps is not None else 101)
        lines.append(
            "*By account* (lowest first): "
            + " · ".join(
                f"{escape(names.get(int(n.key or 0), '?'))} {_score(n)}" for n in ranked[:SHOWN]
            )
        )
    by_owner = await nps.nps_numbers(
        session=call.session, workspace_id=call.workspace_id, since=since, until=until, by="owner"
    )
    if by_owner:
        lines.append(
            "*By owner*: "
            + " · ".join(f"{f'<@{n.key}>' if n.key else 'no owner'} {_score(n)}" for n in by_owner)
        )
    by_channel = await nps.nps_numbers(
        session=call.session,
        workspace_id=call.workspace_id,
        since=since,
        until=until,
        by="channel",
    )
    if by_channel:
        lines.append(
            "*By channel*: " + " · ".join(f"<#{n.key}> {_score(n)}" for n in by_channel[:SHOWN])
        )
    opted = await nps.opt_outs(session=call.session, workspace_id=call.workspace_id)
    if opted:
        lines.append(f"Never asked: {len(opted)} (`/ticket nps optin …` to undo)")
    lines.append("Leads ask with `/ticket nps start` (every account) or `/ticket nps start Acme`.")
    return "\n".join(lines)


async def start_round(call: Call, command: NpsStart) -> str:
    account = None
    if command.ref is not None:
        account = await account_named(call, command.ref)
    done = await nps.start_round(
        session=call.session,
        workspace_id=call.workspace_id,
        policy=call.nps,
        now=call.now,
        account=account,
        started_by=call.user_id,
    )
    where = f"*{escape(account.name)}*" if account else f"{done.accounts} account(s)"
    words = [f"Asked {done.asked} contact(s) of {where} how likely they are to recommend you."]
    if done.recently_asked:
        words.append(
            f"{done.recently_asked} were asked in the last {call.nps.interval.days} days already."
        )
    if done.opted_out:
        words.append(f"{done.opted_out} are never asked.")
    return " ".join(words)


async def change_opt_out(call: Call, command: NpsOptOut) -> str:
    key, shown = command.key, ""
    if command.kind is NpsOptOutKind.PERSON:
        shown = f"<@{key}>"
    elif command.kind is NpsOptOutKind.CHANNEL:
        shown = f"<#{key}>"
    else:
        found = await accounts.find_account_named(
            session=call.session, workspace_id=call.workspace_id, name=key
        )
        key, shown = str(found.id), f"*{escape(found.name)}*"
    if command.opt_out:
        changed = await nps.opt_out(
            session=call.session,
            workspace_id=call.workspace_id,
            kind=command.kind,
            key=key,
            by=call.user_id,
            now=call.now,
        )
        return (
            f"{shown} will not be asked for NPS." if changed else f"{shown} is already never asked."
        )
    changed = await nps.opt_in(
        session=call.session, workspace_id=call.workspace_id, kind=command.kind, key=key
    )
    return f"{shown} may be asked for NPS again." if changed else f"{shown} was not opted out."


def _numbers(n: nps.NpsNumbers) -> str:
    if not n.answers:
        return "no answers yet."
    return (
        f"*{n.nps:+.0f}* ({n.answers} answers: {n.promoters} promoters, {n.passives} passives,"
        f" {n.detractors} detractors)"
    )


def _score(n: nps.NpsNumbers) -> str:
    return f"{n.nps:+.0f} ({n.answers})" if n.nps is not None else "-"


def _days(span: timedelta | None) -> str:
    if span is None:
        return "never"
    days = span / timedelta(days=1)
    return f"{days:g} days" if days != 1 else "1 day"
