"""Does the production install work without the source tree? The wheel (`pip wheel --no-deps`),
installed with the hashed lock (`pip install --require-hashes -r requirements/production.txt`,
then the wheel with --no-deps) into a fresh virtual environment, and run from another folder:
`cert-share db upgrade` from the migrations inside the package, `gunicorn wsgi:app` serving,
`cert-share scheduler run` taking the lease, files only in CERT_SHARE_DATA_DIR.

Slow (a minute or two: it builds the wheel and installs every dependency from the package index
or pip's cache), so marked ``slow``: ``pytest -m "not slow"`` leaves it out."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.integration.waiting import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BUILD_INPUTS = ["pyproject.toml", "setup.cfg", "README.md", "wsgi.py", "cert_share", "migrations"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtual environment holding the production install; its bin folder."""
    base = tmp_path_factory.mktemp("installed")
    # Built from a copy of what a build reads, so that the build's own files (build/, *.egg-info)
    # never land in the tree the other tests run from.
    source = base / "source"
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(source)],
                   check=True, timeout=600, cwd=base)
    [wheel] = (base / "dist").glob("cert_share-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, timeout=120)
    pip = [str(base / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "--require-hashes", "-r", str(ROOT / "requirements" / "production.txt")],
                   check=True, timeout=900, cwd=base)
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, timeout=300, cwd=base)
    return base / "venv" / "bin"


def _env(data: Path, port: int) -> dict[str, str]:
    """A production environment that knows nothing of the source tree."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERT_SHARE_", "PYTHON", "DATABASE_URL",
                                                                       "FEEDS_DIR", "MAILDIR", "VIRTUAL_ENV"))}
    return {**env, "CERT_SHARE_ENV": "production", "CERT_SHARE_DATA_DIR": str(data),
            "SECRET_KEY": "k" * 48, "BASE_URL": f"http://127.0.0.1:{port}", "SESSION_COOKIE_SECURE": "0"}


def test_the_installed_package_migrates_serves_and_schedules_without_the_source_tree(installed, tmp_path):
    port = _free_port()
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _env(data, port)

    def run(*args: str) -> str:
        done = subprocess.run(args, env=env, cwd=elsewhere, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = run(str(installed / "python"), "-c", "import cert_share, wsgi; print(cert_share.__file__, wsgi.__file__)")
    assert str(ROOT) not in where and all(path.startswith(str(installed.parent)) for path in where.split())
    assert "Usage: cert-share" in run(str(installed / "cert-share"), "--help")

    assert run(str(installed / "cert-share"), "db", "upgrade").splitlines()[-1].startswith("now at head ")
    assert (data / "instance" / "cert-share.db").is_file()

    server = subprocess.Popen([str(installed / "gunicorn"), "-c", "python:cert_share.gunicorn_conf", "--workers", "1",
                               "--bind", f"127.0.0.1:{port}", "wsgi:app"], env=env, cwd=elsewhere)
    scheduler = subprocess.Popen([str(installed / "cert-share"), "scheduler", "run"], env=env, cwd=elsewhere)
    try:
        def login_page():
            try:
                return requests.get(f"http://127.0.0.1:{port}/login", timeout=30).status_code == 200
            except (requests.ConnectionError, requests.Timeout):
                assert server.poll() is None, "gunicorn exited"
                return False

        wait_until(login_page, timeout=60, what="gunicorn wsgi:app serving /login")
        wait_until(lambda: "(active" in run(str(installed / "cert-share"), "scheduler", "status"), timeout=60,
                   what="the scheduler taking the lease")
    finally:
        for proc in (server, scheduler):
            proc.send_signal(signal.SIGTERM)
        for proc in (server, scheduler):
            proc.wait(timeout=60)
    assert scheduler.returncode == 0
    assert sorted(p.name for p in data.iterdir()) == ["instance"]
