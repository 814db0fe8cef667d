"""Need-to-know access to TLP:RED cases: the CERT staff named on a case.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BIGPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "case_members",
        sa.Column("id", BIGPK, nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(length=300), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "user_id", name="uq_case_members_incident_user"),
    )
    # "Which cases is this person named on": the queue's read filter for TLP:RED.
    op.create_index("ix_case_members_user", "case_members", ["user_id", "incident_id"])


def downgrade():
    op.drop_index("ix_case_members_user", table_name="case_members")
    op.drop_table("case_members")
