"""The README's commands in a fresh shell, run as an operator runs them: the installed `cert-share`.

Do they work on a development install with nothing set? Is a missing or malformed setting one
line naming the variable (never a traceback)? Does a production server still refuse to start
without its own SECRET_KEY? Do `serve`'s links name the port it serves, however it was given?
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import auth
from tests.integration.waiting import wait_until

CERT_SHARE = str(Path(sys.executable).with_name("cert-share"))


def fresh_shell(tmp_path, **settings: str) -> dict:
    """A login shell's environment: no cert-share setting but those given."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
            "MAILDIR": str(tmp_path / "maildir"), **settings}


def cert_share(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CERT_SHARE, *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_readme_commands_work_on_a_development_install_without_any_setting(app, factory, database_url,
                                                                               tmp_path):
    factory.org("First Bank", slug="first-bank")
    env = fresh_shell(tmp_path, DATABASE_URL=database_url)
    issued = cert_share(env, "token", "add", "--org", "first-bank", "--name", "soc")
    assert issued.returncode == 0, issued.stderr
    secret = issued.stdout.strip().splitlines()[-1]
    listed = cert_share(env, "token", "list", "--org", "first-bank")
    assert listed.returncode == 0, listed.stderr
    assert "\tsoc\t" in listed.stdout and secret[:6] in listed.stdout
    assert app.test_client().get("/api/v1/incidents", headers=auth(secret)).status_code == 200


def test_a_production_server_without_a_secret_key_refuses_to_start_in_one_line(database_url, tmp_path):
    result = cert_share(fresh_shell(tmp_path, DATABASE_URL=database_url, SCHEDULER_ENABLED="0",
                                    BASE_URL="https://share.cert.example"),
                        "serve", "--port", str(_free_port()))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: SECRET_KEY is not set") and "CERT_SHARE_ENV=development" in line
    assert result.stdout == ""


@pytest.mark.parametrize("command", [("serve", "--port", "0"), ("scheduler", "run"), ("jobs", "run", "send-mail")])
def test_production_without_base_url_refuses_to_serve_or_send_mail_in_one_line(database_url, tmp_path, command):
    """Every link in mail starts with BASE_URL: outside development nothing that mails starts without it."""
    result = cert_share(fresh_shell(tmp_path, DATABASE_URL=database_url, SECRET_KEY="s" * 40), *command)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: BASE_URL is not set") and "CERT_SHARE_ENV=development" in line


@pytest.mark.parametrize("name,value", [
    ("SMTP_PORT", "twenty-five"),
    ("SCHEDULER_ENABLED", "maybe"),
    ("JOB_SEND_MAIL_MINUTES", "0"),
    ("CERT_SHARE_ENV", "dev"),
])
def test_a_malformed_setting_is_one_line_naming_it(database_url, tmp_path, name, value):
    result = cert_share(fresh_shell(tmp_path, DATABASE_URL=database_url, **{name: value}), "org", "list")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: {name} must be") and repr(value) in line and "set" in line
    assert result.stdout == ""


def test_two_malformed_settings_are_a_line_each(database_url, tmp_path):
    result = cert_share(fresh_shell(tmp_path, DATABASE_URL=database_url, SMTP_PORT="x", MAIL_HOURLY_CAP="y"),
                        "org", "list")
    assert result.returncode == 2
    assert sorted(line.split()[1] for line in result.stderr.splitlines()) == ["MAIL_HOURLY_CAP", "SMTP_PORT"]


def test_a_database_without_the_schema_says_to_run_db_upgrade(tmp_path):
    result = cert_share(fresh_shell(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/new.db"),
                        "token", "add", "--org", "first-bank")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "DATABASE_URL" in line and "cert-share db upgrade" in line


def test_an_unreachable_database_is_one_line_naming_database_url(tmp_path):
    result = cert_share(fresh_shell(tmp_path, DATABASE_URL=f"postgresql://nobody@127.0.0.1:{_free_port()}/none"),
                        "org", "list")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: the database cannot be used") and "DATABASE_URL" in line


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _discovery(port: int, token: str) -> dict | None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/taxii2/",
                                     headers={**auth(token), "Accept": "application/taxii+json;version=2.1"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())
    except OSError:
        return None


@pytest.mark.slow
def test_serve_links_name_the_port_it_serves_without_port_in_the_environment(factory, database_url, tmp_path):
    token = factory.token(factory.org("First Bank"))
    port = _free_port()
    env = fresh_shell(tmp_path, DATABASE_URL=database_url, CERT_SHARE_ENV="development", SCHEDULER_ENABLED="0")
    server = subprocess.Popen([CERT_SHARE, "serve", "--port", str(port), "--workers", "1"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        discovery = wait_until(lambda: server.poll() is None and _discovery(port, token), timeout=60,
                               what="cert-share serve to answer")
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    assert discovery["api_roots"] and all(root.startswith(f"http://127.0.0.1:{port}/")
                                          for root in discovery["api_roots"])
