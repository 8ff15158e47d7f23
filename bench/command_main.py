"""The ``main()`` every benchmark shares: run, print a table or JSON, stop cleanly on Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any


def run_command(
    name: str,
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace], Awaitable[Any]],
    render_table: Callable[[Any], str],
) -> int:
    """Run ``run(args)``; print its report (a dataclass) as a table, or as JSON with ``--json``.

    A :class:`BenchError` is one line and its exit code; an interruption ends everything the run
    started (its clean-up runs on SIGTERM as on Ctrl-C) and exits 130.
    """
    from bench.nlu_path import EXIT_INTERRUPTED, BenchError  # where the benchmarks' errors live

    try:
        report = asyncio.run(_cancellable(run, args))
    except BenchError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return exc.code
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"{name}: interrupted; everything it started is stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(json.dumps(asdict(report)) if args.json else render_table(report))
    return 0


async def _cancellable(
    run: Callable[[argparse.Namespace], Awaitable[Any]], args: argparse.Namespace
) -> Any:
    """The run, cancelled by SIGTERM as by Ctrl-C, so that either way its clean-up runs."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await run(args)
    finally:
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(signal.SIGTERM)
