"""Intake objects belong to whoever posted them: one copy per owner.

The unique key of stored objects gains the owner, so that a member posting an id and version
another member already posted (an SCO's deterministic id, say) keeps its own copy instead of
silently losing it. Rows without an owner count as owner 0 (NULLs never collide in a unique
index). The new index starts with the old key's columns, so it serves the same lookups.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    # SQLite cannot drop a table constraint in place: batch mode copies the table.
    with op.batch_alter_table("stix_objects", schema=None) as batch_op:
        batch_op.drop_constraint("uq_stix_objects_version", type_="unique")
    op.create_index("uq_stix_objects_owner_version", "stix_objects",
                    ["collection_id", "stix_id", "version", sa.text("coalesce(owner_org_id, 0)")], unique=True)


def downgrade():
    # Keeps the oldest copy of each (collection, id, version): the old key allows only one.
    op.execute("DELETE FROM stix_objects WHERE pk NOT IN "
               "(SELECT MIN(pk) FROM stix_objects GROUP BY collection_id, stix_id, version)")
    op.drop_index("uq_stix_objects_owner_version", table_name="stix_objects")
    with op.batch_alter_table("stix_objects", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_stix_objects_version", ["collection_id", "stix_id", "version"])
