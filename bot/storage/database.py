"""Database engines, SQLite tuning and migrations.

SQLite is the default and must behave under concurrent async writers. Two rules make it so:
write transactions start with ``BEGIN IMMEDIATE`` (so a reader never has to upgrade to a writer and
deadlock with another process), and within one process they share a single connection (so they queue
in the pool instead of failing with "database is locked"). Reads use their own pool and, under WAL,
never wait for writers. On PostgreSQL both roles use one ordinary pool.

The hot write transactions are synchronous functions over a SQLAlchemy ``Connection`` run by
:meth:`Database.run_write`: on SQLite in one trip to a dedicated writer thread that owns a sync
engine on the stdlib driver (instead of a hop to aiosqlite's thread per statement) and commits the
calls queued together in one transaction (:mod:`bot.storage.sqlite_writer`), on PostgreSQL
through ``AsyncConnection.run_sync``. The async ``writer`` engine stays for the other, colder
writes; on SQLite it and the writer thread are two connections whose transactions SQLite serialises
(``BEGIN IMMEDIATE`` and ``busy_timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.storage.sqlite_checkpointer import SqliteCheckpointer
from bot.storage.sqlite_writer import SqliteWriterThread

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")

T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _tune_sqlite(engine: Engine, *, writer: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We emit BEGIN ourselves: pysqlite's implicit transactions would defeat BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
            # Writers never checkpoint inside their COMMIT: bot.storage.sqlite_checkpointer does.
            *(("PRAGMA wal_autocheckpoint=0",) if writer else ()),
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def _sqlite_engine(url: str, *, writer: bool) -> AsyncEngine:
    _sqlite_path(url)
    engine = create_async_engine(
        url,
        # One writer (writes queue in the pool, not in SQLite's busy loop); two readers are plenty
        # now that the hot path reads nothing, and each aiosqlite connection costs a thread.
        pool_size=1 if writer else 2,
        max_overflow=0,
        pool_timeout=60,
        connect_args={"timeout": 30},
    )
    _tune_sqlite(engine.sync_engine, writer=writer)
    return engine


def _sqlite_sync_writer(url: str) -> Engine:
    """A sync engine on the stdlib driver, used only from the writer thread (one connection)."""
    _sqlite_path(url)
    engine = create_engine(
        make_url(url).set(drivername="sqlite"),
        pool_size=1,
        max_overflow=0,
        pool_timeout=60,
        # Created and used by the writer thread only; disposed there too.
        connect_args={"timeout": 30, "check_same_thread": False},
    )
    _tune_sqlite(engine, writer=True)
    return engine


@dataclass
class Database:
    """The process's engines: ``writer`` for transactions that write, ``reader`` for the rest."""

    url: str
    writer: AsyncEngine
    reader: AsyncEngine
    #: On SQLite, the sync engine of the writer thread that runs :meth:`run_write`.
    sync_writer: Engine | None = None
    _writer_thread: SqliteWriterThread | None = field(default=None, init=False, repr=False)
    _checkpointer: SqliteCheckpointer | None = field(default=None, init=False, repr=False)

    @classmethod
    def connect(cls, url: str) -> Database:
        if is_sqlite(url):
            return cls(
                url,
                _sqlite_engine(url, writer=True),
                _sqlite_engine(url, writer=False),
                _sqlite_sync_writer(url),
            )
        # pool_recycle instead of pool_pre_ping: a SELECT 1 per checkout was 15% of a busy loop.
        engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800)
        return cls(url, engine, engine)

    def __post_init__(self) -> None:
        self._write_sessions = async_sessionmaker(self.writer, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.reader, expire_on_commit=False)
        if self.sync_writer is not None:
            self._writer_thread = SqliteWriterThread(self.sync_writer)
            path = make_url(self.url).database
            if path and path != ":memory:":
                self._checkpointer = SqliteCheckpointer(Path(path))

    async def run_write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one write transaction: committed if it returns, rolled back if it raises.

        ``fn`` is synchronous and must do nothing but database work on the connection it is given:
        on SQLite it runs in the writer thread, all of it in one trip from the event loop, inside
        a savepoint of a transaction it may share with other calls (its own changes are rolled
        back if it raises); on PostgreSQL it runs through SQLAlchemy's greenlet bridge on the
        async engine, in a transaction of its own.
        """
        if self._writer_thread is None:
            async with self.writer.begin() as connection:
                return await connection.run_sync(fn)
        return await self._writer_thread.run(fn)

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
        if self._writer_thread is not None:
            writer_thread, self._writer_thread = self._writer_thread, None
            await writer_thread.close()
        if self._checkpointer is not None:
            checkpointer, self._checkpointer = self._checkpointer, None
            checkpointer.stop()
            await asyncio.to_thread(checkpointer.join)
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
