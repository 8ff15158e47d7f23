"""Delivery receipts and reachability: what platforms tell us after they accepted a message.

A long reply may go out as several platform messages (WhatsApp's 1,600-character limit), each with
its
own id and its own status callbacks; ``message_receipts`` maps every part's platform id to the
stored
message, so a callback is found by an indexed lookup. A message's status is the least advanced of
its
parts (it is *read* when every part is read) and a failed part fails the message. Callbacks may
arrive
out of order; a status never moves backwards.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from bot.messages import Channel, DeliveryStatus
from bot.storage.conversation_store import utcnow
from bot.storage.database import Database
from bot.storage.models import Customer, Message, MessageReceipt

log = logging.getLogger(__name__)

# How far along each status is; failures are final and rank above everything.
_PROGRESS = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
    DeliveryStatus.UNDELIVERED: 9,
    DeliveryStatus.FAILED: 9,
}
_TIMESTAMP_COLUMN = {DeliveryStatus.DELIVERED: "delivered_at", DeliveryStatus.READ: "read_at"}


def combined_status(parts: list[DeliveryStatus]) -> DeliveryStatus:
    """The status of a message made of ``parts``: any failure, else the least advanced part."""
    failures = [p for p in parts if _PROGRESS[p] == 9]
    if failures:
        return DeliveryStatus.FAILED if DeliveryStatus.FAILED in failures else failures[0]
    return min(parts, key=lambda p: _PROGRESS[p])


class SqlDeliveryReceipts:
    """Implements :class:`bot.interfaces.DeliveryReceiptSink` and
    :class:`~bot.interfaces.ReachabilitySink`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record_delivery(
        self,
        channel: Channel,
        platform_message_id: str,
        status: DeliveryStatus,
        *,
        error_code: str | None = None,
        error_detail: str | None = None,
    ) -> bool:
        now = utcnow()
        async with self._db.write() as session:
            receipt = await session.scalar(
                select(MessageReceipt).where(
                    MessageReceipt.channel == channel.value,
                    MessageReceipt.platform_message_id == platform_message_id,
                )
            )
            if receipt is None:
                log.info(
                    "status %s for unknown %s message %s", status, channel, platform_message_id
                )
                return False
            current = DeliveryStatus(receipt.status)
            if _PROGRESS[status] <= _PROGRESS[current] and status != current:
                return True  # a late callback (e.g. "sent" after "delivered"): keep what we know
            receipt.status = status.value
            receipt.error_code = error_code or receipt.error_code
            receipt.updated_at = now
            await session.flush()
            parts = [
                DeliveryStatus(s)
                for s in await session.scalars(
                    select(MessageReceipt.status).where(
                        MessageReceipt.message_id == receipt.message_id
                    )
                )
            ]
            message_status = combined_status(parts)
            values: dict[str, object] = {"status": message_status.value}
            column = _TIMESTAMP_COLUMN.get(message_status)
            if column:
                values[column] = now
            if error_code:
                values["error_code"] = error_code
                values["error_detail"] = (error_detail or "")[:2000] or None
            await session.execute(
                update(Message).where(Message.id == receipt.message_id).values(**values)
            )
        return True

    async def set_reachable(self, channel: Channel, platform_id: str, reachable: bool) -> None:
        now = utcnow()
        unreachable_at: datetime | None = None if reachable else now
        async with self._db.write() as session:
            await session.execute(
                update(Customer)
                .where(Customer.channel == channel.value, Customer.platform_id == platform_id)
                .values(unreachable_at=unreachable_at, updated_at=now)
            )
        log.info("%s customer %s is %sreachable", channel, platform_id, "" if reachable else "un")
