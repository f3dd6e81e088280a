"""Workspaces: created on first contact, kept up to date with what Slack says about them."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.workspaces.models import Workspace


async def ensure_workspace(
    *,
    session: AsyncSession,
    slack_team_id: str,
    name: str | None = None,
    domain: str | None = None,
    bot_user_id: str | None = None,
    default_triage_channel_id: str | None = None,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> Workspace:
    """The row of an installation (`slack_team_id` is its key: a team id, or an enterprise id
    for an org-wide install), created if this is the first we hear of it.

    Only ever called with an installation Slack vouched for (auth.test, or a signed request's
    `authorizations`): never with the team of a person writing from another organisation.
    """
    workspace = await session.scalar(
        select(Workspace).where(Workspace.slack_team_id == slack_team_id)
    )
    if workspace is None:
        workspace = Workspace(
            slack_team_id=slack_team_id,
            name=name or "",
            domain=domain,
            bot_user_id=bot_user_id,
            triage_channel_id=default_triage_channel_id,
            next_ticket_number=1,
            enterprise_id=enterprise_id,
            is_enterprise_install=is_enterprise_install,
        )
        session.add(workspace)
        await session.flush()
        return workspace
    if name and workspace.name != name:
        workspace.name = name
    if domain and workspace.domain != domain:
        workspace.domain = domain
    if bot_user_id and workspace.bot_user_id != bot_user_id:
        workspace.bot_user_id = bot_user_id
    if default_triage_channel_id and not workspace.triage_channel_id:
        workspace.triage_channel_id = default_triage_channel_id
    if enterprise_id and workspace.enterprise_id != enterprise_id:
        workspace.enterprise_id = enterprise_id
    return workspace


async def find_workspace_id(*, session: AsyncSession, slack_team_id: str) -> int | None:
    return await session.scalar(
        select(Workspace.id).where(Workspace.slack_team_id == slack_team_id)
    )


async def installation_workspace_id(
    *, session: AsyncSession, slack_team_id: str | None
) -> int | None:
    """The workspace this installation serves: the bot's own (`slack_team_id`, its key), or,
    while Slack has not said who we are (unreachable at start-up, or the CLI, which never asks),
    the one installation there is.

    Earlier versions could file a Slack Connect customer's workspace as a row of its own; such
    rows never got a bot user (only our own installation does, from auth.test), so they are
    passed over here.
    """
    if slack_team_id is not None:
        found = await find_workspace_id(session=session, slack_team_id=slack_team_id)
        if found is not None:
            return found
    for confirmed_only in (True, False):
        query = select(Workspace.id).order_by(Workspace.id).limit(2)
        if confirmed_only:
            query = query.where(Workspace.bot_user_id.is_not(None))
        ids = list(await session.scalars(query))
        if ids:
            return ids[0] if len(ids) == 1 else None
    return None


async def installed_workspace_id(
    *, session: AsyncSession, team_id: str | None, enterprise_id: str | None
) -> int | None:
    """With several installations (OAuth): the installed workspace `team_id` names, or else
    the org-wide install of its Enterprise Grid org `enterprise_id`, which serves every
    workspace of the org. Payloads such as `app_uninstalled` name the workspace only, with
    the org beside it; None when neither is installed."""
    if team_id is not None:
        found = await find_workspace_id(session=session, slack_team_id=team_id)
        if found is not None:
            return found
    if enterprise_id is None:
        return None
    return await session.scalar(
        select(Workspace.id).where(
            Workspace.slack_team_id == enterprise_id, Workspace.is_enterprise_install.is_(True)
        )
    )


def is_outside(
    workspace: Workspace,
    *,
    team_id: str | None,
    enterprise_id: str | None,
    org_would_be_named: bool = True,
) -> bool:
    """Does someone of this workspace/org belong to another organisation (Slack Connect)?

    People of our own workspace, and of other workspaces of our own Enterprise Grid org, are
    inside; unknown means inside (a customer is then found by role, not by team).

    For an org-wide install the org's workspaces are not known by id, but a request from a
    person of the org names the org (a command's `enterprise_id`, an interaction's
    `enterprise`, an event envelope's `enterprise_id`): a team named without an org is another
    organisation's. Not so for a message read back from the Web API, whose `team` comes alone
    (`org_would_be_named=False`): that one stays inside.
    """
    if enterprise_id is not None and enterprise_id == workspace.enterprise_id:
        return False
    if team_id is None:
        return enterprise_id is not None
    if workspace.is_enterprise_install:
        return enterprise_id is not None or org_would_be_named
    return team_id != workspace.slack_team_id


_TAKE_NUMBER = (  # built once (see app/tickets/service.py)
    update(Workspace)
    .where(Workspace.id == bindparam("workspace_id"))
    .values(next_ticket_number=Workspace.next_ticket_number + 1)
    .returning(Workspace.next_ticket_number - 1)
)


async def take_ticket_number(*, session: AsyncSession, workspace_id: int) -> int:
    """The workspace's next ticket number (T-<n>). It locks the workspace's row until commit, so
    numbers have no gaps and no repeats, and every other new ticket of the workspace waits:
    take it last, after every read (app/flows/open_ticket.py)."""
    number = await session.scalar(_TAKE_NUMBER, {"workspace_id": workspace_id})
    if number is None:
        raise NotFound(f"Workspace {workspace_id} does not exist.")
    return number


async def give_back_ticket_number(*, session: AsyncSession, workspace_id: int) -> None:
    """Undo `take_ticket_number` (same transaction, row still locked): nothing was opened."""
    await session.execute(
        update(Workspace)
        .where(Workspace.id == workspace_id)
        .values(next_ticket_number=Workspace.next_ticket_number - 1)
    )
