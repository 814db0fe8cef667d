"""Stored objects' TLP is the strictest of every marking they reference, granular ones included.

The ``tlp`` column of ``stix_objects`` was computed from ``object_marking_refs`` alone, so an
object GREEN at object level with a property marked RED was served as GREEN. This data migration
recomputes the column, with the rule the application now stores (``stix_store.tlp_column``), for
every row whose body has ``granular_markings``; rows with object-level markings only are
already right. Rows are read and updated in batches by primary key, so a large table is never
held in memory at once.

Revision ID: 0009
Revises: 0008
"""
import json

from alembic import op
import sqlalchemy as sa

from cert_share.store.stix_objects import tlp_column

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 1000

stix_objects = sa.table("stix_objects", sa.column("pk", sa.BigInteger), sa.column("body", sa.Text),
                        sa.column("tlp", sa.String))


def upgrade():
    bind = op.get_bind()
    select = (sa.select(stix_objects.c.pk, stix_objects.c.body, stix_objects.c.tlp)
              .where(stix_objects.c.pk > sa.bindparam("after"), stix_objects.c.body.like('%"granular_markings"%'))
              .order_by(stix_objects.c.pk).limit(BATCH))
    update = (stix_objects.update().where(stix_objects.c.pk == sa.bindparam("row_pk"))
              .values(tlp=sa.bindparam("level")))
    after = 0
    while True:
        rows = bind.execute(select, {"after": after}).all()
        if not rows:
            break
        changes = []
        for pk, body, stored in rows:
            level = tlp_column(json.loads(body))
            if level != stored:
                changes.append({"row_pk": pk, "level": level})
        if changes:
            bind.execute(update, changes)
        after = rows[-1][0]


def downgrade():
    # Nothing to undo: the stricter level is right for the earlier code too, which reads the
    # column as it finds it.
    pass
