"""The analyst's day: search keys on observables and warnings, organizations that can be
deactivated, password resets, and why a warning is a draft again.

``host_rev`` (the host an observable names, labels reversed: ``stix.observables.host_key``)
makes "everything under example.com" one indexed range; ``ip_hex`` on warnings does the same for
"every warning inside 192.0.2.0/24", as it already does on observables. Existing rows get their
keys here, in batches by primary key, so a large table is never held in memory at once.

Revision ID: 0010
Revises: 0009
"""
import ipaddress

from alembic import op
import sqlalchemy as sa

from cert_share.stix.observables import host_key, ip_to_hex

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BATCH = 1000
HOST_KEY = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
HOST_TYPES = ("domain-name", "url", "email-addr")


def upgrade():
    # Plain ALTER TABLE ADD COLUMN (a batch would copy the whole table on SQLite).
    op.add_column("observables", sa.Column("host_rev", HOST_KEY, nullable=True))
    op.create_index("ix_observables_host", "observables", ["host_rev"])
    op.add_column("warnings", sa.Column("ip_hex", sa.String(32), nullable=True))
    op.add_column("warnings", sa.Column("host_rev", HOST_KEY, nullable=True))
    op.add_column("warnings", sa.Column("redraft_reason", sa.String(255), nullable=False, server_default=""))
    op.add_column("warnings", sa.Column("redraft_at", sa.DateTime(), nullable=True))
    op.create_index("ix_warnings_type_value", "warnings", ["observable_type", "observable_value"])
    op.create_index("ix_warnings_ip", "warnings", ["ip_hex"])
    op.create_index("ix_warnings_host", "warnings", ["host_rev"])
    op.add_column("organizations", sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column("organizations", sa.Column("deactivated_at", sa.DateTime(), nullable=True))
    op.add_column("users", sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    _backfill_hosts("observables", "id", "type", "value", ip=False)
    _backfill_hosts("warnings", "id", "observable_type", "observable_value", ip=True)


def _ip_hex(type_, value):
    if type_ not in ("ipv4-addr", "ipv6-addr") or "/" in value:
        return None
    return ip_to_hex(ipaddress.ip_address(value))


def _backfill_hosts(name, pk, type_column, value_column, *, ip):
    bind = op.get_bind()
    table = sa.table(name, sa.column(pk, sa.BigInteger), sa.column(type_column, sa.String),
                     sa.column(value_column, sa.String), sa.column("host_rev", sa.String),
                     sa.column("ip_hex", sa.String))
    types = HOST_TYPES + (("ipv4-addr", "ipv6-addr") if ip else ())
    select = (sa.select(table.c[pk], table.c[type_column], table.c[value_column])
              .where(table.c[pk] > sa.bindparam("after"), table.c[type_column].in_(types))
              .order_by(table.c[pk]).limit(BATCH))
    values = {"host_rev": sa.bindparam("key")}
    if ip:
        values["ip_hex"] = sa.bindparam("hex")
    update = table.update().where(table.c[pk] == sa.bindparam("row_pk")).values(**values)
    after = 0
    while True:
        rows = bind.execute(select, {"after": after}).all()
        if not rows:
            break
        bind.execute(update, [{"row_pk": row[0], "key": host_key(row[1], row[2]), "hex": _ip_hex(row[1], row[2])}
                              for row in rows])
        after = rows[-1][0]


def downgrade():
    # SQLite drops a column in place (3.35+); a batch would copy tables other tables point at.
    op.drop_column("users", "must_change_password")
    op.drop_column("organizations", "deactivated_at")
    op.drop_column("organizations", "active")
    for index in ("ix_warnings_host", "ix_warnings_ip", "ix_warnings_type_value"):
        op.drop_index(index, table_name="warnings")
    for column in ("redraft_at", "redraft_reason", "host_rev", "ip_hex"):
        op.drop_column("warnings", column)
    op.drop_index("ix_observables_host", table_name="observables")
    op.drop_column("observables", "host_rev")
