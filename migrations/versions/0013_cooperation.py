"""Cross-border cooperation: partner CERTs as a directory (TAXII intake URL, credential variable
names, languages, contact key), cooperation requests in both directions, and the deliveries that
carry them; outbox rows may carry attachments and name the partner they are for.

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    # Plain ALTER TABLE ADD COLUMN (a batch would copy the whole table on SQLite).
    op.add_column("organizations", sa.Column("taxii_url", sa.String(2048), nullable=True))
    op.add_column("organizations", sa.Column("taxii_username_env", sa.String(128), nullable=True))
    op.add_column("organizations", sa.Column("taxii_password_env", sa.String(128), nullable=True))
    op.add_column("organizations", sa.Column("languages", sa.Text(), nullable=False, server_default="[]"))
    op.add_column("organizations", sa.Column("pgp_key", sa.Text(), nullable=True))
    op.add_column("organizations", sa.Column("pgp_fingerprint", sa.String(64), nullable=True))
    op.add_column("organizations", sa.Column("pgp_expires_at", sa.DateTime(), nullable=True))
    op.add_column("outbox", sa.Column("recipient_org_id", sa.Integer(), nullable=True))
    op.add_column("outbox", sa.Column("attachments", sa.Text(), nullable=True))

    op.create_table(
        "cooperation_requests",
        sa.Column("id", _BIGINT_PK, primary_key=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("incident_id", _BIGINT_PK, sa.ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("partner_org_id", sa.Integer(), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("tlp", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("stix_id", sa.String(64), nullable=False),
        sa.Column("confirmed_strict", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("failed_at", sa.DateTime(), nullable=True),
        sa.Column("overdue_at", sa.DateTime(), nullable=True),
        sa.Column("taxii_status_id", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("answer_stix_id", sa.String(64), nullable=True),
        sa.Column("answer_message", sa.Text(), nullable=True),
        sa.Column("answer_object_ids", sa.Text(), nullable=False),
        sa.UniqueConstraint("partner_org_id", "direction", "stix_id", name="uq_cooperation_requests_stix"),
    )
    op.create_index("ix_cooperation_requests_incident", "cooperation_requests", ["incident_id"])
    op.create_index("ix_cooperation_requests_state_due", "cooperation_requests", ["state", "due_at"])
    op.create_index("ix_cooperation_requests_created", "cooperation_requests", ["created_at"])

    op.create_table(
        "partner_deliveries",
        sa.Column("id", _BIGINT_PK, primary_key=True),
        sa.Column("request_id", _BIGINT_PK, sa.ForeignKey("cooperation_requests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("partner_org_id", sa.Integer(), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("bundle", sa.Text(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("taxii_status_id", sa.String(64), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_partner_deliveries_due", "partner_deliveries", ["state", "next_attempt_at"])
    op.create_index("ix_partner_deliveries_request", "partner_deliveries", ["request_id"])
    op.create_index("ix_partner_deliveries_claimed_by", "partner_deliveries", ["claimed_by"])


def downgrade():
    op.drop_table("partner_deliveries")
    op.drop_table("cooperation_requests")
    # SQLite drops a column in place (3.35+); a batch would copy tables other tables point at.
    for table, column in (("outbox", "attachments"), ("outbox", "recipient_org_id"),
                          ("organizations", "pgp_expires_at"), ("organizations", "pgp_fingerprint"),
                          ("organizations", "pgp_key"), ("organizations", "languages"),
                          ("organizations", "taxii_password_env"), ("organizations", "taxii_username_env"),
                          ("organizations", "taxii_url")):
        op.drop_column(table, column)
