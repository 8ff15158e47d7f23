"""The SQLite writer thread: calls queued together share one COMMIT, each keeps its own rollback."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, event, text

from bot.storage.sqlite_writer import SqliteWriterThread


def _engine(path: Path) -> Any:
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY)"))
    return engine


def _rows(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {k for (k,) in connection.execute("SELECT k FROM t")}


def _insert(key: str) -> Any:
    def fn(connection: Connection) -> str:
        connection.execute(text("INSERT INTO t (k) VALUES (:k)"), {"k": key})
        return key

    return fn


class Boom(Exception):
    pass


def _insert_then_fail(key: str) -> Any:
    def fn(connection: Connection) -> None:
        connection.execute(text("INSERT INTO t (k) VALUES (:k)"), {"k": key})
        raise Boom(key)

    return fn


async def test_concurrent_calls_share_commits_and_fail_alone(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    engine = _engine(path)
    commits = 0

    @event.listens_for(engine, "commit")
    def _count(_connection: Any) -> None:
        nonlocal commits
        commits += 1

    writer = SqliteWriterThread(engine)
    try:
        calls = [
            writer.run(_insert_then_fail("bad") if i == 57 else _insert(f"k{i}"))
            for i in range(200)
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
    finally:
        await writer.close()

    assert isinstance(results[57], Boom)
    assert [r for i, r in enumerate(results) if i != 57] == [f"k{i}" for i in range(200) if i != 57]
    assert _rows(path) == {f"k{i}" for i in range(200) if i != 57}
    # 200 calls queued at once are committed in a few groups, not one transaction each.
    assert 1 <= commits < 20


async def test_a_failed_statement_rolls_back_only_its_call(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    writer = SqliteWriterThread(_engine(path))
    try:
        first = await writer.run(_insert("a"))
        duplicate, other = await asyncio.gather(
            writer.run(_insert("a")), writer.run(_insert("b")), return_exceptions=True
        )
    finally:
        await writer.close()
    assert first == "a"
    assert "UNIQUE constraint failed" in str(duplicate)
    assert other == "b"
    assert _rows(path) == {"a", "b"}


async def test_close_finishes_queued_calls_then_refuses_new_ones(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    writer = SqliteWriterThread(_engine(path))
    pending = [asyncio.ensure_future(writer.run(_insert(f"k{i}"))) for i in range(20)]
    await asyncio.sleep(0)  # the calls are queued
    await writer.close()
    assert [await call for call in pending] == [f"k{i}" for i in range(20)]
    with pytest.raises(RuntimeError, match="closed"):
        await writer.run(_insert("late"))
    assert len(_rows(path)) == 20


async def test_a_failing_first_call_of_a_group_leaves_the_rest_of_the_group_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.db"
    writer = SqliteWriterThread(_engine(path))
    release = threading.Event()

    def hold(connection: Connection) -> None:
        release.wait(10)  # keeps the writer busy while the next calls queue up behind it

    try:
        held = asyncio.ensure_future(writer.run(hold))
        await asyncio.sleep(0.05)
        queued = [
            asyncio.ensure_future(writer.run(fn))
            for fn in (_insert_then_fail("first"), _insert("second"), _insert("third"))
        ]
        await asyncio.sleep(0.05)
        release.set()
        await held
        results = await asyncio.gather(*queued, return_exceptions=True)
    finally:
        await writer.close()
    assert isinstance(results[0], Boom)
    assert results[1:] == ["second", "third"]
    assert _rows(path) == {"second", "third"}
