"""Resolve the caller of an API or TAXII request from its Authorization header."""
from __future__ import annotations

import base64
import binascii

from flask import request

from ..actor import Actor
from ..database import request_connection
from ..errors import AuthenticationFailed
from ..extensions import db
from ..models.user import CERT_ADMIN, MEMBER_ADMIN
from ..services import tokens

READ_METHODS = frozenset({"GET", "HEAD"})


def _credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return None, value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        user, sep, password = decoded.partition(":")
        if sep:
            return user, password
    return None, None


def actor_from_request(*, allow_basic: bool) -> Actor:
    """The Actor for this request, or AuthenticationFailed (401)."""
    header = request.headers.get("Authorization", "")
    if not header:
        how = "HTTP Basic (organization slug, API token) or " if allow_basic else ""
        raise AuthenticationFailed(f"authentication required: send {how}'Authorization: Bearer <token>'")
    slug, secret = _credentials(header)
    if secret is None or (slug is not None and not allow_basic):
        raise AuthenticationFailed("unsupported or malformed Authorization header; use 'Bearer <token>'")
    if allow_basic and request.method in READ_METHODS:
        # TAXII's reads use the organization's columns only: a snapshot, without ORM entities,
        # selected on the request's read connection (no Session unless the token's use is written now).
        reader = tokens.authenticate_reader(db.session, secret, org_slug=slug, connection=request_connection())
        if reader is None:
            raise AuthenticationFailed("invalid, revoked or unknown token")
        return Actor(label=f"token:{reader.org.slug}/{reader.name}", org=reader.org, token_id=reader.token_id,
                     remote_addr=request.remote_addr, role=CERT_ADMIN if reader.org.is_cert else MEMBER_ADMIN)
    row = tokens.authenticate_token(db.session, secret, org_slug=slug)
    if row is None:
        raise AuthenticationFailed("invalid, revoked or unknown token")
    org = row.organization
    return Actor(label=f"token:{org.slug}/{row.name}", org=org, token_id=row.id,
                 remote_addr=request.remote_addr, role=CERT_ADMIN if org.is_cert else MEMBER_ADMIN)


_CALLER_KEY = "cert_share.request_caller"


def request_caller(*, allow_basic: bool) -> Actor:
    """actor_from_request, once per request: the rate limiter's key (auth/rate_limits.py) and
    the blueprint both ask, and a token look-up costs a hash and a query. A failure is kept and
    raised again to the blueprint, which answers it.

    Kept in the request's WSGI environ, not in ``g``: ``g`` lives as long as the app context, and
    an app context already open (a script's, a test's) is shared by every request made in it,
    so one request's caller would answer for the next."""
    caller = request.environ.get(_CALLER_KEY)
    if caller is None:
        try:
            caller = actor_from_request(allow_basic=allow_basic)
        except Exception as exc:  # noqa: BLE001 (kept for the blueprint, which raises it again)
            caller = exc
        request.environ[_CALLER_KEY] = caller
    if isinstance(caller, Exception):
        raise caller
    return caller
