"""WAL checkpoints for SQLite, in a thread of their own instead of inside a writer's COMMIT.

By default SQLite checkpoints automatically: the COMMIT that takes the write-ahead log past 1,000
pages also copies the log back into the database file and fsyncs it. On the gateway that COMMIT
belongs to the writer thread, so every few seconds one group of webhooks waited up to a quarter of a
second on a disk flush (seen in bench/webhooks.py's ack p99). The writer connections
therefore switch automatic checkpoints off (``wal_autocheckpoint=0``, see
:mod:`bot.storage.database`) and this thread runs ``PRAGMA wal_checkpoint(PASSIVE)`` every
:data:`INTERVAL_S` on a connection of its own: PASSIVE never waits for readers or writers, so the
flush happens beside the writes, not in front of them. The log is still reset by the next writer
once a checkpoint has caught up, so it stays small.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL_S = 0.5


class SqliteCheckpointer:
    """Checkpoints the WAL of the database at ``path`` every :data:`INTERVAL_S` until stopped."""

    def __init__(self, path: Path, *, interval: float = INTERVAL_S) -> None:
        self._path = path
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end (it runs one last checkpoint); call :meth:`join` to wait."""
        self._stop.set()

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            log.error("SQLite checkpoints disabled, cannot open %s: %s", self._path, exc)
            return
        with contextlib.closing(connection):
            connection.execute("PRAGMA busy_timeout=30000")
            while True:
                stopping = self._stop.wait(self._interval)
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # e.g. the file was removed under us (tests)
                    log.warning("SQLite checkpoint failed: %s", exc)
                if stopping:
                    return
