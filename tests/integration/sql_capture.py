"""What SQL a piece of the application runs: for tests that bound a page's query count or check
that a filter reaches the statement that walks an index."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event

from cert_share.extensions import db


@contextmanager
def sql_statements(app) -> Iterator[list[str]]:
    """Collect every statement sent to the app's database inside the block."""
    seen: list[str] = []

    def keep(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)
