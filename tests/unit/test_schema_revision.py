"""Does the cheap reading of the migrations find what Alembic finds: every revision and the head
(with branches, merges and annotated assignments too)?"""
from __future__ import annotations

import textwrap

import pytest
from alembic.script import ScriptDirectory

from cert_share.database import MIGRATIONS_DIRECTORY
from cert_share.schema_revision import migrations

SCRIPT_MAKO = '''"""${message}"""
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
'''


def _alembic(directory) -> tuple[set[str], tuple[str, ...]]:
    script = ScriptDirectory(str(directory))
    return {rev.revision for rev in script.walk_revisions()}, tuple(sorted(script.get_heads()))


def test_the_shipped_migrations_read_as_alembic_reads_them():
    revisions, heads = _alembic(MIGRATIONS_DIRECTORY)
    found = migrations(MIGRATIONS_DIRECTORY)
    assert (set(found.revisions), found.heads) == (revisions, heads)
    assert len(heads) == 1


def _migration(name: str, body: str) -> tuple[str, str]:
    return name, textwrap.dedent(body)


@pytest.mark.parametrize("files", [
    # a branch: two heads
    [_migration("a.py", 'revision = "a"\ndown_revision = None\n'),
     _migration("b.py", 'revision = "b"\ndown_revision = "a"\n'),
     _migration("c.py", 'revision: str = "c"\ndown_revision: str | None = "a"\n')],
    # the branch merged: one head revising two
    [_migration("a.py", 'revision = "a"\ndown_revision = None\n'),
     _migration("b.py", 'revision = "b"\ndown_revision = "a"\n'),
     _migration("c.py", "revision = 'c'\ndown_revision = 'a'\n"),
     _migration("d.py", 'import sqlalchemy as sa\nrevision = "d"\ndown_revision = ("b", "c")\n'
                        'def upgrade():\n    revision = "not this"\n'),
     _migration("notes.txt", "revision = 'x'\n")],
])
def test_branches_and_merges_read_as_alembic_reads_them(tmp_path, files):
    (tmp_path / "script.py.mako").write_text(SCRIPT_MAKO)
    versions = tmp_path / "versions"
    versions.mkdir()
    for name, body in files:
        (versions / name).write_text(body)
    revisions, heads = _alembic(tmp_path)
    found = migrations(str(tmp_path))
    assert (set(found.revisions), found.heads) == (revisions, heads)
