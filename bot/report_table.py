"""The terminal table of ``carebot report``, drawn with rich.

Kept apart from the command so the JSON and CSV paths never import rich.
"""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console
from rich.table import Table


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def print_table(figures: dict[str, Any], out: TextIO) -> None:
    console = Console(file=out, width=100, highlight=False, soft_wrap=False)
    period = figures["period"]
    filters = ", ".join(f"{k}={v}" for k, v in figures["filters"].items() if v not in (None, False))
    title = f"carebot report {period['since']} - {period['until']}"
    if filters:
        title += f" ({filters})"
    main = Table(title=title, title_justify="left")
    main.add_column("figure")
    main.add_column("value", justify="right")
    main.add_row("turns", str(figures["turns"]))
    main.add_row("answered turns", str(figures["answered_turns"]))
    main.add_row("response rate", _share(figures["response_rate"]))
    main.add_row("handoffs", str(figures["handoffs"]))
    main.add_row("conversations closed", str(figures["conversations_closed"]))
    main.add_row("containment rate", _share(figures["containment_rate"]))
    main.add_row("CSAT", f"{_share(figures['csat'])} of {figures['ratings']} ratings")
    main.add_row("feedback", str(figures["feedback_count"]))
    console.print(main)

    times = Table(title="times", title_justify="left")
    for name in ("", "mean", "p50", "p90"):
        times.add_column(name, justify="left" if not name else "right")
    for label, key in (
        ("response", "response_time_s"),
        ("first response", "first_response_time_s"),
    ):
        for who in ("bot", "agent", "all"):
            row = figures[key][who]
            times.add_row(f"{label} ({who})", *(_seconds(row[p]) for p in ("mean", "p50", "p90")))
    wait = figures["handoff_wait_s"]
    times.add_row("handoff wait", *(_seconds(wait[p]) for p in ("mean", "p50", "p90")))
    console.print(times)

    if figures["by_channel"]:
        channels = Table(title="by channel", title_justify="left")
        for name in ("channel", "turns", "answered", "rate", "p50", "p90", "handoffs", "CSAT"):
            channels.add_column(name, justify="left" if name == "channel" else "right")
        for row in figures["by_channel"]:
            channels.add_row(
                row["channel"],
                str(row["turns"]),
                str(row["answered_turns"]),
                _share(row["response_rate"]),
                _seconds(row["response_time_s"]["p50"]),
                _seconds(row["response_time_s"]["p90"]),
                str(row["handoffs"]),
                _share(row["csat"]),
            )
        console.print(channels)
    if figures["by_agent"]:
        agents = Table(title="by agent", title_justify="left")
        for name in ("agent", "answered", "p50", "handoffs", "wait p50", "CSAT"):
            agents.add_column(name, justify="left" if name == "agent" else "right")
        for row in figures["by_agent"]:
            agents.add_row(
                row["username"] or str(row["agent_id"]),
                str(row["answered_turns"]),
                _seconds(row["response_time_s"]["p50"]),
                str(row["handoffs"]),
                _seconds(row["handoff_wait_s"]["p50"]),
                _share(row["csat"]),
            )
        console.print(agents)
