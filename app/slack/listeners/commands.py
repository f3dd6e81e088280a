"""The `/ticket` slash command.

The text is read by the table of subcommands (app/slack/ticket_command/specs.py): the spec it
names makes the command, says who may run it and gives the handler that does. Here, in one
transaction, is the one check of who may run it, then the handler; the reply is one only its
user sees. Everything before the ack is fast database work, well inside Slack's 3 s. Domain
errors become replies in one place (`answer_command`). `help` and `new` answer at once.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from app.accounts.nps import NpsPolicy
from app.accounts.scoring import HealthPolicy
from app.slack.interaction import acting, slack_context
from app.slack.replies import Reply, ack_ephemeral, answer_command
from app.slack.ticket_command.call import Call, Slash
from app.slack.ticket_command.grammar import Command, UsageError
from app.slack.ticket_command.specs import Handler, Immediate, Permission, read


async def on_ticket_command(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    parsed = read(command.get("text") or "")
    if isinstance(parsed, UsageError):
        await ack_ephemeral(ack, parsed.message)
        return
    spec = parsed.spec
    if isinstance(spec.handler, Immediate):
        slash = Slash(ctx=slack_context(context), ack=ack, client=client, body=command)
        await spec.handler.answer(slash, parsed.command)
        return
    handler = spec.handler
    await answer_command(
        ack, lambda: run_command(context, command, spec.who, handler, parsed.command)
    )


def register(app: AsyncApp) -> None:
    app.command("/ticket")(on_ticket_command)


async def run_command(
    context: AsyncBoltContext,
    command: dict[str, Any],
    who: Permission,
    handler: Handler[Any],
    parsed: Command,
) -> str | Reply:
    """Check who may run it, then run it, in one transaction; returns the reply. Domain errors
    roll it back."""
    async with acting(context, command) as it:
        who.check(it.actor.role)
        call = Call(
            session=it.session,
            workspace_id=it.workspace_id,
            actor=it.actor,
            user_id=it.user_id,
            channel_id=command["channel_id"],
            channel_name=command.get("channel_name") or "",
            now=it.now,
            bot_user_id=context.bot_user_id or it.ctx.identity.bot_user_id,
            health=HealthPolicy.from_settings(it.ctx.settings),
            nps=NpsPolicy.from_settings(it.ctx.settings),
        )
        return await handler(call, parsed)
