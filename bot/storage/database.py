"""Database engines, SQLite tuning and migrations.

SQLite is the default and must behave under concurrent async writers. Two rules make it so:
write transactions start with ``BEGIN IMMEDIATE`` (so a reader never has to upgrade to a writer and
deadlock with another process), and within one process they share a single connection (so they queue
in the pool instead of failing with "database is locked"). Reads use their own pool and, under WAL,
never wait for writers. On PostgreSQL both roles use one ordinary pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_engine(url: str, *, writer: bool) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        # One writer (writes queue in the pool, not in SQLite's busy loop); two readers are plenty
        # now that the hot path reads nothing, and each aiosqlite connection costs a thread.
        pool_size=1 if writer else 2,
        max_overflow=0,
        pool_timeout=60,
        connect_args={"timeout": 30},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We emit BEGIN ourselves: pysqlite's implicit transactions would defeat BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


@dataclass
class Database:
    """The process's engines: ``writer`` for transactions that write, ``reader`` for the rest."""

    url: str
    writer: AsyncEngine
    reader: AsyncEngine

    @classmethod
    def connect(cls, url: str) -> Database:
        if is_sqlite(url):
            return cls(url, _sqlite_engine(url, writer=True), _sqlite_engine(url, writer=False))
        # pool_recycle instead of pool_pre_ping: a SELECT 1 per checkout was 15% of a busy loop.
        engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800)
        return cls(url, engine, engine)

    def __post_init__(self) -> None:
        self._write_sessions = async_sessionmaker(self.writer, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.reader, expire_on_commit=False)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session inside one write transaction, committed on success, rolled back on error."""
        async with self._write_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading; it never writes."""
        async with self._read_sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.reader.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade_sync(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; call from a thread inside an event loop).

    On SQLite it also switches the file to WAL once, here, so that the pools' first connections
    do not race each other to change the journal mode.
    """
    database = make_url(url).database if is_sqlite(url) else None
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations without blocking the event loop."""
    await asyncio.to_thread(upgrade_sync, url, revision)
