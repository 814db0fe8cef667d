"""A member's search walks only its own organization's observables: (org_id, ...) beside each
search index of ``observables``, so its time does not grow with what other members reported.

``host_rev`` already has the "C" collation on PostgreSQL (0010), which the index takes from the
column: a domain's key range is a byte range there as on SQLite.

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_INDEXES = (("ix_observables_org_ip", ["org_id", "ip_hex"]),
            ("ix_observables_org_host", ["org_id", "host_rev"]),
            ("ix_observables_org_type_value", ["org_id", "type", "value"]))


def upgrade():
    for name, columns in _INDEXES:
        op.create_index(name, "observables", columns)


def downgrade():
    for name, _ in reversed(_INDEXES):
        op.drop_index(name, table_name="observables")
