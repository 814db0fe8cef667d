"""Administration by CERT admins (and member-admins for their own organization's accounts and
tokens): roles, accounts, password resets, and reading the audit log. Organizations, assets,
users and tokens are created through their own services (organizations, users, tokens); this
module adds what those lack.
"""
from __future__ import annotations

import csv
import io
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator, Mapping

from flask_babel import gettext
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from .. import policy
from ..actor import Actor
from ..clock import iso
from ..database import DbSession
from ..errors import InputError, NotFound, PermissionDenied
from ..models import ApiToken, AuditEntry, Organization, User
from ..models.user import ROLES, roles_for_kind
from ..store import audit
from ..store.text import lower_contains
from . import web_sessions
from .users import check_password_strength, hash_password

AUDIT_PAGE = 100
AUDIT_EXPORT_MAX = 1_000_000


def set_role(session: DbSession, user_id: int, *, role: str, active: bool, actor: Actor) -> User:
    """Change a user's role (within their organization's kind) and whether they may sign in.
    A role change or deactivation ends the user's sessions. Commits."""
    if not policy.is_cert_admin(actor):
        raise PermissionDenied(gettext("only CERT administrators change roles"))
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(gettext("no user %(user_id)s", user_id=user_id))
    if role not in ROLES:
        raise InputError(gettext("role must be one of %(roles)s", roles=', '.join(ROLES)), field="role")
    allowed = roles_for_kind(user.organization.kind)
    if role not in allowed:
        raise InputError(gettext("users of %(name)s have role %(allowed)s",
                                 name=user.organization.name, allowed=' or '.join(allowed)), field="role")
    if actor.user is not None and actor.user.id == user.id and (role != user.role or not active):
        raise InputError(gettext("you cannot change your own role or deactivate yourself"), field="role")
    changes: dict[str, object] = {}
    if role != user.role:
        changes["role"] = {"from": user.role, "to": role}
        user.role = role
    if bool(active) != bool(user.active):
        changes["active"] = bool(active)
        user.active = bool(active)
    if changes:
        user.session_version += 1  # sessions under the old role end now
        web_sessions.end_others(session, user)
        audit.record(session, actor, "user.update", "user", user.email, **changes)
        session.commit()
    return user


def _manageable_user(session: DbSession, user_id: int, actor: Actor) -> User:
    """The account ``user_id`` if ``actor`` manages it; otherwise NotFound, as for an id that
    does not exist (a member-admin learns nothing of another organization's accounts)."""
    user = session.get(User, user_id)
    if user is None or not policy.can_manage_user(actor, user):
        raise NotFound(gettext("no such user"))
    return user


# 12 random bytes: 16 URL-safe characters, above MIN_PASSWORD_LENGTH, typed once by the user.
TEMPORARY_PASSWORD_BYTES = 12


def reset_password(session: DbSession, user_id: int, *, actor: Actor,
                   temporary: str | None = None) -> tuple[User, str]:
    """A temporary password for the account (``temporary``, the operator's choice, or a random
    one), returned in clear once (never stored in clear, never mailed). Every session of the user
    ends, and their next sign-in ends on the password form until they choose their own. The
    second factor is left as it is. Commits."""
    user = _manageable_user(session, user_id, actor)
    if actor.user is not None and actor.user.id == user.id:
        raise InputError(gettext("change your own password on your account page"), field="password")
    if temporary is None:
        temporary = secrets.token_urlsafe(TEMPORARY_PASSWORD_BYTES)
    check_password_strength(temporary)
    user.password_hash = hash_password(temporary)
    user.must_change_password = True
    user.session_version += 1
    web_sessions.end_others(session, user)
    audit.record(session, actor, "user.password_reset", "user", user.email)
    session.commit()
    return user, temporary


def set_user_active(session: DbSession, user_id: int, active: bool, *, actor: Actor) -> User:
    """Disable an account (it cannot sign in; its sessions end now) or enable it again. CERT
    administrators for any account, a member-admin for their organization's. Commits."""
    user = _manageable_user(session, user_id, actor)
    if actor.user is not None and actor.user.id == user.id and not active:
        raise InputError(gettext("you cannot disable your own account"), field="active")
    if bool(user.active) != bool(active):
        user.active = bool(active)
        user.session_version += 1
        web_sessions.end_others(session, user)
        audit.record(session, actor, "user.update", "user", user.email, active=bool(active))
        session.commit()
    return user


def users_of(session: DbSession, org_id: int) -> list[User]:
    """One organization's accounts (a member-admin's page)."""
    return list(session.execute(select(User).where(User.org_id == org_id).order_by(User.email)).scalars())


def tokens_for(session: DbSession, org_id: int | None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if org_id is not None:
        query = query.where(ApiToken.org_id == org_id)
    return list(session.execute(query).scalars())


def organizations(session: DbSession, *, with_assets: bool = False) -> list[Organization]:
    """All organizations by kind and name; ``with_assets`` loads their assets in one more query
    (the list page shows them per row)."""
    query = select(Organization).order_by(Organization.kind, Organization.name)
    if with_assets:
        query = query.options(selectinload(Organization.assets))
    return list(session.execute(query).scalars())


def users(session: DbSession) -> list[User]:
    return list(session.execute(select(User).order_by(User.org_id, User.email)).scalars())


@dataclass
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None  # inclusive

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "AuditFilters":
        def day(name: str) -> date | None:
            value = (args.get(name) or "").strip()
            if not value:
                return None
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise InputError(gettext("%(name)s must be a date as YYYY-MM-DD", name=name), field=name) from None

        actor = (args.get("actor") or "").strip() or None
        action = (args.get("action") or "").strip() or None
        if (actor and len(actor) > 300) or (action and len(action) > 64):
            raise InputError(gettext("filter text is too long"))
        if "\x00" in (actor or "") + (action or ""):  # PostgreSQL refuses NUL in a query parameter
            raise InputError(gettext("filter text holds a NUL character"))
        return cls(actor=actor, action=action, since=day("from"), until=day("to"))

    def query(self) -> Select:
        query = select(AuditEntry)
        if self.actor:
            query = query.where(lower_contains(AuditEntry.actor, self.actor))
        if self.action:
            query = query.where(AuditEntry.action == self.action)
        if self.since:
            query = query.where(AuditEntry.at >= datetime.combine(self.since, time(0), tzinfo=timezone.utc))
        if self.until:
            query = query.where(AuditEntry.at < datetime.combine(self.until + timedelta(days=1), time(0),
                                                                 tzinfo=timezone.utc))
        return query

    def as_args(self) -> dict:
        return {k: v for k, v in {"actor": self.actor, "action": self.action,
                                  "from": self.since.isoformat() if self.since else None,
                                  "to": self.until.isoformat() if self.until else None}.items() if v}


def audit_page(session: DbSession, filters: AuditFilters, *, before: int | None = None,
               limit: int = AUDIT_PAGE) -> tuple[list[AuditEntry], bool]:
    """Newest first, keyset-paged by id."""
    query = filters.query().order_by(AuditEntry.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = list(session.execute(query).scalars())
    return rows[:limit], len(rows) > limit


def audit_actions(session: DbSession) -> list[str]:
    return list(session.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).scalars())


def record_audit_export(session: DbSession, filters: AuditFilters, *, actor: Actor) -> None:
    """Exporting the log is itself an auditable act (recorded before the export streams). Commits."""
    audit.record(session, actor, "audit.export", "audit", None, filters=filters.as_args())
    session.commit()


AUDIT_COLUMNS = ("id", "at", "actor", "action", "target_type", "target_id", "remote_addr", "details")


def audit_csv(session: DbSession, filters: AuditFilters) -> Iterator[str]:
    """The filtered log as CSV, oldest first, streamed in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(AUDIT_COLUMNS)
    last_id = 0
    emitted = 0
    while emitted < AUDIT_EXPORT_MAX:
        rows = list(session.execute(filters.query().where(AuditEntry.id > last_id)
                                    .order_by(AuditEntry.id).limit(1000)).scalars())
        if not rows:
            break
        for row in rows:
            writer.writerow([row.id, iso(row.at), _cell(row.actor), row.action, row.target_type or "",
                             _cell(row.target_id or ""), row.remote_addr or "",
                             _cell(json.dumps(row.details, sort_keys=True, ensure_ascii=False))])
        last_id = rows[-1].id
        emitted += len(rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


def _cell(value: str) -> str:
    # A cell starting with = + - @ is a formula to spreadsheet software: neutralise it.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
