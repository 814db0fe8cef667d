"""The keyed hashes of the personal values warnings are about, one row per value and configured
key, so that a member's lookup by hash is one indexed read (early_warning/hash_index.py).
Filled as warnings are published and by ``cert-share warnings rehash``. Nothing to fill here:
warnings about personal values came with 0014, in the same release.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "observable_hashes",
        sa.Column("value_hmac", sa.String(120), primary_key=True),
        sa.Column("observable_type", sa.String(32), nullable=False),
        sa.Column("observable_value", sa.String(2048), nullable=False),
    )


def downgrade():
    op.drop_table("observable_hashes")
