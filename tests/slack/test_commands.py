"""`/ticket` end to end: signed slash commands into the running app, on both databases."""

from __future__ import annotations

from sqlalchemy import select

from app.team.enums import Role
from app.team.models import TeamMember
from app.workspaces.models import WatchedChannel, Workspace
from tests.conftest import TEAM_ID

LEAD = "ULEAD1"


async def run(sender, text: str, *, user_id: str = LEAD, channel_id: str = "CSUPPORT", **kw):
    """Send the command; return the ephemeral reply's text."""
    response = await sender.send_command(text, user_id=user_id, channel_id=channel_id, **kw)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return body["text"]


async def team_rows(running_app) -> dict[str, tuple[Role, str | None]]:
    async with running_app.runtime.session_factory() as session:
        members = await session.scalars(select(TeamMember))
        return {m.slack_user_id: (m.role, m.added_by) for m in members}


async def channel_rows(running_app) -> dict[str, WatchedChannel]:
    async with running_app.runtime.session_factory() as session:
        return {c.slack_channel_id: c for c in await session.scalars(select(WatchedChannel))}


# -- team ------------------------------------------------------------------------------------


async def test_lead_adds_changes_lists_and_removes_members(running_app, sender):
    added = await run(sender, "team add <@UAGENT1|ann> agent")
    assert added == "Added <@UAGENT1> to the support team as an agent."
    assert await run(sender, "team add <@ULEAD2> lead") == (
        "Added <@ULEAD2> to the support team as a lead."
    )
    assert await run(sender, "team add <@UAGENT1|ann> agent") == "<@UAGENT1> is already an agent."
    assert await team_rows(running_app) == {
        LEAD: (Role.LEAD, "SUPPORT_LEADS"),
        "UAGENT1": (Role.AGENT, LEAD),
        "ULEAD2": (Role.LEAD, LEAD),
    }

    promoted = await run(sender, "team add <@UAGENT1|ann> lead", user_id="ULEAD2")
    assert promoted == "<@UAGENT1> is now a lead (was an agent)."
    assert (await team_rows(running_app))["UAGENT1"] == (Role.LEAD, "ULEAD2")

    listing = await run(sender, "team")
    assert listing.splitlines() == [
        "*Support team* (3)",
        "• <@UAGENT1>: lead",
        f"• <@{LEAD}>: lead",
        "• <@ULEAD2>: lead",
    ]

    removed = await run(sender, "team remove <@UAGENT1|ann>")
    assert removed == "Removed <@UAGENT1> from the support team."
    assert set(await team_rows(running_app)) == {LEAD, "ULEAD2"}


async def test_non_lead_is_refused_politely_and_nothing_changes(running_app, sender):
    await run(sender, "team add <@UAGENT1> agent")
    before = await team_rows(running_app)

    for text in (
        "team",
        "team add <@UX> lead",
        "team remove <@ULEAD1>",
        "team add <@UAGENT1> lead",
    ):
        for user_id in ("UAGENT1", "UCUSTOMER"):
            reply = await run(sender, text, user_id=user_id)
            assert reply.startswith("Sorry, only support leads can"), (text, reply)
    assert await team_rows(running_app) == before


async def test_removing_someone_not_on_the_team_says_so(running_app, sender):
    reply = await run(sender, "team remove <@UNOBODY|nobody>")

    assert reply == "<@UNOBODY> is not on the support team."


async def test_the_last_lead_cannot_leave_or_be_demoted(running_app, sender):
    assert "only support lead" in await run(sender, f"team remove <@{LEAD}>")
    assert "only support lead" in await run(sender, f"team add <@{LEAD}> agent")
    assert await team_rows(running_app) == {LEAD: (Role.LEAD, "SUPPORT_LEADS")}

    await run(sender, "team add <@ULEAD2> lead")
    assert (
        await run(sender, f"team remove <@{LEAD}>") == f"Removed <@{LEAD}> from the support team."
    )
    assert set(await team_rows(running_app)) == {"ULEAD2"}


# -- channels --------------------------------------------------------------------------------


async def test_watch_with_the_default_triage_channel(running_app, sender):
    reply = await run(sender, "watch", channel_id="CSUPPORT", channel_name="support")

    assert reply.startswith(
        "Watching <#CSUPPORT>: new messages here become tickets, with triage cards in"
        " <#CTRIAGE> (the default)."
    )
    channel = (await channel_rows(running_app))["CSUPPORT"]
    assert (channel.name, channel.triage_channel_id, channel.unwatched_at) == (
        "support",
        None,
        None,
    )
    assert channel.added_by == LEAD and channel.auto_reply_enabled is True


async def test_watch_with_its_own_triage_channel_then_change_it(running_app, sender):
    reply = await run(sender, "watch <#CVIPTRIAGE|vip-triage>", channel_id="CVIP")
    assert "with triage cards in <#CVIPTRIAGE>." in reply
    assert (await channel_rows(running_app))["CVIP"].triage_channel_id == "CVIPTRIAGE"

    again = await run(sender, "watch <#COTHER>", channel_id="CVIP")
    assert again == "<#CVIP> is already watched; its triage cards now go to <#COTHER>."
    assert (await channel_rows(running_app))["CVIP"].triage_channel_id == "COTHER"


async def test_unwatch_then_watch_again_reactivates_the_same_row(running_app, sender):
    await run(sender, "watch", channel_id="CSUPPORT")
    await run(sender, "autoreply off", channel_id="CSUPPORT")
    first_id = (await channel_rows(running_app))["CSUPPORT"].id

    reply = await run(sender, "unwatch", channel_id="CSUPPORT")
    assert reply == "Stopped watching <#CSUPPORT>: new messages here no longer become tickets."
    unwatched = (await channel_rows(running_app))["CSUPPORT"]
    assert unwatched.unwatched_at == running_app.clock.now()

    rewatched = await run(sender, "watch", channel_id="CSUPPORT")
    assert rewatched.startswith("Watching <#CSUPPORT> again:")
    rows = await channel_rows(running_app)
    assert list(rows) == ["CSUPPORT"]
    channel = rows["CSUPPORT"]
    assert (channel.id, channel.unwatched_at, channel.auto_reply_enabled) == (first_id, None, False)


async def test_channels_lists_only_watched_channels_with_their_triage(running_app, sender):
    assert "No channels are watched yet" in await run(sender, "channels")
    await run(sender, "watch", channel_id="CAAA", channel_name="a-support")
    await run(sender, "watch <#CVIPTRIAGE|vip-triage>", channel_id="CBBB", channel_name="b-vip")
    await run(sender, "watch", channel_id="CCCC", channel_name="c-old")
    await run(sender, "unwatch", channel_id="CCCC")
    await run(sender, "autoreply off", channel_id="CBBB")

    listing = await run(sender, "channels")

    assert listing.splitlines() == [
        "*Watched channels* (2)",
        "• <#CAAA>: triage in <#CTRIAGE> (the default), auto-reply on",
        "• <#CBBB>: triage in <#CVIPTRIAGE>, auto-reply off",
    ]


async def test_autoreply_toggles_in_a_watched_channel(running_app, sender):
    await run(sender, "watch", channel_id="CSUPPORT")

    off = await run(sender, "autoreply off", channel_id="CSUPPORT")
    assert off == "Auto-reply is off in <#CSUPPORT>."
    assert (await channel_rows(running_app))["CSUPPORT"].auto_reply_enabled is False
    on = await run(sender, "autoreply ON", channel_id="CSUPPORT")
    assert on.startswith("Auto-reply is on in <#CSUPPORT>")
    assert (await channel_rows(running_app))["CSUPPORT"].auto_reply_enabled is True


async def test_unwatch_and_autoreply_need_a_watched_channel(running_app, sender):
    for text in ("unwatch", "autoreply on"):
        reply = await run(sender, text, channel_id="CRANDOM")
        assert reply.startswith("This channel isn't watched."), text
    assert await channel_rows(running_app) == {}


async def test_watch_refuses_what_would_not_work(running_app, sender):
    own = await run(sender, "watch <#CSUPPORT|support>", channel_id="CSUPPORT")
    assert own == "A channel can't be its own triage channel: name another one."
    triage = await run(sender, "watch", channel_id="CTRIAGE")
    assert triage.startswith("This is the triage channel")
    direct = await run(sender, "watch", channel_id="D0DIRECT")
    assert "not in a direct message" in direct
    assert await channel_rows(running_app) == {}


async def test_non_lead_cannot_change_or_list_channels(running_app, sender):
    await run(sender, "watch", channel_id="CSUPPORT")

    refusals = {
        "watch": "Sorry, only support leads can watch channels.",
        "unwatch": "Sorry, only support leads can unwatch channels.",
        "channels": "Sorry, only support leads can list watched channels.",
        "autoreply off": "Sorry, only support leads can change auto-replies.",
    }
    for text, refusal in refusals.items():
        assert await run(sender, text, user_id="UCUSTOMER", channel_id="CSUPPORT") == refusal
    channel = (await channel_rows(running_app))["CSUPPORT"]
    assert (channel.unwatched_at, channel.auto_reply_enabled) == (None, True)


async def test_a_command_for_another_installation_leaves_nothing_behind(running_app, sender):
    """This ticketbot's token belongs to T0001: a request for another installation is refused
    (and never files that team as a workspace of ours)."""
    reply = await run(sender, "watch", team_id="T0OTHER", user_id="USOMEONE")

    assert reply == "This ticketbot serves another Slack workspace, so it can't help here."
    async with running_app.runtime.session_factory() as session:
        teams = set(await session.scalars(select(Workspace.slack_team_id)))
    assert teams == {TEAM_ID}
    assert await channel_rows(running_app) == {}


# -- usage -----------------------------------------------------------------------------------


async def test_bad_arguments_get_the_problem_and_the_usage(running_app, sender):
    cases = {
        "team add <@U1|ann> boss": "`boss` is not a role: use `agent` or `lead`.",
        "team add @ann agent": "`@ann` is not a person",
        "watch #triage": "`#triage` is not a channel",
        "autoreply maybe": "Say `on` or `off`",
        "promote <@U1>": "Unknown subcommand `promote`.",
    }
    for text, problem in cases.items():
        reply = await run(sender, text)
        assert reply.startswith(problem), text
        assert "/ticket team add @someone agent|lead" in reply
    assert await team_rows(running_app) == {LEAD: (Role.LEAD, "SUPPORT_LEADS")}
    assert await channel_rows(running_app) == {}


async def test_help_lists_the_usage_for_anyone(running_app, sender):
    reply = await run(sender, "help", user_id="UCUSTOMER")

    assert reply.startswith("*Usage:*")
    assert "/ticket watch [#triage-channel]" in reply
