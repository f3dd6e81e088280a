"""`/ticket watch`, `unwatch`, `channels`, `autoreply` and `offhours`: which channels become
tickets, where their triage cards go, and what customers there are told."""

from __future__ import annotations

from app.slack.ticket_command.call import Call
from app.slack.ticket_command.grammar import AutoReply, ChannelList, OffHoursReply, Unwatch, Watch
from app.workspaces import channels
from app.workspaces.channels import ChannelListing, WatchOutcome, WatchResult


async def watch_here(call: Call, command: Watch) -> str:
    result = await channels.watch_channel(
        session=call.session,
        workspace_id=call.workspace_id,
        channel_id=call.channel_id,
        channel_name=call.channel_name,
        triage_channel_id=command.triage_channel_id,
        actor_id=call.user_id,
    )
    return watch_reply(result, bot_user_id=call.bot_user_id)


async def unwatch_here(call: Call, command: Unwatch) -> str:
    await channels.unwatch_channel(
        session=call.session,
        workspace_id=call.workspace_id,
        channel_id=call.channel_id,
        actor_id=call.user_id,
        now=call.now,
    )
    return f"Stopped watching <#{call.channel_id}>: new messages here no longer become tickets."


async def list_channels(call: Call, command: ChannelList) -> str:
    listing = await channels.list_watched_channels(
        session=call.session, workspace_id=call.workspace_id, actor_id=call.user_id
    )
    return channel_list_reply(listing)


async def switch_auto_reply(call: Call, command: AutoReply) -> str:
    await channels.set_auto_reply(
        session=call.session,
        workspace_id=call.workspace_id,
        channel_id=call.channel_id,
        enabled=command.enabled,
        actor_id=call.user_id,
    )
    if command.enabled:
        return (
            f"Auto-reply is on in <#{call.channel_id}>: "
            "new tickets get an automatic reply in their thread."
        )
    return f"Auto-reply is off in <#{call.channel_id}>."


async def switch_off_hours_reply(call: Call, command: OffHoursReply) -> str:
    await channels.set_off_hours_reply(
        session=call.session,
        workspace_id=call.workspace_id,
        channel_id=call.channel_id,
        enabled=command.enabled,
        actor_id=call.user_id,
    )
    state = "on" if command.enabled else "off"
    return f"The off-hours reply is {state} in <#{call.channel_id}>."


# -- replies (plain mrkdwn; Slack renders the <@U…> and <#C…> mentions) ------------------------


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
