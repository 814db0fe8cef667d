"""Fixtures shared by the integration tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def orgs(factory):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services", assets=["192.0.2.0/24", "firstbank.example"])
    bank2 = factory.org("Second Bank", sector="financial-services")
    telco = factory.org("TelcoNet", sector="telecommunications", assets=["AS64500"])
    return {"cert": cert, "bank": bank, "bank2": bank2, "telco": telco}


@pytest.fixture
def members(app, factory, orgs):
    """Signed-in analysts of the telco (NIS2) and the first bank (DORA): (web client, API token)."""
    from .web_login import login

    out = {}
    for name in ("telco", "bank"):
        user = factory.user(orgs[name], "analyst")
        client = app.test_client()
        assert login(client, user.email).status_code == 302
        out[name] = (client, factory.token(orgs[name]))
    return out


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on a free port, collecting what it receives. Modules whose
    mail needs settings (the app's SMTP_* from ``server.config()``) define their own ``smtp``."""
    from .mail_helpers import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pgp_keys(tmp_path_factory):
    """OpenPGP keys made once per session with the real gpg: the platform's signing key
    (``cert``), members' keys with their private keys to decrypt (``alice``; ``soon``, which
    expires in a day), and keys a registration must refuse (``expired``, ``revoked``)."""
    import subprocess

    from .pgp_keys import make_key

    root = tmp_path_factory.mktemp("gpg")
    keys = {
        "cert": make_key(root, "cert", "cert@cert.example"),
        "alice": make_key(root, "alice", "alice@first-bank.example"),
        "soon": make_key(root, "soon", "soon@first-bank.example", expire="1d"),
        "expired": make_key(root, "expired", "old@first-bank.example", expire="1d", faked_time="20200101T000000"),
        "revoked": make_key(root, "revoked", "gone@first-bank.example", revoked=True),
    }
    yield keys
    for keyring in keys.values():  # the gpg-agents that key generation started
        subprocess.run(["gpgconf", "--homedir", str(keyring.home), "--kill", "all"], capture_output=True)
