"""``carebot report`` on a busy month: 1,000,000 messages in 100,000 conversations.

Generates the data with bulk inserts (SQLite: the stdlib driver's executemany in one transaction;
PostgreSQL: COPY into a database created for the run and dropped after), then times the catch-up
that folds the whole history into ``report_turns`` (a gateway does it once in the background and
then keeps up every minute) and, on the database so kept up to date, the report for the last 30
days: the query alone (in process, best of ``--repeat``) and the whole command
(``python -m bot.cli report --since 30d --format json``, interpreter start included). Prints the
figures and the timings. Targets: under 2 s on SQLite, under 1 s on PostgreSQL.

    .venv/bin/python -m bench.report                       # SQLite in a temporary directory
    .venv/bin/python -m bench.report --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EXIT_USAGE = 2
MESSAGES_PER_CONVERSATION = 10


class BenchError(Exception):
    """One line, exit 2."""


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.report", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", help="PostgreSQL server URL (default: SQLite in a temp dir)"
    )
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="query timings, best kept")
    args = parser.parse_args(argv)
    if args.conversations < 1 or args.repeat < 1:
        parser.exit(EXIT_USAGE, "bench.report: error: --conversations and --repeat must be >= 1\n")
    return args


def generate(conversations: int, now: datetime) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """Rows per table: customers, conversations, messages, handoffs, feedback, agents.

    Each conversation: a two-message burst answered by the bot, three more turns (one in ten
    handed off: the handoff notice, then an agent answers), a feedback request notice; one in five
    rates; nine in ten are closed. Spread evenly over the last 30 days.
    """
    rng = random.Random(5)
    start = now - timedelta(days=30)
    span = timedelta(days=30).total_seconds() - 7200
    channels = ("telegram", "whatsapp", "web")
    customers, convs, messages, handoffs, feedback = [], [], [], [], []
    message_id = 0
    for cid in range(1, conversations + 1):
        channel = channels[cid % 3]
        opened = start + timedelta(seconds=span * cid / conversations)
        handed_off = cid % 10 == 0
        closed = opened + timedelta(hours=2) if cid % 10 != 1 else None
        customers.append((cid, channel, f"user{cid}", "en", opened, opened))
        convs.append(
            (
                cid,
                cid,
                channel,
                "closed" if closed else "bot",
                "en",
                0,
                opened,
                opened,
                closed,
                "inactivity" if closed else None,
            )
        )
        at = opened
        plan: list[tuple[str, str, str]] = [
            ("in", "customer", "text"),
            ("in", "customer", "text"),
            ("out", "bot", "reply"),
        ]
        for turn in range(3):
            plan.append(("in", "customer", "text"))
            if handed_off and turn == 1:
                plan.append(("out", "agent", "reply"))
            else:
                plan.append(("out", "bot", "reply"))
        plan.append(("out", "bot", "notice"))
        for direction, author, kind in plan[:MESSAGES_PER_CONVERSATION]:
            message_id += 1
            at += timedelta(seconds=rng.uniform(1, 240 if author == "agent" else 20))
            messages.append(
                (
                    message_id,
                    cid,
                    cid,
                    channel,
                    direction,
                    author,
                    kind,
                    "x",
                    at,
                    0,
                    1 if author == "agent" else None,
                )
            )
        if handed_off:
            requested = opened + timedelta(minutes=1)
            handoffs.append(
                (
                    cid // 10,
                    cid,
                    "customer_request",
                    requested,
                    1,
                    requested + timedelta(seconds=rng.uniform(30, 600)),
                    "en",
                )
            )
        if cid % 5 == 0:
            feedback.append(
                (
                    cid // 5,
                    cid,
                    channel,
                    "en",
                    rng.randint(1, 5),
                    "rating",
                    f"c:{cid}",
                    at,
                    at,
                    1 if handed_off else None,
                )
            )
    yield "agents", [(1, "bench", "Bench", "x", '["en"]', False, "available", start, start)]
    yield "customers", customers
    yield "conversations", convs
    yield "messages", messages
    yield "handoffs", handoffs
    yield "feedback", feedback


COLUMNS = {
    "agents": "id, username, display_name, password_hash, languages, is_admin, status, "
    "created_at, updated_at",
    "customers": "id, channel, platform_id, language, created_at, updated_at",
    "conversations": "id, customer_id, channel, state, language, fallback_streak, created_at, "
    "updated_at, closed_at, close_reason",
    "messages": "id, conversation_id, customer_id, channel, direction, author, kind, text, "
    "created_at, attempts, agent_id",
    "handoffs": "id, conversation_id, reason, requested_at, agent_id, first_agent_message_at, "
    "language",
    "feedback": "id, conversation_id, channel, language, rating, kind, target, created_at, "
    "updated_at, agent_id",
}


def _naive(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row)


def load_sqlite(path: Path, now: datetime, conversations: int) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("BEGIN")
    for table, rows in generate(conversations, now):
        columns = COLUMNS[table]
        marks = ", ".join("?" for _ in columns.split(","))
        converted = [
            tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in r)
            for r in rows
        ]
        connection.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", converted)
    connection.execute("COMMIT")
    connection.execute("ANALYZE")
    connection.close()


async def load_postgres(dsn: str, now: datetime, conversations: int) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        for table, rows in generate(conversations, now):
            columns = [c.strip() for c in COLUMNS[table].split(",")]
            if table == "agents":
                rows = [(*r[:4], json.loads(r[4]), *r[5:]) for r in rows]
                await connection.execute(
                    f"INSERT INTO agents ({COLUMNS[table]}) "
                    "VALUES ($1, $2, $3, $4, $5::json, $6, $7, $8, $9)",
                    *[json.dumps(v) if isinstance(v, list) else v for v in _naive(rows[0])],
                )
                continue
            await connection.copy_records_to_table(
                table, records=[_naive(r) for r in rows], columns=columns
            )
        for table in COLUMNS:
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


@contextmanager
def fresh_postgres(url: str) -> Iterator[str]:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"carebot_bench_{uuid.uuid4().hex[:10]}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(f"cannot create a database at {url}: {exc}") from None
    try:
        yield f"{url.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def time_catch_up(url: str) -> tuple[float, int]:
    """Seconds to fold the whole history into ``report_turns`` (what a gateway does once, in the
    background, after migration 0004), and the batches it took."""
    from bot.reports.turn_folding import refresh_turns
    from bot.storage.database import Database

    database = Database.connect(url)
    try:
        began = time.perf_counter()
        batches = await refresh_turns(database)
        return time.perf_counter() - began, batches
    finally:
        await database.dispose()


async def time_query(url: str, repeat: int) -> tuple[float, dict[str, Any]]:
    from bot.reports.periods import parse_period
    from bot.reports.report_reader import ReportReader
    from bot.reports.turns import ReportScope
    from bot.storage.database import Database

    database = Database.connect(url)
    try:
        best, figures = float("inf"), {}
        for _ in range(repeat):
            scope = ReportScope(period=parse_period("30d", None, datetime.now(UTC)))
            began = time.perf_counter()
            figures = await ReportReader(database).summary(scope)
            best = min(best, time.perf_counter() - began)
        return best, figures
    finally:
        await database.dispose()


def time_command(url: str) -> float:
    env = {**os.environ, "CAREBOT_DATABASE_URL": url}
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "report", "--since", "30d", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    elapsed = time.perf_counter() - began
    if result.returncode != 0:
        raise BenchError(f"carebot report failed: {result.stderr.strip()}")
    return elapsed


def run(args: argparse.Namespace) -> None:
    from bot.storage.database import upgrade_sync

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="carebot-bench-report-") as tmp:
        if args.database_url:
            target = fresh_postgres(args.database_url)
        else:
            target = _sqlite_target(Path(tmp) / "report.db")
        with target as url:
            upgrade_sync(url)
            began = time.perf_counter()
            if args.database_url:
                dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
                asyncio.run(load_postgres(dsn, now, args.conversations))
            else:
                load_sqlite(Path(tmp) / "report.db", now, args.conversations)
            loaded = time.perf_counter() - began
            catch_up, batches = asyncio.run(time_catch_up(url))
            query, figures = asyncio.run(time_query(url, args.repeat))
            command = time_command(url)
    backend = "postgresql" if args.database_url else "sqlite"
    messages = args.conversations * MESSAGES_PER_CONVERSATION
    print(json.dumps({k: v for k, v in figures.items() if k not in ("by_agent",)}, indent=1))
    print(f"backend            {backend}")
    print(f"data               {messages:,} messages in {args.conversations:,} conversations")
    print(f"bulk load          {loaded:.1f} s")
    print(f"turns catch-up     {catch_up:.1f} s (the whole history, {batches} batches)")
    print(f"report query       {query:.3f} s (best of {args.repeat}, 30 days, turns up to date)")
    print(f"carebot report     {command:.3f} s (whole command, interpreter start included)")


@contextmanager
def _sqlite_target(path: Path) -> Iterator[str]:
    yield f"sqlite+aiosqlite:///{path}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        run(args)
    except BenchError as exc:
        print(f"bench.report: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
