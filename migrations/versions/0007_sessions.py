"""Server-side web sessions, sign-in throttling per account and address, TOTP failures per account.

The account lock (users.failed_logins, users.locked_until) goes: anyone could trigger it.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BIGPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_table(
        "signin_throttle",
        sa.Column("id", BIGPK, nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", "remote_addr", name="uq_signin_throttle"),
    )
    op.create_index("ix_signin_throttle_last_failure", "signin_throttle", ["last_failure_at"])
    op.add_column("totp_uses", sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("totp_uses", sa.Column("blocked_until", sa.DateTime(), nullable=True))
    # SQLite 3.35+ drops a plain column in place (no table rebuild under the foreign keys).
    op.drop_column("users", "failed_logins")
    op.drop_column("users", "locked_until")


def downgrade():
    op.add_column("users", sa.Column("locked_until", sa.DateTime(), nullable=True))
    op.add_column("users", sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
    op.drop_column("totp_uses", "blocked_until")
    op.drop_column("totp_uses", "failures")
    op.drop_index("ix_signin_throttle_last_failure", table_name="signin_throttle")
    op.drop_table("signin_throttle")
    op.drop_index("ix_user_sessions_user_id", table_name="user_sessions")
    op.drop_table("user_sessions")
