"""Signing CERT staff in with the Flask test client, second factor included.

CERT roles must pass TOTP: ``enrol(app, user)`` gives the account a known secret and
``sign_in(client, email, secret)`` goes through /login and /login/totp like a person would.
"""
from __future__ import annotations

import time

import pyotp

from cert_share.extensions import db
from tests.conftest import PASSWORD
from tests.integration.web_login import login, page_token

_last_step: dict[str, int] = {}


def enrol(app, user) -> str:
    from cert_share.models import User

    secret = pyotp.random_base32()
    with app.app_context():
        row = db.session.get(User, user.id)
        row.totp_secret, row.totp_enabled = secret, True
        db.session.commit()
    return secret


def next_code(secret: str) -> str:
    """A valid code not used before (each code works once; the window is one step either side)."""
    now = time.time()
    now_step = int(now) // 30
    # The previous step's code stops working when this window ends: only take it while there is
    # time left for the request to reach the server (a loaded machine takes seconds).
    oldest = now_step - 1 if now % 30 < 20 else now_step
    step = max(oldest, _last_step.get(secret, oldest - 1) + 1)
    assert step <= now_step + 1, "more sign-ins of one user than this 30 s window has unused codes"
    _last_step[secret] = step
    return pyotp.TOTP(secret).generate_otp(step)


def sign_in(client, email: str, secret: str, password: str = PASSWORD):
    first = login(client, email, password)
    assert first.status_code == 302 and first.headers["Location"].endswith("/login/totp"), first.status_code
    token = page_token(client, "/login/totp")
    return client.post("/login/totp", data={"csrf_token": token, "code": next_code(secret)})
