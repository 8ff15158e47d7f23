"""feedback kinds and targets, when a conversation was asked "was this helpful?", review queue

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:12:31.104215
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="rating", nullable=False)
        )
        batch_op.add_column(
            sa.Column("target", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("handoff_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
    # Rows written before 0003 rate their conversation as a whole: one target per row keeps them
    # apart under the new unique key.
    op.execute(
        "UPDATE feedback SET updated_at = created_at, target = 'legacy:' || CAST(id AS VARCHAR(20))"
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.alter_column("updated_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.create_unique_constraint(
            "uq_feedback_conversation_kind_target", ["conversation_id", "kind", "target"]
        )
        batch_op.create_index("ix_feedback_agent_id", ["agent_id"], unique=False)

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("helpful_asked_at", sa.DateTime(), nullable=True))

    op.create_table(
        "review_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("intent", sa.String(length=128), nullable=True),
        sa.Column("intent_confidence", sa.Float(), nullable=True),
        sa.Column("faq_key", sa.String(length=128), nullable=True),
        sa.Column("faq_confidence", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("target_faq", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("marked_by", sa.BigInteger(), nullable=True),
        sa.Column("marked_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_review_items_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_review_items_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("message_id", name="uq_review_items_message_id"),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index("ix_review_items_status_id", ["status", "id"], unique=False)
        batch_op.create_index("ix_review_items_conversation_id", ["conversation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index("ix_review_items_conversation_id")
        batch_op.drop_index("ix_review_items_status_id")

    op.drop_table("review_items")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("helpful_asked_at")

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_agent_id")
        batch_op.drop_constraint("uq_feedback_conversation_kind_target", type_="unique")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("handoff_id")
        batch_op.drop_column("target")
        batch_op.drop_column("kind")
