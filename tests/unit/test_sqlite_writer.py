"""SQLite writers queue on an OS lock; checkpoints happen after commits, not inside them."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from sqlalchemy import create_engine, event, text

from cert_share import sqlite_writer
from cert_share.database import configure_engine, sqlite_engine_options
from tests.sqlite_faults import refuse_checkpoints


def _engine(path):
    url = f"sqlite:///{path}"
    engine = create_engine(url, **sqlite_engine_options(url, {}))
    configure_engine(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, who TEXT, pad TEXT)"))
    return engine


def test_a_second_writer_waits_for_the_first_to_commit_instead_of_failing(tmp_path):
    engine = _engine(tmp_path / "db.sqlite")
    events: list[str] = []
    first_wrote, second_started = threading.Event(), threading.Event()

    def first():
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('first')"))
            first_wrote.set()
            second_started.wait(10)
            events.append("first commits")
            conn.commit()

    def second():
        first_wrote.wait(10)
        with engine.connect() as conn:
            # Without the queue, SQLite would answer "database is locked" at once.
            conn.exec_driver_sql("PRAGMA busy_timeout=0")
            second_started.set()
            conn.execute(text("INSERT INTO t (who) VALUES ('second')"))
            events.append("second wrote")
            conn.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert events == ["first commits", "second wrote"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT who FROM t ORDER BY id")).scalars().all() == ["first", "second"]
    engine.dispose()


def test_writers_in_two_processes_take_turns(tmp_path):
    path = tmp_path / "db.sqlite"
    engine = _engine(path)
    code = (
        "import sys\n"
        "from sqlalchemy import create_engine, event, text\n"
        "from cert_share.database import configure_engine, sqlite_engine_options\n"
        "url = 'sqlite:///' + sys.argv[1]\n"
        "engine = create_engine(url, **sqlite_engine_options(url, {}))\n"
        "configure_engine(engine)\n"
        "with engine.connect() as conn:\n"
        "    conn.exec_driver_sql('PRAGMA busy_timeout=0')\n"
        "    for i in range(200):\n"
        "        conn.execute(text('INSERT INTO t (who) VALUES (:w)'), {'w': sys.argv[2]})\n"
        "        conn.commit()\n"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), name], env=env, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errors  # busy_timeout=0: no "database is locked"
    with engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT who, count(*) FROM t GROUP BY who")).all())
    assert counts == {"a": 200, "b": 200}
    engine.dispose()


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_the_lock_is_released_when_the_transaction_ends_without_a_commit(tmp_path, end):
    engine = _engine(tmp_path / "db.sqlite")
    conn = engine.connect()
    conn.execute(text("INSERT INTO t (who) VALUES ('x')"))
    assert conn.connection.dbapi_connection.holds_writer_lock
    if end == "rollback":
        conn.rollback()
    conn.close()
    done = threading.Event()

    def other():
        with engine.begin() as c:
            c.execute(text("INSERT INTO t (who) VALUES ('y')"))
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(20)
    assert done.is_set()
    engine.dispose()


def _wal_size_after_commits(path, monkeypatch, interval: float) -> int:
    monkeypatch.setattr(sqlite_writer, "CHECKPOINT_INTERVAL", interval)
    engine = _engine(path)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        for _ in range(150):
            conn.execute(text("INSERT INTO t (who, pad) VALUES ('x', :pad)"), {"pad": "p" * 4000})
            conn.commit()
        size = os.path.getsize(f"{path}-wal")
    engine.dispose()
    return size


def test_commits_checkpoint_the_wal_so_it_does_not_grow_without_bound(tmp_path, monkeypatch):
    never = _wal_size_after_commits(tmp_path / "never.sqlite", monkeypatch, interval=1e9)
    always = _wal_size_after_commits(tmp_path / "always.sqlite", monkeypatch, interval=0.0)
    assert always * 5 < never


_WRITER = (
    "import os, sys\n"
    "from sqlalchemy import create_engine, event, text\n"
    "from cert_share import sqlite_writer\n"
    "from cert_share.database import configure_engine, sqlite_engine_options\n"
    "sqlite_writer.WAL_RESET_BYTES, sqlite_writer.CHECKPOINT_INTERVAL = int(sys.argv[3]), 1e9\n"
    "url = 'sqlite:///' + sys.argv[1]\n"
    "engine = create_engine(url, **sqlite_engine_options(url, {}))\n"
    "configure_engine(engine)\n"
    "largest = 0\n"
    "with engine.connect() as conn:\n"
    "    for i in range(int(sys.argv[4])):\n"
    "        conn.execute(text('INSERT INTO t (who, pad) VALUES (:w, :p)'), {'w': sys.argv[2], 'p': 'p' * 4000})\n"
    "        conn.commit()\n"
    "        largest = max(largest, os.path.getsize(sys.argv[1] + '-wal'))\n"
    "print(largest)\n"
)


def _write_concurrently(path, limit: int, rows: int) -> tuple[int, dict]:
    """Two processes and three threads each commit ``rows`` rows of 4 kB, with PASSIVE
    checkpoints off; returns the largest WAL any writer saw after its commit, and the counts."""
    engine = _engine(path)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), f"p{n}", str(limit), str(rows)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(2)]
    seen: list[int] = []

    def writer(name: str) -> None:
        with engine.connect() as conn:
            for _ in range(rows):
                conn.execute(text("INSERT INTO t (who, pad) VALUES (:w, :p)"), {"w": name, "p": "p" * 4000})
                conn.commit()
                seen.append(os.path.getsize(f"{path}-wal"))

    threads = [threading.Thread(target=writer, args=(f"t{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err for _out, err in outputs]
    seen += [int(out) for out, _err in outputs]
    with engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT who, count(*) FROM t GROUP BY who")).all())
    engine.dispose()
    return max(seen), counts


def test_the_wal_stays_bounded_under_concurrent_writers(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_writer, "CHECKPOINT_INTERVAL", 1e9)  # only the size rule checkpoints
    limit, rows = 256 * 1024, 60
    monkeypatch.setattr(sqlite_writer, "WAL_RESET_BYTES", limit)
    largest, counts = _write_concurrently(tmp_path / "bounded.sqlite", limit, rows)
    assert counts == {name: rows for name in ("p0", "p1", "t0", "t1", "t2")}
    # Past the limit by at most the one commit that crossed it (a 4 kB row: a few pages).
    assert largest <= limit + 64 * 1024, largest

    # The same load without the rule grows the log with every commit.
    unbounded, _counts = _write_concurrently(tmp_path / "unbounded.sqlite", 1 << 40, rows)
    assert unbounded > 4 * limit, unbounded


@pytest.mark.parametrize("mode", ["PASSIVE", "TRUNCATE"])
def test_a_checkpoint_that_fails_after_the_commit_keeps_the_write(tmp_path, monkeypatch, caplog, mode):
    monkeypatch.setattr(sqlite_writer, "CHECKPOINT_INTERVAL", 0.0 if mode == "PASSIVE" else 1e9)
    monkeypatch.setattr(sqlite_writer, "WAL_RESET_BYTES", 0 if mode == "TRUNCATE" else 1 << 40)
    engine = _engine(tmp_path / "db.sqlite")
    engine.dispose()
    event.listen(engine, "connect", refuse_checkpoints)
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('kept')"))
        conn.commit()  # no exception: the write is committed
        conn.execute(text("INSERT INTO t (who) VALUES ('and the next')"))
        conn.commit()
    assert f"SQLite {mode} checkpoint after a commit failed" in caplog.text
    event.remove(engine, "connect", refuse_checkpoints)
    engine.dispose()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT who FROM t ORDER BY id")).scalars().all() == ["kept", "and the next"]
    engine.dispose()


def test_every_new_engine_is_set_up_even_when_it_reuses_a_disposed_ones_id(tmp_path):
    # Each test (and each app) makes an engine; CPython hands a freed object's id to the next one.
    import gc

    ids = set()
    reused = 0
    for n in range(200):
        if reused >= 3:
            break
        engine = _engine(tmp_path / f"db{n}.sqlite")
        reused += id(engine) in ids
        ids.add(id(engine))
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1, n
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0, n
        engine.dispose()
        del engine
        gc.collect()
    assert reused  # the situation this guards against did occur
