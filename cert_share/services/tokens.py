"""API tokens of organizations: issued once in clear, stored as SHA-256, revocable.

Tokens carry 256 bits of randomness, so a fast hash is enough to store them (unlike passwords),
and a lookup by hash keeps authentication O(1) for TAXII pollers.

A token's ``last_used_at`` is written at most once per ``LAST_USED_RESOLUTION``: by the request
itself for a write request (authenticate_token), and off the request path for a read request
(authenticate_reader): the use waits in its worker's consumption log buffer (store/poll_log.py)
and is written with the next batch, so a poll issues no UPDATE or COMMIT.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import joinedload

from .. import policy
from ..actor import CLI, Actor
from ..clock import utcnow
from ..database import DbSession
from ..driver_sql import DriverSelect
from ..errors import InputError, NotFound
from ..limits import MAX_TOKEN_NAME
from ..models import ApiToken, Organization
from ..store import audit
from ..store import poll_log as poll_logs

TOKEN_PREFIX = "cs_"
# last_used_at is written at most this often per token, not on every poll.
LAST_USED_RESOLUTION = timedelta(minutes=1)


# Built once (every API and TAXII request runs it). The organization comes in the same query:
# every caller needs it next.
_BY_DIGEST = (select(ApiToken).options(joinedload(ApiToken.organization, innerjoin=True))
              .where(ApiToken.token_hash == bindparam("digest")))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: DbSession, org: Organization, name: str = "default", *,
                actor: Actor = CLI) -> tuple[ApiToken, str]:
    name = (name or "").strip() or "default"
    if len(name) > MAX_TOKEN_NAME:
        raise InputError(gettext("token name is longer than %(max_token_name)s characters",
                                 max_token_name=MAX_TOKEN_NAME), field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(org_id=org.id, name=name, token_hash=_digest(secret), prefix=secret[:10],
                   created_by_id=actor.user.id if actor.user is not None else None)
    session.add(row)
    session.flush()
    audit.record(session, actor, "token.issue", "token", row.id, org=org.slug, name=name)
    session.commit()
    return row, secret


def tokens_of(session: DbSession, org: Organization) -> list[ApiToken]:
    """The organization's tokens, revoked ones included, oldest first."""
    return list(session.execute(select(ApiToken).where(ApiToken.org_id == org.id).order_by(ApiToken.id)).scalars())


def revoke_token(session: DbSession, org: Organization, token_id: int, *, actor: Actor) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.org_id != org.id:
        raise NotFound(gettext("no such token"))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, actor, "token.revoke", "token", row.id, org=org.slug, name=row.name)
        session.commit()
    return row


def revoke_token_by_id(session: DbSession, token_id: int, *, actor: Actor) -> ApiToken:
    """Revoke the token with this id, and commit. CERT administrators revoke any organization's;
    anyone else only their own organization's: another's answers NotFound, as if it did not exist."""
    row = session.get(ApiToken, token_id)
    if row is None or not policy.can_manage_org_tokens(actor, row.org_id):
        raise NotFound(gettext("no such token"))
    return revoke_token(session, row.organization, token_id, actor=actor)


def authenticate_token(session: DbSession, token: str, *, org_slug: str | None = None) -> ApiToken | None:
    """The active token matching ``token`` (and belonging to ``org_slug`` when given), else None.
    A deactivated organization's tokens answer as a revoked one does."""
    if not token or len(token) > 200:
        return None
    digest = _digest(token)
    row = session.execute(_BY_DIGEST, {"digest": digest}).scalar_one_or_none()
    # The indexed lookup finds the row; the comparison that decides is constant-time.
    if (row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at is not None
            or not row.organization.active):
        return None
    if org_slug is not None and not hmac.compare_digest(row.organization.slug.encode(), org_slug.encode()):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.commit()
    return row


@dataclass(frozen=True)
class TokenReader:
    """An active token as a read-only request needs it: its id and name, and its organization as
    a snapshot of the columns policy reads (never added to a session, shared by the requests of
    one worker; a relationship of it reads as empty)."""

    token_id: int
    name: str
    org: Organization


# The token and its organization's columns, as one row: no ORM entities on the TAXII poll path.
_READER_COLUMNS = (ApiToken.token_hash, ApiToken.revoked_at, ApiToken.last_used_at, ApiToken.id, ApiToken.name,
                   Organization.id, Organization.slug, Organization.name, Organization.kind, Organization.sector,
                   Organization.country, Organization.stix_id, Organization.active)
_READER_BY_DIGEST = DriverSelect(select(*_READER_COLUMNS).join(Organization, Organization.id == ApiToken.org_id)
                                 .where(ApiToken.token_hash == bindparam("digest")))
# Snapshots by the row they were made from: a changed organization or token is a new key.
_READERS: dict[tuple, TokenReader] = {}
_MAX_READERS = 10_000


def authenticate_reader(session: DbSession, token: str, *, org_slug: str | None = None,
                        connection: Connection | None = None) -> TokenReader | None:
    """authenticate_token for a read-only request: the same rules and the same row read on every
    request (a revoked token or a deactivated organization is refused at once), without loading
    ORM entities; None when authenticate_token would answer None.

    Its ``last_used_at``, when older than LAST_USED_RESOLUTION, is not written here: the use is
    noted in the worker's consumption log buffer (store/poll_log.py) and written with its next
    batch, never moving the time back; with TAXII_POLL_LOG_SECONDS = 0 it is written and
    committed now, in ``session``, before the request answers."""
    if not token or len(token) > 200:
        return None
    digest = _digest(token)
    # ``connection``: the request's read connection (database.request_connection), cheaper than the session's.
    row = _READER_BY_DIGEST.execute(connection if connection is not None else session.connection(),
                                    {"digest": digest}).first()
    if (row is None or not hmac.compare_digest(row[0], digest) or row[1] is not None or not row[12]):
        return None
    if org_slug is not None and not hmac.compare_digest(row[6].encode(), org_slug.encode()):
        return None
    now = utcnow()
    if row[2] is None or now - row[2] > LAST_USED_RESOLUTION:
        poll_log = poll_logs.for_app(current_app._get_current_object())  # type: ignore[attr-defined]
        poll_log.note_use(row[3], now)
        if poll_log.interval <= 0:
            poll_log.flush(session)
    key = tuple(row[3:])
    reader = _READERS.get(key)
    if reader is None:
        if len(_READERS) >= _MAX_READERS:
            _READERS.clear()
        org = Organization(id=row[5], slug=row[6], name=row[7], kind=row[8], sector=row[9], country=row[10],
                           stix_id=row[11], active=row[12])
        reader = _READERS[key] = TokenReader(token_id=row[3], name=row[4], org=org)
    return reader
