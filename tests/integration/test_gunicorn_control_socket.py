"""Two cert-share instances on one machine: does each get its own gunicorn control socket, so
that `gunicornc` talks to the instance it names and stopping one leaves the other's in place?
(gunicorn's default is one path per user, which the second instance would take over.)"""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from gunicorn.ctl.client import ControlClient

from tests.integration.waiting import wait_until

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(database_url: str, tmp_path, port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "CERT_SHARE_ENV": "test", "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
           "MAILDIR": str(tmp_path / "maildir"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:cert_share.gunicorn_conf",
                             "--workers", "1", "--bind", f"127.0.0.1:{port}", *extra, "cert_share:worker_app()"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _arbiter_pid(path) -> int | None:
    """The master pid the control socket at ``path`` answers for; None while it does not answer."""
    try:
        with ControlClient(str(path), timeout=5) as client:
            return client.send_command("show all")["arbiter"]["pid"]
    except Exception:
        return None


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    return proc.communicate(timeout=30)[0]


def test_each_instance_has_its_own_control_socket(database_url, tmp_path):
    (tmp_path / "run").mkdir()
    ports = [_free_port(), _free_port(), _free_port()]
    explicit = tmp_path / "chosen.ctl"
    procs = [_start(database_url, tmp_path, ports[0]), _start(database_url, tmp_path, ports[1]),
             _start(database_url, tmp_path, ports[2], "--control-socket", str(explicit))]
    try:
        sockets = [tmp_path / "run" / f"cert-share-127.0.0.1-{ports[0]}.ctl",
                   tmp_path / "run" / f"cert-share-127.0.0.1-{ports[1]}.ctl", explicit]
        for proc, path in zip(procs, sockets, strict=True):
            def answers(proc=proc, path=path) -> bool:
                assert proc.poll() is None, proc.communicate()[0]
                return _arbiter_pid(path) == proc.pid

            wait_until(answers, timeout=60, what=f"{path.name} to answer for its own instance")
        assert not (tmp_path / "run" / "gunicorn.ctl").exists()  # nobody took the shared default

        _stop(procs[0])
        assert not sockets[0].exists()
        assert _arbiter_pid(sockets[1]) == procs[1].pid  # stopping one left the other's in place
        assert _arbiter_pid(explicit) == procs[2].pid
    finally:
        for proc in procs:
            if proc.poll() is None:
                _stop(proc)
