"""Drills: exercises, their participants and injects, acknowledgements and exercise reports;
outbox rows name the exercise they belong to, so deleting an exercise deletes its mail.

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.add_column("outbox", sa.Column("exercise_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_outbox_exercise_id", "outbox", ["exercise_id"])

    op.create_table(
        "exercises",
        sa.Column("id", _BIGINT_PK, primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("collection_id", sa.String(36), sa.ForeignKey("collections.id"), nullable=True),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("frozen_results", sa.Text(), nullable=True),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "exercise_participants",
        sa.Column("exercise_id", _BIGINT_PK, sa.ForeignKey("exercises.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organizations.id"), primary_key=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_exercise_participants_org", "exercise_participants", ["org_id", "exercise_id"])
    op.create_table(
        "exercise_injects",
        sa.Column("id", _BIGINT_PK, primary_key=True),
        sa.Column("exercise_id", _BIGINT_PK, sa.ForeignKey("exercises.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("observables", sa.Text(), nullable=False),
        sa.Column("tlp", sa.String(16), nullable=False),
        sa.Column("expect", sa.String(16), nullable=False),
        sa.Column("partner_name", sa.String(200), nullable=True),
        sa.Column("confirmed_real_values", sa.Boolean(), nullable=False),
        sa.Column("stix_id", sa.String(64), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("exercise_id", "number", name="uq_exercise_injects_number"),
    )
    op.create_index("ix_exercise_injects_due", "exercise_injects", ["sent_at", "due_at"])
    op.create_table(
        "exercise_acknowledgements",
        sa.Column("inject_id", _BIGINT_PK, sa.ForeignKey("exercise_injects.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organizations.id"), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "exercise_reports",
        sa.Column("id", _BIGINT_PK, primary_key=True),
        sa.Column("exercise_id", _BIGINT_PK, sa.ForeignKey("exercises.id", ondelete="CASCADE"), nullable=False),
        sa.Column("inject_id", _BIGINT_PK, sa.ForeignKey("exercise_injects.id", ondelete="CASCADE"), nullable=True),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("classification", sa.String(80), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("tlp", sa.String(16), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_exercise_reports_exercise_org", "exercise_reports", ["exercise_id", "org_id", "created_at"])


def downgrade():
    op.drop_index("ix_exercise_reports_exercise_org", table_name="exercise_reports")
    op.drop_table("exercise_reports")
    op.drop_table("exercise_acknowledgements")
    op.drop_index("ix_exercise_injects_due", table_name="exercise_injects")
    op.drop_table("exercise_injects")
    op.drop_index("ix_exercise_participants_org", table_name="exercise_participants")
    op.drop_table("exercise_participants")
    op.drop_table("exercises")
    op.drop_index("ix_outbox_exercise_id", table_name="outbox")
    op.drop_column("outbox", "exercise_id")
