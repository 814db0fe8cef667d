"""Fraud identifiers (bank accounts, phone numbers, wallets, payment cards): a warning about a
personal value carries its keyed hash unless CERT staff chose to publish the value in clear;
``publish_clear`` records that choice (its audit entry says who and when).

The observable types themselves need no schema change: ``type`` is a String(32) and the new
names are at most 21 characters.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("warnings") as batch:
        batch.add_column(sa.Column("publish_clear", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("warnings") as batch:
        batch.drop_column("publish_clear")
