"""report_turns.response_seconds: each answered turn's response time, stored when it is folded

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# answered_at - started_at in seconds, as the reports computed it per row before this column.
_BACKFILL = {
    "sqlite": "(julianday(answered_at) - julianday(started_at)) * 86400.0",
    "postgresql": "CAST(EXTRACT(EPOCH FROM (answered_at - started_at)) AS DOUBLE PRECISION)",
}


def upgrade() -> None:
    with op.batch_alter_table("report_turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_seconds", sa.Float(), nullable=True))
    seconds = _BACKFILL[op.get_bind().dialect.name]
    op.execute(
        f"UPDATE report_turns SET response_seconds = {seconds} WHERE answered_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("report_turns", schema=None) as batch_op:
        batch_op.drop_column("response_seconds")
