"""report_turns: customer turns folded in from messages for the reports, and their watermark

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Empty on purpose: the first refresh (the gateway's, or carebot report's) folds in the
    # history in small batches instead of holding the migration for minutes on a big database.
    op.create_table(
        "report_turns",
        sa.Column("first_message_id", _ID, autoincrement=False, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_message_id", sa.BigInteger(), nullable=False),
        sa.Column("is_first", sa.Boolean(), nullable=False),
        sa.Column("reply_message_id", sa.BigInteger(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answered_by", sa.String(length=16), nullable=True),
        sa.Column("agent_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_report_turns_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("first_message_id", name=op.f("pk_report_turns")),
    )
    with op.batch_alter_table("report_turns", schema=None) as batch_op:
        batch_op.create_index("ix_report_turns_started_at", ["started_at"], unique=False)
        batch_op.create_index("ix_report_turns_conversation_id", ["conversation_id"], unique=False)
    op.create_table(
        "report_turns_watermark",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_turns_watermark")),
    )


def downgrade() -> None:
    op.drop_table("report_turns_watermark")
    with op.batch_alter_table("report_turns", schema=None) as batch_op:
        batch_op.drop_index("ix_report_turns_conversation_id")
        batch_op.drop_index("ix_report_turns_started_at")
    op.drop_table("report_turns")
