"""The `/ticket account` and `/ticket accounts` grammar: words in, a command or a usage error
out. No I/O. An account is named by its name as typed (several words, any case), or by a
channel mapped to it (`#acme-support`); with neither, the channel the command was run in.

Slack sends the text escaped (`&amp;`); names are read back to what the person typed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.accounts.enums import LinkKind, NpsOptOutKind, Tier
from app.slack.ticket_command.grammar import (
    Args,
    Command,
    UsageError,
    _echo,
    parse_channel_mention,
    parse_user_mention,
)
from app.text_safety import readable

_TIERS = {tier.value: tier for tier in Tier}
_CLEAR = {"none", "-"}
_DOMAIN_WORD = "domain"


@dataclass(frozen=True)
class AccountRef:
    """Which account: by name, by a channel mapped to it, or (both None) this channel's."""

    name: str | None = None
    channel_id: str | None = None


@dataclass(frozen=True)
class AccountShow(Command):
    ref: AccountRef


@dataclass(frozen=True)
class AccountNew(Command):
    name: str


@dataclass(frozen=True)
class AccountSet(Command):
    ref: AccountRef
    owner_user_id: str | object | None = ...
    tier: Tier | object | None = ...
    renewal_on: date | object | None = ...
    annual_revenue: int | object | None = ...


@dataclass(frozen=True)
class AccountMap(Command):
    ref: AccountRef
    kind: LinkKind
    key: str
    unmap: bool = False


@dataclass(frozen=True)
class AccountChurn(Command):
    ref: AccountRef
    churned: bool


@dataclass(frozen=True)
class AccountList(Command):
    at_risk: bool = False


def _ref(words: tuple[str, ...]) -> AccountRef | UsageError:
    if not words:
        return AccountRef()
    if len(words) == 1:
        channel = parse_channel_mention(words[0])
        if channel is not None:
            return AccountRef(channel_id=channel)
    name = readable(" ".join(words)).strip()
    if not name:
        return AccountRef()
    if len(name) > 255:
        return UsageError("An account name holds at most 255 characters.")
    return AccountRef(name=name)


def parse_account_show(args: Args) -> AccountShow | UsageError:
    ref = _ref(args.words)
    return ref if isinstance(ref, UsageError) else AccountShow(ref)


def parse_account_new(args: Args) -> AccountNew | UsageError:
    name = readable(" ".join(args.words)).strip()
    if not name:
        return UsageError("Say the account's name: `/ticket account new Acme Corp`.")
    if len(name) > 255:
        return UsageError("An account name holds at most 255 characters.")
    return AccountNew(name)


def parse_account_set(args: Args) -> AccountSet | UsageError:
    """`account set [name…] owner=@ann tier=growth renewal=2027-03-31 revenue=120000`; each
    may be `none` to clear it."""
    words = _joined(args.words)
    settings = [w for w in words if "=" in w]
    name_words = tuple(w for w in words if "=" not in w)
    if not settings:
        return UsageError(
            "Say what to change, e.g. `/ticket account set Acme owner=@ann tier=growth"
            " renewal=2027-03-31 revenue=120000`."
        )
    ref = _ref(name_words)
    if isinstance(ref, UsageError):
        return ref
    changes: dict[str, object] = {}
    for word in settings:
        key, _, value = word.partition("=")
        key, cleared = key.lower(), value.lower() in _CLEAR
        if key == "owner":
            owner = None if cleared else parse_user_mention(value)
            if owner is None and not cleared:
                return UsageError(f"`{_echo(value)}` is not a person: pick them from the `@` list.")
            changes["owner_user_id"] = owner
        elif key == "tier":
            tier = None if cleared else _TIERS.get(value.lower())
            if tier is None and not cleared:
                return UsageError(f"`{_echo(value)}` is not a tier ({', '.join(_TIERS)}).")
            changes["tier"] = tier
        elif key == "renewal":
            try:
                changes["renewal_on"] = None if cleared else date.fromisoformat(value)
            except ValueError:
                return UsageError(f"`{_echo(value)}` is not a date like 2027-03-31.")
        elif key == "revenue":
            digits = value.replace(",", "").replace("_", "")
            if not cleared and not (digits.isascii() and digits.isdigit() and len(digits) < 10):
                return UsageError(f"`{_echo(value)}` is not an amount like 120000.")
            changes["annual_revenue"] = None if cleared else int(digits)
        else:
            return UsageError(
                f"`{_echo(word)}` is not an account setting: use owner=, tier=, renewal= or"
                " revenue=."
            )
    return AccountSet(ref, **changes)


def _joined(words: tuple[str, ...]) -> list[str]:
    """`owner=` and the `<@U123|ann>` after it are one setting (a mention is its own word)."""
    joined: list[str] = []
    for word in words:
        if joined and joined[-1].endswith("=") and word.startswith("<"):
            joined[-1] += word
        else:
            joined.append(word)
    return joined


def parse_account_map(args: Args) -> AccountMap | UsageError:
    return _map(args, unmap=False)


def parse_account_unmap(args: Args) -> AccountMap | UsageError:
    return _map(args, unmap=True)


def _map(args: Args, *, unmap: bool) -> AccountMap | UsageError:
    """`account map [name…] #channel` or `account map [name…] domain acme.com`."""
    verb = "unmap" if unmap else "map"
    words = args.words
    example = f"`/ticket account {verb} Acme #acme-support` or `… domain acme.com`"
    if not words:
        return UsageError(f"Say which channel or email domain, e.g. {example}.")
    channel = parse_channel_mention(words[-1])
    if channel is not None:
        kind, key, rest = LinkKind.CHANNEL, channel, words[:-1]
    elif len(words) >= 2 and words[-2].lower() == _DOMAIN_WORD:
        kind, key, rest = LinkKind.DOMAIN, readable(words[-1]), words[:-2]
    else:
        return UsageError(f"Name a channel (`#acme-support`) or `domain acme.com`, e.g. {example}.")
    ref = _ref(rest)
    if isinstance(ref, UsageError):
        return ref
    return AccountMap(ref, kind, key, unmap)


def parse_account_churn(args: Args) -> AccountChurn | UsageError:
    """`account churned [name]` or `account active [name]`."""
    ref = _ref(args.words)
    churned = args.said[-1].lower() == "churned"
    return ref if isinstance(ref, UsageError) else AccountChurn(ref, churned=churned)


def parse_accounts(args: Args) -> AccountList | UsageError:
    words = [w.lower() for w in args.words]
    if not words:
        return AccountList()
    if words in (["at-risk"], ["at", "risk"], ["risk"]):
        return AccountList(at_risk=True)
    return UsageError("Say `/ticket accounts` or `/ticket accounts at-risk`.")


@dataclass(frozen=True)
class NpsShow(Command):
    days: int = 90


NPS_PERIODS = {"30d": 30, "90d": 90, "180d": 180, "365d": 365}


@dataclass(frozen=True)
class NpsStart(Command):
    ref: AccountRef | None  # None: every account


@dataclass(frozen=True)
class NpsOptOut(Command):
    """`nps optout|optin @person|#channel|<account name>`."""

    kind: NpsOptOutKind
    key: str  # a user or channel id, or an account name
    opt_out: bool


def parse_nps(args: Args) -> NpsShow | UsageError:
    """`nps`, or `nps 30d|90d|180d|365d` for another period."""
    if not args.words:
        return NpsShow()
    if len(args.words) == 1 and args.words[0].lower() in NPS_PERIODS:
        return NpsShow(NPS_PERIODS[args.words[0].lower()])
    return UsageError(
        "Say `/ticket nps [30d|90d|180d|365d]`, `/ticket nps start [account]` or"
        " `/ticket nps optout|optin @someone|#channel|account`."
    )


def parse_nps_start(args: Args) -> NpsStart | UsageError:
    if not args.words:
        return NpsStart(None)
    ref = _ref(args.words)
    return ref if isinstance(ref, UsageError) else NpsStart(ref)


def parse_nps_opt_out(args: Args) -> NpsOptOut | UsageError:
    opt_out = args.said[-1].lower() == "optout"
    if not args.words:
        return UsageError("Say who or where: `@someone`, `#channel` or an account's name.")
    if len(args.words) == 1:
        person = parse_user_mention(args.words[0])
        if person is not None:
            return NpsOptOut(NpsOptOutKind.PERSON, person, opt_out)
        channel = parse_channel_mention(args.words[0])
        if channel is not None:
            return NpsOptOut(NpsOptOutKind.CHANNEL, channel, opt_out)
    name = readable(" ".join(args.words)).strip()
    return NpsOptOut(NpsOptOutKind.ACCOUNT, name, opt_out)
