"""`/ticket account …` and `/ticket accounts`: customer accounts, their owners, their links to
channels and email domains, and their health."""

from __future__ import annotations

from app.accounts import service as accounts
from app.accounts.enums import LinkKind
from app.accounts.health import Reason
from app.accounts.models import Account
from app.accounts.queries import account_of_channel, account_summary, accounts_by_health
from app.accounts.scoring import at_risk_accounts, health_history
from app.slack.ticket_command.account_grammar import (
    AccountChurn,
    AccountList,
    AccountMap,
    AccountNew,
    AccountRef,
    AccountSet,
    AccountShow,
)
from app.slack.ticket_command.call import Call
from app.text_safety import escape

LIST_LIMIT = 25


async def account_named(call: Call, ref: AccountRef) -> Account:
    """The account a command names (by name or channel), or this channel's."""
    if ref.name is not None:
        return await accounts.find_account_named(
            session=call.session, workspace_id=call.workspace_id, name=ref.name
        )
    return await account_of_channel(
        session=call.session,
        workspace_id=call.workspace_id,
        channel_id=ref.channel_id or call.channel_id,
    )


async def show_account(call: Call, command: AccountShow) -> str:
    account = await account_named(call, command.ref)
    links = await accounts.links_of(session=call.session, account=account)
    summary = await account_summary(session=call.session, account=account, now=call.now)
    history = await health_history(session=call.session, account_id=account.id, days=1)
    latest = history[0] if history else None
    lines = [f"*{escape(account.name)}*" + _health_words(call, account, account.health_week_ago)]
    if account.churned_at is not None:
        lines[0] += f" · churned {account.churned_at:%Y-%m-%d}"
    facts = [
        f"Owner: <@{account.owner_user_id}>" if account.owner_user_id else "Owner: nobody yet",
        f"Tier: {account.tier.value}" if account.tier else None,
        f"Renewal: {account.renewal_on.isoformat()}" if account.renewal_on else None,
        f"Revenue: {account.annual_revenue:,}/year" if account.annual_revenue else None,
    ]
    lines.append(" · ".join(fact for fact in facts if fact))
    by_kind = {kind: [link.key for link in links if link.kind is kind] for kind in LinkKind}
    mapped = [
        *(f"<#{channel}>" for channel in by_kind[LinkKind.CHANNEL]),
        *(escape(domain) for domain in by_kind[LinkKind.DOMAIN]),
        *(f"Slack Connect {escape(team)}" for team in by_kind[LinkKind.SLACK_TEAM]),
    ]
    if mapped:
        lines.append("Mapped: " + ", ".join(mapped))
    csat = (
        f"CSAT {summary.csat_average:.1f}/5 ({summary.csat_ratings} rated)"
        if summary.csat_average is not None
        else "no CSAT ratings"
    )
    lines.append(
        f"Tickets: {summary.open_tickets} open · {summary.recent_tickets} in 90 days · {csat}"
    )
    if latest is not None:
        costs = [Reason(**reason) for reason in latest.reasons if reason.get("points")]
        if costs:
            costs.sort(key=lambda reason: reason.points)
            lines.append("Why: " + "; ".join(escape(str(reason)) for reason in costs))
    return "\n".join(lines)


def _health_words(call: Call, account: Account, week_ago: int | None) -> str:
    score = account.health_score
    if score is None:
        return " · health not scored yet"
    words = f" · health {score}/100"
    if week_ago is not None and week_ago != score:
        words += f" ({'+' if score > week_ago else '-'}{abs(score - week_ago)} in a week)"
    if account.churned_at is None and call.health.at_risk(score, week_ago):
        words += " · :red_circle: at risk"
    return words


async def new_account(call: Call, command: AccountNew) -> str:
    account = await accounts.create_account(
        session=call.session,
        workspace_id=call.workspace_id,
        name=command.name,
        now=call.now,
        created_by=call.user_id,
    )
    return (
        f"Created the account *{escape(account.name)}*. Map its channel or email domain to it:"
        f" `/ticket account map {escape(account.name)} #channel` or"
        f" `… domain acme.com`."
    )


async def set_account(call: Call, command: AccountSet) -> str:
    account = await account_named(call, command.ref)
    changed = await accounts.change_account(
        session=call.session,
        account=account,
        changes=accounts.AccountChanges(
            owner_user_id=command.owner_user_id,
            tier=command.tier,
            renewal_on=command.renewal_on,
            annual_revenue=command.annual_revenue,
        ),
        now=call.now,
    )
    if not changed:
        return f"*{escape(account.name)}* already has those settings."
    words = {
        "owner_user_id": "owner",
        "tier": "tier",
        "renewal_on": "renewal",
        "annual_revenue": "revenue",
    }
    return (
        f"Changed *{escape(account.name)}*: " + ", ".join(words[field] for field in changed) + "."
    )


async def map_account(call: Call, command: AccountMap) -> str:
    account = await account_named(call, command.ref)
    what = f"<#{command.key}>" if command.kind is LinkKind.CHANNEL else escape(command.key)
    if command.unmap:
        await accounts.unlink(
            session=call.session, account=account, kind=command.kind, key=command.key
        )
        return f"{what} no longer belongs to *{escape(account.name)}*."
    linked = await accounts.link(
        session=call.session, account=account, kind=command.kind, key=command.key, now=call.now
    )
    what = f"<#{linked.link.key}>" if command.kind is LinkKind.CHANNEL else escape(linked.link.key)
    moved = f" (it belonged to {escape(linked.moved_from)})" if linked.moved_from else ""
    follows = (
        " Its tickets from internal requesters now belong to it too."
        if command.kind is LinkKind.CHANNEL
        else " New requests from that domain will belong to it."
    )
    return f"{what} now belongs to *{escape(account.name)}*{moved}.{follows}"


async def churn_account(call: Call, command: AccountChurn) -> str:
    account = await account_named(call, command.ref)
    changed = await accounts.change_account(
        session=call.session,
        account=account,
        changes=accounts.AccountChanges(churned=command.churned),
        now=call.now,
    )
    name = escape(account.name)
    if not changed:
        return f"*{name}* is already {'churned' if command.churned else 'active'}."
    if command.churned:
        return f"Marked *{name}* as churned; it no longer gets a health score."
    return f"Marked *{name}* as active again."


async def list_account_health(call: Call, command: AccountList) -> str:
    if command.at_risk:
        risky = await at_risk_accounts(
            session=call.session,
            workspace_id=call.workspace_id,
            policy=call.health,
            limit=LIST_LIMIT + 1,
        )
        if not risky:
            return (
                f"No account is at risk (under {call.health.at_risk_below}, or down"
                f" {call.health.falling_points} points in a week)."
            )
        lines = ["*Accounts at risk*, least healthy first"]
        lines += [_list_line(account) for account in risky[:LIST_LIMIT]]
        if len(risky) > LIST_LIMIT:
            lines.append("… and more (`GET /api/accounts?at_risk=true`).")
        return "\n".join(lines)
    listed = await accounts_by_health(
        session=call.session, workspace_id=call.workspace_id, limit=LIST_LIMIT + 1
    )
    if not listed:
        return (
            "No accounts yet: one appears with a Slack Connect customer's first ticket, or"
            " with `/ticket account new Acme`."
        )
    lines = ["*Accounts*, least healthy first"]
    lines += [_list_line(account) for account in listed[:LIST_LIMIT]]
    if len(listed) > LIST_LIMIT:
        lines.append("… and more (`GET /api/accounts`).")
    return "\n".join(lines)


def _list_line(account: Account) -> str:
    week_ago = account.health_week_ago
    score = "not scored" if account.health_score is None else f"{account.health_score}/100"
    change = ""
    if (
        week_ago is not None
        and account.health_score is not None
        and week_ago != account.health_score
    ):
        delta = account.health_score - week_ago
        change = f" ({'+' if delta > 0 else '-'}{abs(delta)} in a week)"
    owner = f" · <@{account.owner_user_id}>" if account.owner_user_id else ""
    return f"• *{escape(account.name)}*: {score}{change}{owner}"
