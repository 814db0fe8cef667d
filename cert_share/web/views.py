"""Web pages (placeholder until the web UI lands)."""
from __future__ import annotations

from flask import redirect, url_for

from . import bp


@bp.get("/")
def index():
    return redirect(url_for("web.login"))


@bp.get("/login")
def login():
    return "cert-share: sign-in page", 200
