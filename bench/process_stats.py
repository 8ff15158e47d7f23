"""Latency summaries and a sampler of another process's memory and CPU time, read from ``/proc``.

Reading ``/proc`` rather than asking the gateway (``/metrics``) keeps the measurement outside the
thing measured: the figures cost the gateway nothing and stay right even if its own accounting is
wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of ``values`` (``fraction`` in (0, 1]); None when empty.

    Nearest rank, not interpolation, so a p99 is always a latency some request really had.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Latencies:
    """p50 and p99 of a run, in milliseconds (None when nothing was measured)."""

    count: int
    p50_ms: float | None
    p99_ms: float | None

    @classmethod
    def of(cls, seconds: list[float]) -> Latencies:
        p50, p99 = percentile(seconds, 0.50), percentile(seconds, 0.99)
        return cls(
            count=len(seconds),
            p50_ms=None if p50 is None else p50 * 1000,
            p99_ms=None if p99 is None else p99 * 1000,
        )


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One reading of a process: resident memory now, its peak so far, and CPU time used."""

    rss_bytes: int
    peak_rss_bytes: int
    cpu_seconds: float


def read_process(pid: int) -> ProcessSample | None:
    """Read ``pid``'s VmRSS, VmHWM and user+system CPU time; None once the process is gone.

    Field positions in ``/proc/PID/stat`` are counted after the command name, which is the only
    field that may contain spaces (it is parenthesised, so the last ``)`` ends it).
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    memory = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            memory[key] = int(value.split()[0]) * 1024  # reported in kB
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)
    rss = memory.get("VmRSS", 0)
    return ProcessSample(rss, max(rss, memory.get("VmHWM", 0)), (utime + stime) / _CLOCK_TICKS)


class ProcessSampler:
    """Samples a process every ``interval`` seconds while running; keeps the peak RSS seen.

    VmHWM (the kernel's own high-water mark) is read too, so a spike between two samples is not
    missed; the samples add what VmHWM cannot: the RSS at the end, and CPU time for any window.
    """

    def __init__(self, pid: int, *, interval: float = 0.1) -> None:
        self.pid = pid
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.peak_rss_bytes = 0
        self.samples = 0
        self.last: ProcessSample | None = None

    def sample(self) -> ProcessSample | None:
        """Take one reading now (also used to mark the start and end of a measured window)."""
        reading = read_process(self.pid)
        if reading is not None:
            self.last = reading
            self.samples += 1
            self.peak_rss_bytes = max(self.peak_rss_bytes, reading.peak_rss_bytes)
        return reading

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sample-{self.pid}")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set() and self.sample() is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
