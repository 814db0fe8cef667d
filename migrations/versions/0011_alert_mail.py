"""Alert mail a CERT can send: OpenPGP keys and mail preferences per person, a duty address per
organization, and what delivery needs to encrypt or send a notice instead (the recipient and
the message's one link).

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE ADD COLUMN (a batch would copy the whole table on SQLite).
    op.add_column("users", sa.Column("pgp_key", sa.Text(), nullable=True))
    op.add_column("users", sa.Column("pgp_fingerprint", sa.String(64), nullable=True))
    op.add_column("users", sa.Column("pgp_expires_at", sa.DateTime(), nullable=True))
    op.add_column("users", sa.Column("mail_prefs", sa.Text(), nullable=False, server_default="{}"))
    op.add_column("organizations", sa.Column("duty_email", sa.String(254), nullable=True))
    op.add_column("outbox", sa.Column("recipient_user_id", sa.Integer(), nullable=True))
    op.add_column("outbox", sa.Column("action_url", sa.String(2048), nullable=True))


def downgrade():
    # SQLite drops a column in place (3.35+); a batch would copy tables other tables point at.
    for table, column in (("outbox", "action_url"), ("outbox", "recipient_user_id"),
                          ("organizations", "duty_email"), ("users", "mail_prefs"),
                          ("users", "pgp_expires_at"), ("users", "pgp_fingerprint"), ("users", "pgp_key")):
        op.drop_column(table, column)
