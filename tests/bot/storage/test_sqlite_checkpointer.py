"""WAL checkpoints run beside the writer: the log is copied into the database file without a COMMIT
of the writer ever doing it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import Connection, text

from bot.storage.database import Database


def _file_size_after(path: Path, floor: int, seconds: float) -> int:
    """The file's size once it is above ``floor``, or after ``seconds`` (called in a thread)."""
    deadline = time.monotonic() + seconds
    while (size := path.stat().st_size) <= floor and time.monotonic() < deadline:
        time.sleep(0.05)
    return size


async def test_the_checkpointer_moves_the_log_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    database = Database.connect(f"sqlite+aiosqlite:///{path}")
    try:

        def create(connection: Connection) -> int:
            connection.execute(text("CREATE TABLE blob (v TEXT)"))
            return int(connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())

        assert await database.run_write(create) == 0  # the writer never checkpoints itself
        empty = (await asyncio.to_thread(path.stat)).st_size

        def fill(connection: Connection) -> None:
            connection.execute(text("INSERT INTO blob (v) VALUES (:v)"), [{"v": "x" * 4000}] * 500)

        await database.run_write(fill)
        # About 2 MB went into the log; the checkpointer copies it into the file within a second.
        grown = await asyncio.to_thread(_file_size_after, path, empty + 1_000_000, 5.0)
        assert grown > empty + 1_000_000
    finally:
        await database.dispose()
