"""Schema for the TAXII 2.1 server (issue 3): publication clock, POST status, consumption log.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # Same columns as the unique constraint uq_stix_objects_version, whose index serves the same
    # lookups (match[id], versions, "last version" probes): one b-tree less to write per object.
    op.drop_index("ix_stix_objects_id", table_name="stix_objects")
    clock = op.create_table(
        "stix_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_date_added", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(clock, [{"id": 1, "last_date_added": None}])
    op.create_table(
        "taxii_status",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_timestamp", sa.DateTime(), nullable=False),
        sa.Column("total_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("pending_count", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Text(), nullable=False),
        sa.Column("failures", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["collections.id"]),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "taxii_polls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("polled_at", sa.DateTime(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["collections.id"]),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_taxii_polls_time", "taxii_polls", ["polled_at", "org_id"])
    op.create_index("ix_taxii_polls_collection", "taxii_polls", ["collection_id", "polled_at"])


def downgrade():
    op.drop_index("ix_taxii_polls_collection", table_name="taxii_polls")
    op.drop_index("ix_taxii_polls_time", table_name="taxii_polls")
    op.drop_table("taxii_polls")
    op.drop_table("taxii_status")
    op.drop_table("stix_clock")
    op.create_index("ix_stix_objects_id", "stix_objects", ["collection_id", "stix_id", "version"])
