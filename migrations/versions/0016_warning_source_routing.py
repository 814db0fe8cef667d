"""What a warning's routing needs of its sources, in one index: a later sighting of a popular
observable aggregates its warning's active sources per (organization, TLP) from this index alone
(early_warning/lifecycle.py, active_sources), so the cost of a report does not grow with the
number of earlier sightings by reading each source's row.

Revision ID: 0016
Revises: 0015
"""
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_warning_sources_routing", "warning_sources",
                    ["warning_id", "withdrawn", "org_id", "tlp", "seen_at"])


def downgrade():
    op.drop_index("ix_warning_sources_routing", table_name="warning_sources")
