"""``carebot report``: the support figures of a period as a table, JSON or CSV.

The figures are computed by the database (:mod:`bot.reports`); this module parses the period and
filters, applies migrations so a fresh database answers with zeros instead of an error, and prints.
JSON is one object with the CONTRACT.md section 2 keys; CSV is one ``figure,value`` row per scalar
figure (nested ones flattened as ``response_time_s.bot.p50``), which spreadsheets read as is.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.messages import Channel
from bot.reports.periods import PeriodError, parse_period
from bot.reports.report_reader import ReportReader
from bot.reports.turns import ReportScope
from bot.settings import Behaviour, Settings
from bot.storage.database import Database, upgrade

CHANNELS = (Channel.TELEGRAM.value, Channel.WHATSAPP.value, Channel.WEB.value)
FORMATS = ("table", "json", "csv")


class ReportCommandError(Exception):
    """A bad WHEN, filter or configuration: one line, exit 2."""


def build_scope(
    behaviour: Behaviour,
    *,
    since: str | None,
    until: str | None,
    channel: str | None = None,
    language: str | None = None,
    agent_id: int | None = None,
    faq_key: str | None = None,
    business_hours: bool = False,
    now: datetime | None = None,
) -> ReportScope:
    """The scope of a report; shared by the command line and the API, which validate alike.

    Raises:
        ReportCommandError: naming the bad value.
    """
    moment = now or datetime.now(UTC)
    try:
        period = parse_period(since, until, moment)
    except PeriodError as exc:
        raise ReportCommandError(str(exc)) from None
    if channel is not None and channel not in CHANNELS:
        raise ReportCommandError(f"channel {channel!r}: use one of {', '.join(CHANNELS)}")
    if language is not None and language not in behaviour.languages:
        raise ReportCommandError(
            f"language {language!r}: use one of {', '.join(behaviour.languages)}"
        )
    schedule = None
    if business_hours:
        if behaviour.business_hours is None:
            raise ReportCommandError("--business-hours: no business_hours in the configuration")
        schedule = behaviour.business_hours.schedule()
    return ReportScope(
        period=period,
        response_window=behaviour.metrics.response_window,
        as_of=moment,
        channel=channel,
        language=language,
        agent_id=agent_id,
        faq_key=faq_key,
        business_hours=schedule,
    )


def run_report_command(
    args: argparse.Namespace,
    settings: Settings,
    behaviour: Behaviour,
    *,
    stdout: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """Run ``carebot report``; raises :class:`ReportCommandError` for user mistakes."""
    scope = build_scope(
        behaviour,
        since=args.since,
        until=args.until,
        channel=args.channel,
        language=args.language,
        agent_id=args.agent,
        faq_key=args.faq,
        business_hours=args.business_hours,
        now=now,
    )
    figures = asyncio.run(_summary(settings.database_url, scope))
    out = stdout or sys.stdout
    if args.format == "json":
        json.dump(figures, out, ensure_ascii=False)
        out.write("\n")
    elif args.format == "csv":
        write_csv(figures, out)
    else:
        from bot.report_table import print_table

        print_table(figures, out)
    return 0


async def _summary(database_url: str, scope: ReportScope) -> dict[str, Any]:
    await upgrade(database_url)
    database = Database.connect(database_url)
    try:
        return await ReportReader(database).summary(scope)
    finally:
        await database.dispose()


def flatten(figures: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``("response_time_s.bot.p50", 1.5)`` pairs of every scalar figure; lists are skipped."""
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from flatten(value, f"{name}.")
        elif not isinstance(value, list):
            yield name, value


def write_csv(figures: dict[str, Any], out: TextIO) -> None:
    """``figure,value`` rows; an empty value for no data, per-channel rows as ``channel.web.…``."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("figure", "value"))
    rows = list(flatten(figures))
    for row in figures.get("by_channel", []):
        rows += flatten(row, f"channel.{row['channel']}.")
    for row in figures.get("by_agent", []):
        rows += flatten(row, f"agent.{row['agent_id']}.")
    for name, value in rows:
        writer.writerow((name, "" if value is None else value))
