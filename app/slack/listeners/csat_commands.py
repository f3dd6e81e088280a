"""`/ticket csat ...` (who is asked to rate, and when) and `/ticket stats` (the numbers). The
team sees the settings and the stats, leads change the settings: the table says so
(app/slack/ticket_command/specs.py)."""

from __future__ import annotations

from datetime import timedelta

from app.csat import preferences
from app.csat.enums import OptOutKind
from app.csat.stats import Breakdown, CsatNumbers, csat_breakdown, csat_by_period, csat_numbers
from app.sla.durations import format_duration
from app.slack.ticket_command.call import Call
from app.slack.ticket_command.grammar import (
    CsatAccount,
    CsatChannel,
    CsatDelay,
    CsatInternal,
    CsatShow,
    CsatWorkspace,
    Stats,
)
from app.text_safety import escape
from app.tickets.stats import ticket_volume


async def show_csat(call: Call, command: CsatShow) -> str:
    choices = await preferences.load_choices(session=call.session, workspace_id=call.workspace_id)
    return csat_settings_reply(choices)


async def set_csat_channel(call: Call, command: CsatChannel) -> str:
    channel_id = call.channel_id
    await preferences.set_opt_out(
        kind=OptOutKind.CHANNEL,
        key=channel_id,
        label=channel_id,
        opted_out=not command.enabled,
        session=call.session,
        workspace_id=call.workspace_id,
        actor_id=call.user_id,
        now=call.now,
    )
    if command.enabled:
        return f"Resolved tickets from <#{channel_id}> get a rating prompt again."
    return f"Tickets from <#{channel_id}> are no longer followed by a rating prompt."


async def set_csat_workspace(call: Call, command: CsatWorkspace) -> str:
    await preferences.set_enabled(
        session=call.session,
        workspace_id=call.workspace_id,
        enabled=command.enabled,
        actor_id=call.user_id,
        now=call.now,
    )
    return (
        "Rating prompts are on: requesters are asked after each resolution."
        if command.enabled
        else "Rating prompts are off in this workspace."
    )


async def set_csat_delay(call: Call, command: CsatDelay) -> str:
    await preferences.set_delay(
        session=call.session,
        workspace_id=call.workspace_id,
        delay=command.delay,
        actor_id=call.user_id,
        now=call.now,
    )
    return f"Rating prompts now go out {_after(command.delay)} a ticket is resolved."


async def set_csat_internal(call: Call, command: CsatInternal) -> str:
    await preferences.set_include_internal(
        session=call.session,
        workspace_id=call.workspace_id,
        include=command.enabled,
        actor_id=call.user_id,
        now=call.now,
    )
    return (
        "Requesters from this workspace are asked to rate too."
        if command.enabled
        else "Only external (Slack Connect) requesters are asked to rate from now on."
    )


async def set_csat_account(call: Call, command: CsatAccount) -> str:
    account = command.account
    await preferences.set_opt_out(
        kind=OptOutKind.ACCOUNT,
        key=preferences.account_key(account),
        label=account,
        opted_out=not command.enabled,
        session=call.session,
        workspace_id=call.workspace_id,
        actor_id=call.user_id,
        now=call.now,
    )
    if command.enabled:
        return f"Requesters from *{escape(account)}* are asked to rate again."
    return f"Requesters from *{escape(account)}* are no longer asked to rate."


def csat_settings_reply(choices: preferences.CsatChoices) -> str:
    state = "on" if choices.enabled else "off"
    default = " (the default)" if choices.delay_is_default else ""
    lines = [
        f"*CSAT* is {state}: the rating prompt goes out {_after(choices.delay)} a ticket is"
        f" resolved{default}.",
        "Internal requesters are "
        + ("asked too." if choices.include_internal else "not asked (external only)."),
    ]
    if choices.opted_out_channels:
        channels = ", ".join(f"<#{channel}>" for channel in choices.opted_out_channels)
        lines.append(f"Not asked in: {channels}")
    if choices.opted_out_accounts:
        accounts = ", ".join(escape(account) for account in choices.opted_out_accounts)
        lines.append(f"Accounts not asked: {accounts}")
    return "\n".join(lines)


def _after(delay: timedelta) -> str:
    return "right" if delay <= timedelta(0) else f"{format_duration(delay)} after"


async def show_stats(call: Call, command: Stats) -> str:
    session, workspace_id = call.session, call.workspace_id
    end = call.now
    start = end - timedelta(days=command.days)
    earlier = start - timedelta(days=command.days)
    step = timedelta(days=1) if command.days <= 7 else timedelta(days=7)
    volume = await ticket_volume(session=session, workspace_id=workspace_id, start=start, end=end)
    numbers = await csat_numbers(session=session, workspace_id=workspace_id, start=start, end=end)
    before = await csat_numbers(
        session=session, workspace_id=workspace_id, start=earlier, end=start
    )
    lines = [
        f"*Support stats, last {command.days} days* ({start:%b %d} to {end:%b %d})",
        f"*Tickets*: {volume.opened} opened · {volume.resolved} resolved",
        f"*CSAT*: {describe(numbers)}"
        + (f" · previous {command.days} days: {_score(before)}" if before.sent else ""),
    ]
    if not numbers.sent:
        return "\n".join(lines)
    periods = await csat_by_period(
        session=session, workspace_id=workspace_id, start=start, end=end, step=step
    )
    label = "day" if step == timedelta(days=1) else "week"
    lines.append(
        f"*By {label}*: "
        + " · ".join(
            f"{period.start:%b %d} {_score(period.numbers)}"
            for period in periods
            if period.numbers.sent
        )
    )
    for by in Breakdown:
        groups = await csat_breakdown(
            session=session, workspace_id=workspace_id, start=start, end=end, by=by
        )
        lines.append(
            f"*By {by.value}*: "
            + " · ".join(f"{_group_name(by, key)} {_score(group)}" for key, group in groups)
        )
    return "\n".join(lines)


def describe(numbers: CsatNumbers) -> str:
    if not numbers.sent:
        return "no surveys sent yet"
    text = f"{numbers.rated} of {numbers.sent} rated ({numbers.response_rate:.0f}% response rate)"
    if numbers.rated:
        text = f"{numbers.score:.0f}% satisfied · average {numbers.average:.1f}/5 · " + text
    return text


def _group_name(by: Breakdown, key: str | None) -> str:
    if by is Breakdown.CHANNEL:
        return f"<#{key}>" if key else "no channel"
    if by is Breakdown.AGENT:
        return f"<@{key}>" if key else "unassigned"
    return escape(key) if key else "no account"


def _score(numbers: CsatNumbers) -> str:
    if not numbers.rated:
        return f"no ratings ({numbers.sent} sent)"
    return f"{numbers.score:.0f}% ({numbers.rated} rated)"
