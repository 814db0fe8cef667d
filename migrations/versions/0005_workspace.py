"""Schema for the CERT workspace: triage, notes, deadlines (issue 5).

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIGPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "case_notes",
        sa.Column("id", BIGPK, nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_label", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_notes_incident", "case_notes", ["incident_id", "created_at"])
    op.create_table(
        "case_links",
        sa.Column("id", BIGPK, nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("other_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["other_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "other_id", name="uq_case_links_pair"),
    )
    op.create_index("ix_case_links_other", "case_links", ["other_id"])
    op.create_table(
        "cooperation_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("countries", sa.Text(), nullable=False),
        sa.Column("partner_certs", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id"),
    )
    op.create_table(
        "deadline_reminders",
        sa.Column("id", BIGPK, nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "phase", name="uq_deadline_reminders_phase"),
    )
    op.create_table(
        "totp_uses",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "phase_deadlines",
        sa.Column("id", BIGPK, nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("regime", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "phase", name="uq_phase_deadlines_phase"),
    )
    op.create_index("ix_phase_deadlines_open_due", "phase_deadlines", ["is_open", "due_at"])
    # The triage queue sorts by severity then recency and filters on status: keep that indexed.
    op.create_index("ix_incidents_queue", "incidents", ["status", "created_at"])
    op.create_index("ix_incidents_severity_created", "incidents", ["severity", "created_at"])


def downgrade():
    op.drop_index("ix_incidents_severity_created", table_name="incidents")
    op.drop_index("ix_incidents_queue", table_name="incidents")
    op.drop_index("ix_phase_deadlines_open_due", table_name="phase_deadlines")
    op.drop_table("phase_deadlines")
    op.drop_table("totp_uses")
    op.drop_table("deadline_reminders")
    op.drop_table("cooperation_cases")
    op.drop_index("ix_case_links_other", table_name="case_links")
    op.drop_table("case_links")
    op.drop_index("ix_case_notes_incident", table_name="case_notes")
    op.drop_table("case_notes")
