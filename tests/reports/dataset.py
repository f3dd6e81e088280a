"""A small, hand-counted dataset for the metrics, and the numbers it must give.

Period: Monday 2026-01-05 00:00 to Wednesday 2026-01-07 00:00 UTC. Durations (seconds):

ticket  channel assignee account  opened        first response          resolved
T1      C1      UA       Acme     05 09:00      05 09:10 (600)          05 11:00 (7200)
T2      C1      UA       Acme     05 10:00      05 10:30:00.5 (1800.5)  06 10:00 (86400)
T3      C1      UB       -        05 12:00      05 12:05:00.25 (300.25) -
T4      C2      UB       Globex   06 08:00      06 09:00 (3600)         06 12:00 (14400)
T5      C2      -        Globex   06 09:00      -                       -
T6      C2      UA       -        06 13:00      06 13:01                - (not a request)
T7      C1      UA       Acme     03 08:00      05 08:00:00.1 (172800.1) 05 20:00 (216000)
T8      -       -        -        06 23:00      07 01:00 (after)        -
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.csat.enums import SurveyStatus
from app.csat.models import CsatSurvey
from app.sla.models import SlaLedgerEntry
from app.tickets.enums import Priority, TicketSource, TicketStatus
from app.tickets.models import Ticket

START = datetime(2026, 1, 5, tzinfo=UTC)
END = datetime(2026, 1, 7, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, second: float = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC) + timedelta(seconds=second)


TICKETS = [
    # number, channel, assignee, account, status, created, first response, resolved
    (1, "C1", "UA", "Acme", "resolved", at(5, 9), at(5, 9, 10), at(5, 11)),
    (2, "C1", "UA", "Acme", "resolved", at(5, 10), at(5, 10, 30, 0.5), at(6, 10)),
    (3, "C1", "UB", None, "open", at(5, 12), at(5, 12, 5, 0.25), None),
    (4, "C2", "UB", "Globex", "resolved", at(6, 8), at(6, 9), at(6, 12)),
    (5, "C2", None, "Globex", "new", at(6, 9), None, None),
    (6, "C2", "UA", None, "discarded", at(6, 13), at(6, 13, 1), None),
    (7, "C1", "UA", "Acme", "resolved", at(3, 8), at(5, 8, 0, 0.1), at(5, 20)),
    (8, None, None, None, "open", at(6, 23), at(7, 1), None),
]

LEDGER = [
    # ticket, target, kind, reason, at
    (1, "first_response", "met", "agent replied", at(5, 9, 10)),
    (2, "first_response", "breached", "", at(5, 10, 20)),
    (2, "first_response", "met_late", "agent replied", at(5, 10, 30)),
    (3, "first_response", "started", "ticket opened", at(5, 12)),
    (4, "resolution", "breached", "", at(6, 11)),
    (4, "resolution", "met_late", "resolved", at(6, 12)),
    (1, "resolution", "met", "resolved", at(5, 11)),
    (6, "first_response", "met", "not a request", at(6, 13, 5)),
    (7, "resolution", "met", "resolved", at(4, 10)),
]

SURVEYS = [
    # ticket, rating, sent
    (1, 5, at(5, 11, 10)),
    (7, 2, at(5, 20, 10)),
    (4, None, at(6, 12, 10)),
    (2, 4, at(6, 10, 10)),
    (2, None, None),  # still scheduled
    (7, 1, at(4, 9)),  # before the period
]


async def seed(session: AsyncSession, workspace_id: int) -> None:
    """Write the dataset (tickets, their SLA ledger, CSAT surveys) in the caller's transaction."""
    tickets = {}
    for number, channel, assignee, account, status, created, answered, resolved in TICKETS:
        ticket = Ticket(
            workspace_id=workspace_id,
            number=number,
            subject=f"Ticket {number}",
            status=TicketStatus(status),
            priority=Priority.NORMAL,
            source=TicketSource.API,
            requester_user_id="UCUSTOMER",
            channel_id=channel,
            assignee_user_id=assignee,
            account_name=account,
            created_at=created,
            updated_at=created,
            first_response_at=answered,
            resolved_at=resolved,
        )
        session.add(ticket)
        tickets[number] = ticket
    await session.flush()
    for number, target, kind, reason, moment in LEDGER:
        ticket = tickets[number]
        session.add(
            SlaLedgerEntry(
                ticket_id=ticket.id,
                target=target,
                kind=kind,
                due_at=moment,
                reason=reason,
                at=moment,
                workspace_id=workspace_id,
                channel_id=ticket.channel_id,
                assignee_user_id=ticket.assignee_user_id,
                account_name=ticket.account_name,
            )
        )
    for number, rating, sent in SURVEYS:
        ticket = tickets[number]
        resolved = ticket.resolved_at or at(5, 0)
        session.add(
            CsatSurvey(
                workspace_id=workspace_id,
                ticket_id=ticket.id,
                status=SurveyStatus.SENT if sent else SurveyStatus.SCHEDULED,
                requester_user_id="UCUSTOMER",
                channel_id=ticket.channel_id or "CNONE",
                thread_ts="1.0",
                assignee_user_id=ticket.assignee_user_id,
                account_name=ticket.account_name,
                resolved_at=resolved,
                send_at=sent or resolved,
                sent_at=sent,
                rating=rating,
                rated_at=sent if rating else None,
                created_at=resolved,
            )
        )
    await session.flush()


def group(
    key,
    opened,
    resolved,
    first_response,
    resolution,
    sla=(0, 0, 0, None),
    csat=(0, 0, None, None),
):
    """A group as the API shows it: durations (count, median, p90), sla (met, met late,
    breaches, attainment %), csat (sent, rated, score %, response rate %)."""
    return {
        "key": key,
        "opened": opened,
        "resolved": resolved,
        "first_response": dict(
            zip(("count", "median_seconds", "p90_seconds"), first_response, strict=True)
        ),
        "resolution": dict(
            zip(("count", "median_seconds", "p90_seconds"), resolution, strict=True)
        ),
        "sla": dict(zip(("met", "met_late", "breaches", "attainment_percent"), sla, strict=True)),
        "csat": dict(
            zip(("sent", "rated", "score_percent", "response_rate_percent"), csat, strict=True)
        ),
    }


NONE = (0, None, None)

# [300.25, 600, 1800.5, 3600, 172800.1]: median 1800.5; p90 at rank 3.6: 3600 + 0.6 * 169200.1.
# [7200, 14400, 86400, 216000]: median 14400 + 0.5 * 72000; p90 at 2.7: 86400 + 0.7 * 129600.
TOTALS = group(
    None,
    6,
    4,
    (5, 1800.5, 105120.06),
    (4, 50400.0, 177120.0),
    (2, 2, 2, 50.0),
    (4, 3, 66.67, 75.0),
)

BY_DAY = [
    # [300.25, 600, 1800.5, 172800.1]: median 1200.25; p90 at 2.7: 1800.5 + 0.7 * 170999.6.
    group(
        "2026-01-05",
        3,
        2,
        (4, 1200.25, 121500.22),
        (2, 111600.0, 195120.0),
        (2, 1, 1, 66.67),
        (2, 2, 50.0, 100.0),
    ),
    group(
        "2026-01-06",
        3,
        2,
        (1, 3600.0, 3600.0),
        (2, 50400.0, 79200.0),
        (0, 1, 1, 0.0),
        (2, 1, 100.0, 50.0),
    ),
]

BY_CHANNEL = [
    group(
        "C1",
        3,
        3,
        (4, 1200.25, 121500.22),
        (3, 86400.0, 190080.0),
        (2, 1, 1, 66.67),
        (3, 3, 66.67, 100.0),
    ),
    group(
        "C2", 2, 1, (1, 3600.0, 3600.0), (1, 14400.0, 14400.0), (0, 1, 1, 0.0), (1, 0, None, 0.0)
    ),
    group(None, 1, 0, NONE, NONE),
]

BY_AGENT = [
    # UA: T1, T2 opened; answered T1, T2, T7; resolved T1, T2, T7.
    group(
        "UA",
        2,
        3,
        (3, 1800.5, 138600.18),
        (3, 86400.0, 190080.0),
        (2, 1, 1, 66.67),
        (3, 3, 66.67, 100.0),
    ),
    # UB: T3, T4 opened and answered; T4 resolved.
    group(
        "UB",
        2,
        1,
        (2, 1950.125, 3270.025),
        (1, 14400.0, 14400.0),
        (0, 1, 1, 0.0),
        (1, 0, None, 0.0),
    ),
    group(None, 2, 0, NONE, NONE),
]

BY_ACCOUNT = [
    group(
        "Acme",
        2,
        3,
        (3, 1800.5, 138600.18),
        (3, 86400.0, 190080.0),
        (2, 1, 1, 66.67),
        (3, 3, 66.67, 100.0),
    ),
    group(
        "Globex",
        2,
        1,
        (1, 3600.0, 3600.0),
        (1, 14400.0, 14400.0),
        (0, 1, 1, 0.0),
        (1, 0, None, 0.0),
    ),
    group(None, 2, 0, (1, 300.25, 300.25), NONE),
]
