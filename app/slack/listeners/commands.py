"""The `/ticket` slash command.

The text is parsed by the pure grammar (app/slack/commands.py); each command runs its service in
one transaction and is acknowledged with a reply only its user sees. Everything before the ack
is fast database work, well inside Slack's 3 s. Domain errors become replies in one place
(`answer_command`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.slack.blocks.new_ticket import NewTicketForm
from app.slack.commands import (
    USAGE,
    Assign,
    AutoAssign,
    AutoReply,
    ChannelList,
    Close,
    Command,
    CsatAccount,
    CsatChannel,
    CsatDelay,
    CsatInternal,
    CsatShow,
    CsatWorkspace,
    Help,
    HoursSet,
    HoursShow,
    ListTickets,
    NewTicket,
    Note,
    OffHoursReply,
    Reopen,
    Resolve,
    SetPriority,
    SetStatus,
    Show,
    SlaSet,
    SlaShow,
    Stats,
    TeamAdd,
    TeamCapacity,
    TeamHours,
    TeamList,
    TeamRemove,
    Unassign,
    Unwatch,
    UsageError,
    Watch,
    parse,
)
from app.slack.context import SlackContext
from app.slack.listeners.assignment_commands import run_auto_assign_command, run_member_command
from app.slack.listeners.csat_commands import run_csat_command, run_stats_command
from app.slack.listeners.sla_commands import run_hours_command, run_sla_command
from app.slack.listeners.ticket_commands import (
    run_list_command,
    run_ticket_command,
    show_ticket,
)
from app.slack.new_ticket_form import open_new_ticket_form
from app.slack.replies import Reply, ack_ephemeral, answer_command
from app.team import service as team
from app.team.enums import Role
from app.team.models import TeamMember
from app.workspaces import channels
from app.workspaces.channels import ChannelListing, WatchOutcome, WatchResult


@dataclass(frozen=True)
class Invocation:
    """Who ran the command, where."""

    workspace_id: int
    user_id: str
    channel_id: str
    channel_name: str


def register(app: AsyncApp, ctx: SlackContext) -> None:
    @app.command("/ticket")
    async def on_ticket_command(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient
    ) -> None:
        parsed = parse(command.get("text") or "")
        if isinstance(parsed, UsageError):
            await ack_ephemeral(ack, parsed.message)
        elif isinstance(parsed, Help):
            await ack_ephemeral(ack, USAGE)
        elif isinstance(parsed, NewTicket):
            await ack()
            await open_new_ticket_form(
                ctx, client, body=command, form=NewTicketForm(channel_id=command.get("channel_id"))
            )
        else:
            await answer_command(ack, lambda: run_command(ctx, parsed, command))


async def run_command(ctx: SlackContext, parsed: Command, command: dict[str, Any]) -> str | Reply:
    """Run one command in one transaction; returns the reply. Domain errors roll it back."""
    async with ctx.session_factory() as session, session.begin():
        workspace_id = await ctx.require_workspace_id(session=session, body=command)
        who = Invocation(
            workspace_id=workspace_id,
            user_id=command["user_id"],
            channel_id=command["channel_id"],
            channel_name=command.get("channel_name") or "",
        )
        return await _run(ctx, session, who, parsed)


async def _run(
    ctx: SlackContext, session: AsyncSession, who: Invocation, parsed: Command
) -> str | Reply:
    match parsed:
        case AutoAssign():
            return await run_auto_assign_command(
                session=session,
                workspace_id=who.workspace_id,
                user_id=who.user_id,
                channel_id=who.channel_id,
                command=parsed,
            )
        case TeamCapacity() | TeamHours():
            return await run_member_command(
                session=session, workspace_id=who.workspace_id, user_id=who.user_id, command=parsed
            )
        case ListTickets():
            return await run_list_command(
                session=session, workspace_id=who.workspace_id, user_id=who.user_id, command=parsed
            )
        case (
            Assign()
            | Unassign()
            | SetPriority()
            | SetStatus()
            | Resolve()
            | Reopen()
            | Close()
            | Note()
        ):
            return await run_ticket_command(
                session=session,
                workspace_id=who.workspace_id,
                user_id=who.user_id,
                command=parsed,
                now=ctx.clock.now(),
            )
        case TeamList():
            members = await team.list_members(
                session=session, workspace_id=who.workspace_id, actor_id=who.user_id
            )
            return team_list_reply(members)
        case TeamAdd(user_id=user_id, role=role):
            change = await team.add_member(
                session=session,
                workspace_id=who.workspace_id,
                user_id=user_id,
                role=role,
                actor_id=who.user_id,
            )
            return team_add_reply(change)
        case TeamRemove(user_id=user_id):
            member = await team.remove_member(
                session=session,
                workspace_id=who.workspace_id,
                user_id=user_id,
                actor_id=who.user_id,
            )
            return team_remove_reply(member)
        case Watch(triage_channel_id=triage_channel_id):
            result = await channels.watch_channel(
                session=session,
                workspace_id=who.workspace_id,
                channel_id=who.channel_id,
                channel_name=who.channel_name,
                triage_channel_id=triage_channel_id,
                actor_id=who.user_id,
            )
            return watch_reply(result, bot_user_id=ctx.identity.bot_user_id)
        case Unwatch():
            await channels.unwatch_channel(
                session=session,
                workspace_id=who.workspace_id,
                channel_id=who.channel_id,
                actor_id=who.user_id,
                now=ctx.clock.now(),
            )
            return (
                f"Stopped watching <#{who.channel_id}>: new messages here no longer become tickets."
            )
        case ChannelList():
            listing = await channels.list_watched_channels(
                session=session, workspace_id=who.workspace_id, actor_id=who.user_id
            )
            return channel_list_reply(listing)
        case AutoReply(enabled=enabled):
            await channels.set_auto_reply(
                session=session,
                workspace_id=who.workspace_id,
                channel_id=who.channel_id,
                enabled=enabled,
                actor_id=who.user_id,
            )
            if enabled:
                return (
                    f"Auto-reply is on in <#{who.channel_id}>: "
                    "new tickets get an automatic reply in their thread."
                )
            return f"Auto-reply is off in <#{who.channel_id}>."
        case HoursShow() | HoursSet():
            return await run_hours_command(
                session=session,
                workspace_id=who.workspace_id,
                user_id=who.user_id,
                command=parsed,
                now=ctx.clock.now(),
            )
        case OffHoursReply(enabled=enabled):
            await channels.set_off_hours_reply(
                session=session,
                workspace_id=who.workspace_id,
                channel_id=who.channel_id,
                enabled=enabled,
                actor_id=who.user_id,
            )
            state = "on" if enabled else "off"
            return f"The off-hours reply is {state} in <#{who.channel_id}>."
        case Show(number=number):
            return await show_ticket(
                session=session, workspace_id=who.workspace_id, user_id=who.user_id, number=number
            )
        case SlaShow() | SlaSet():
            return await run_sla_command(
                session=session,
                workspace_id=who.workspace_id,
                user_id=who.user_id,
                command=parsed,
                now=ctx.clock.now(),
            )
        case (
            CsatShow()
            | CsatChannel()
            | CsatWorkspace()
            | CsatDelay()
            | CsatInternal()
            | (CsatAccount())
        ):
            return await run_csat_command(
                session=session,
                workspace_id=who.workspace_id,
                user_id=who.user_id,
                channel_id=who.channel_id,
                command=parsed,
                now=ctx.clock.now(),
            )
        case Stats():
            return await run_stats_command(
                session=session,
                workspace_id=who.workspace_id,
                user_id=who.user_id,
                command=parsed,
                now=ctx.clock.now(),
            )
        case Help():
            return USAGE
        case NewTicket():  # the listener opens the new-ticket form instead: nothing to run
            raise ValueError("/ticket new opens a form; it is not run as a command")


# -- replies (plain mrkdwn; Slack renders the <@U…> and <#C…> mentions) ------------------------


def team_list_reply(members: list[TeamMember]) -> str:
    lines = [f"*Support team* ({len(members)})"]
    for member in members:
        source = ", from the user group" if team.is_from_usergroup(member) else ""
        lines.append(f"• <@{member.slack_user_id}>: {member.role}{source}")
    return "\n".join(lines)


def team_add_reply(change: team.MembershipChange) -> str:
    member = change.member
    mention, role = f"<@{member.slack_user_id}>", member.role
    if change.previous_role is None:
        return f"Added {mention} to the support team as {_a(role)}."
    if change.previous_role == role:
        if change.was_from_usergroup:
            return f"{mention} stays {_a(role)}, now even if they leave the user group."
        return f"{mention} is already {_a(role)}."
    return f"{mention} is now {_a(role)} (was {_a(change.previous_role)})."


def team_remove_reply(member: TeamMember) -> str:
    reply = f"Removed <@{member.slack_user_id}> from the support team."
    if team.is_from_usergroup(member):
        usergroup_id = (member.added_by or "").removeprefix(team.USERGROUP_SOURCE_PREFIX)
        reply += (
            f" They came from the support user group (`{usergroup_id}`): take them out of it"
            " too, or the next sync adds them back."
        )
    return reply


def watch_reply(result: WatchResult, *, bot_user_id: str | None) -> str:
    channel = f"<#{result.channel.slack_channel_id}>"
    triage = _triage(result.channel.triage_channel_id, result.default_triage_channel_id)
    if result.outcome == WatchOutcome.UPDATED:
        return f"{channel} is already watched; its triage cards now go to {triage}."
    again = " again" if result.outcome == WatchOutcome.REWATCHED else ""
    reply = (
        f"Watching {channel}{again}: new messages here become tickets,"
        f" with triage cards in {triage}."
    )
    if bot_user_id:
        reply += f" Make sure <@{bot_user_id}> is in both channels."
    return reply


def channel_list_reply(listing: ChannelListing) -> str:
    if not listing.channels:
        return "No channels are watched yet. Run `/ticket watch` in a channel customers write in."
    lines = [f"*Watched channels* ({len(listing.channels)})"]
    for channel in listing.channels:
        triage = _triage(channel.triage_channel_id, listing.default_triage_channel_id)
        auto_reply = "on" if channel.auto_reply_enabled else "off"
        lines.append(
            f"• <#{channel.slack_channel_id}>: triage in {triage}, auto-reply {auto_reply}"
        )
    return "\n".join(lines)


def _triage(own: str | None, default: str | None) -> str:
    if own:
        return f"<#{own}>"
    if default:
        return f"<#{default}> (the default)"
    return "no triage channel (set TRIAGE_CHANNEL_ID)"


def _a(role: Role) -> str:
    return f"an {role}" if role == Role.AGENT else f"a {role}"
