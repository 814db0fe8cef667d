"""Schema for the early warnings, correlation, feeds (issue 4).

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "warnings",
        sa.Column("id", BIG_PK, nullable=False),
        sa.Column("audience", sa.String(length=32), nullable=False),
        sa.Column("owner_org_id", sa.Integer(), sa.ForeignKey("organizations.id"), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sco_id", sa.String(length=128), nullable=False),
        sa.Column("observable_type", sa.String(length=32), nullable=False),
        sa.Column("observable_value", sa.String(length=2048), nullable=False),
        sa.Column("observable_display", sa.String(length=2048), nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("indicator_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("recommended_action", sa.Text(), nullable=False),
        sa.Column("classification", sa.String(length=80), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("confidence", sa.Integer(), nullable=False),
        sa.Column("reporter_count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_until", sa.DateTime(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("modified", sa.DateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("publish_due", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("published_targets", sa.Text(), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sco_id", "audience", name="uq_warnings_sco_audience"),
        sa.UniqueConstraint("report_id"),
    )
    op.create_index("ix_warnings_publish_due", "warnings", ["publish_due", "id"])
    op.create_index("ix_warnings_state", "warnings", ["state", "valid_until"])

    op.create_table(
        "warning_sources",
        sa.Column("id", BIG_PK, nullable=False),
        sa.Column("warning_id", BIG_PK, sa.ForeignKey("warnings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("incident_id", BIG_PK, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("warning_id", "incident_id", name="uq_warning_sources"),
    )
    op.create_index("ix_warning_sources_incident", "warning_sources", ["incident_id"])

    op.create_table(
        "feed_states",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("cursor", sa.String(length=64), nullable=True),
        sa.Column("seen", sa.Text(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("objects_total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade():
    op.drop_table("feed_states")
    op.drop_index("ix_warning_sources_incident", table_name="warning_sources")
    op.drop_table("warning_sources")
    op.drop_index("ix_warnings_state", table_name="warnings")
    op.drop_index("ix_warnings_publish_due", table_name="warnings")
    op.drop_table("warnings")
