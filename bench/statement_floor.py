"""The least CPU a new ticket's statements can cost through SQLAlchemy's async engine.

A new ticket is 13 statements in one transaction (5 reads, the number, 7 inserts: see
tests/tickets/test_intake.py), committed before Slack gets its 200. This runs 13 of the
cheapest statement there is (a prebuilt single-row INSERT of two short strings, parameters
bound, nothing built or loaded) in one transaction and commits, as ticketbot's engine does it
(`app.db.create_engine`), and prints the CPU of this process per transaction. That is a floor
for intake's database work: its own statements are no cheaper, and intake does its logic, Bolt
and the outbox's Slack calls besides. Compare it with `ingest.py`'s baseline (a whole event:
Bolt, one ORM insert, the commit) to see the best CPU ratio the ticket's statements allow.

On SQLite the database itself runs in this process, so its CPU is counted too.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import create_engine

STATEMENTS_PER_TICKET = 13

_metadata = MetaData()
_rows = Table(
    "bench_statement_floor",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("a", String(32)),
    Column("b", String(32)),
)
_INSERT = insert(_rows).values(a=bindparam("a"), b=bindparam("b"))


async def cpu_per_transaction(database_url: str, transactions: int, rounds: int) -> list[float]:
    """CPU seconds of this process per transaction of STATEMENTS_PER_TICKET inserts, per round."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_metadata.drop_all)
            await connection.run_sync(_metadata.create_all)
        per_round = []
        for _ in range(rounds):
            started = time.process_time()
            for n in range(transactions):
                async with engine.begin() as connection:
                    for k in range(STATEMENTS_PER_TICKET):
                        await connection.execute(_INSERT, {"a": f"ticket {n}", "b": f"row {k}"})
            per_round.append((time.process_time() - started) / transactions)
        async with engine.begin() as connection:
            await connection.run_sync(_metadata.drop_all)
        return per_round
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--transactions", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ticketbot-bench-"))
    database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    rounds = await cpu_per_transaction(database_url, args.transactions, args.rounds)
    median = statistics.median(rounds)
    print(f"{database_url}: {STATEMENTS_PER_TICKET} prebuilt single-row inserts and a commit")
    print(
        f"CPU per transaction: median {median * 1e3:.2f} ms "
        f"({median / STATEMENTS_PER_TICKET * 1e3:.3f} ms per statement); "
        f"rounds: {', '.join(f'{r * 1e3:.2f}' for r in rounds)} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
