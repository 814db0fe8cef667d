"""Writing to the outbox, and the questions people ask about it.

``enqueue`` only adds a row to the caller's session: the alert commits or rolls back with the
event that caused it (a transactional outbox). Delivery happens later in ``send-mail``.
Callers decide *what* a recipient may read (policy); this module only refuses malformed input,
puts the TLP label in the subject, applies the recipient's mail preferences (mail/preferences.py)
and the per-recipient hourly cap.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import cast
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, delete, func, select

from ..clock import utcnow
from ..config import setting
from ..database import DbSession
from ..errors import InputError, NotFound
from ..models import Organization, OutboxMessage, User
from ..models.user import MEMBER_ROLES
from ..store.audit import record
from ..store.rows import add_unless_exists
from ..vocab import TLP_LEVELS, OutboxState, tlp_label
from . import kinds, preferences

UNCAPPED_KINDS = kinds.UNCAPPED  # never held back by the cap (mail/kinds.py says why)
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$|^[^@\s<>,;\"]+@localhost$")


def new_message_id() -> str:
    """A Message-ID fixed at enqueue time, so a retried delivery carries the same one."""
    return f"<{uuid.uuid4()}@{message_id_domain()}>"


def message_id_domain() -> str:
    """The right-hand side of our Message-IDs: a domain the CERT holds, so that they are unique
    worldwide (RFC 5322 3.6.4) and spam filters see a real one. MAIL_FROM's domain; when that is
    localhost (the default) or has no dot, BASE_URL's host."""
    domain = parseaddr(setting("MAIL_FROM"))[1].rpartition("@")[2].strip().rstrip(".").lower()
    if "." in domain and not domain.endswith(".localhost"):
        return _ascii_domain(domain)
    host = urlsplit(setting("BASE_URL")).hostname
    if host:
        return f"[{host}]" if ":" in host else _ascii_domain(host)  # an IPv6 address as a literal
    return _ascii_domain(domain) if domain else "localhost"


def _ascii_domain(domain: str) -> str:
    # A header's Message-ID is ASCII: an internationalised domain in its A-label form.
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain.encode("ascii", "ignore").decode("ascii") or "localhost"


def tlp_subject(subject: str, tlp: str | None) -> str:
    """Put the TLP label first in the subject, as mail clients show it in the list."""
    subject = " ".join(subject.split())  # no CR/LF: no header injection, no folding surprises
    if tlp is None:
        return subject
    label = f"[{tlp_label(tlp)}]"
    return subject if subject.startswith(label) else f"{label} {subject}"


def enqueue(session: DbSession, *, to: str, subject: str, text: str, html: str | None = None,
            tlp: str | None = None, kind: str, dedupe_key: str | None = None,
            actor_user_id: int | None = None, now: datetime | None = None,
            hourly_cap: int | None = None, recipient_user_id: int | None = None,
            action_url: str | None = None, recipient_org_id: int | None = None,
            attachments: list[dict] | None = None, exercise_id: int | None = None) -> OutboxMessage | None:
    """Add one message to the caller's transaction (no commit).

    Returns None when nothing is queued: the dedupe key was used before, the recipient is the
    user whose action caused the mail (nobody is told about their own actions), or the recipient
    (``recipient_user_id``) turned this kind off. A kind they chose to get in the digest waits
    for it (state DIGEST), as a message over the hourly cap does. ``recipient_org_id`` names the
    partner CERT whose contact address ``to`` is (delivery encrypts to its key); ``attachments``
    are text files sent with the message: [{"filename", "content_type", "content"}];
    ``exercise_id`` names the drill a message belongs to (deleting the exercise deletes its mail).
    """
    now = now or utcnow()
    to = (to or "").strip()
    _check_message(to=to, subject=subject, text=text, tlp=tlp, kind=kind, dedupe_key=dedupe_key)
    _check_attachments(attachments)
    if tlp is not None:
        tlp = tlp.lower()
    if _needless(session, to=to, actor_user_id=actor_user_id, dedupe_key=dedupe_key):
        return None
    mode = _recipients_choice(session, recipient_user_id, kind)
    if mode == preferences.OFF:
        return None

    state = OutboxState.PENDING
    if kind not in UNCAPPED_KINDS and (
            mode == preferences.DIGEST or _sent_last_hour(session, to, now) >= _cap(hourly_cap)):
        state = OutboxState.DIGEST
    message = OutboxMessage(
        to=to, subject=tlp_subject(subject, tlp)[:998], text=text, html=html, tlp=tlp, kind=kind,
        state=state, attempts=0, next_attempt_at=now, message_id=new_message_id(),
        dedupe_key=dedupe_key, actor_user_id=actor_user_id, created_at=now,
        recipient_user_id=recipient_user_id, action_url=action_url, recipient_org_id=recipient_org_id,
        attachments=attachments or None, exercise_id=exercise_id,
    )
    if dedupe_key is None:
        session.add(message)
        return message
    # A concurrent transaction may hold the same key: the unique constraint says "already queued".
    return message if add_unless_exists(session, message) else None


def _check_message(*, to: str, subject: str, text: str, tlp: str | None, kind: str,
                   dedupe_key: str | None) -> None:
    """InputError naming the first field a message cannot be queued with."""
    if not _ADDRESS.match(to) or len(to) > 254:
        raise InputError(f"not a valid e-mail address: {to!r}", field="to")
    if not subject or not subject.strip():
        raise InputError("an e-mail needs a subject", field="subject")
    if not text or not text.strip():
        raise InputError("an e-mail needs a plain-text body", field="text")
    if tlp is not None and tlp.lower() not in TLP_LEVELS:
        raise InputError(f"unknown TLP level {tlp.lower()!r}; use one of {', '.join(TLP_LEVELS)}", field="tlp")
    if not kind or len(kind) > 32:
        raise InputError("kind must be a short name such as 'critical-report' or 'digest'", field="kind")
    if dedupe_key is not None and len(dedupe_key) > 255:
        raise InputError("dedupe_key is longer than 255 characters", field="dedupe_key")


def _check_attachments(attachments: list[dict] | None) -> None:
    """InputError unless each attachment is a named text file with a MIME type."""
    for index, item in enumerate(attachments or ()):
        if not isinstance(item, dict) or set(item) != {"filename", "content_type", "content"} \
                or not all(isinstance(item[name], str) and item[name] for name in ("filename", "content_type")) \
                or not isinstance(item["content"], str):
            raise InputError(f"attachments[{index}] is not {{filename, content_type, content}} as text",
                             field="attachments")
        if "/" not in item["content_type"] or any(c in item["filename"] for c in '/\\"\r\n'):
            raise InputError(f"attachments[{index}]: a MIME type and a plain file name", field="attachments")


def _needless(session: DbSession, *, to: str, actor_user_id: int | None, dedupe_key: str | None) -> bool:
    """True when the recipient caused the mail themselves, or a message with this dedupe key was
    queued before."""
    if actor_user_id is not None:
        actor_email = session.execute(select(User.email).where(User.id == actor_user_id)).scalar_one_or_none()
        if actor_email is not None and actor_email.lower() == to.lower():
            return True
    return dedupe_key is not None and session.execute(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first() is not None


def _recipients_choice(session: DbSession, recipient_user_id: int | None, kind: str) -> str:
    """How the recipient chose to get this kind (preferences.choice); 'now' for an address that
    is no person's (a duty address) and for kinds nobody chooses about."""
    if recipient_user_id is None:
        return preferences.NOW
    user = session.get(User, recipient_user_id)
    return preferences.NOW if user is None else preferences.choice(user, kind)


def _cap(hourly_cap: int | None) -> int:
    if hourly_cap is not None:
        return hourly_cap
    return int(setting("MAIL_HOURLY_CAP"))


def _sent_last_hour(session: DbSession, to: str, now: datetime) -> int:
    """Messages to this address queued for immediate delivery in the last hour."""
    return session.execute(
        select(func.count(OutboxMessage.id)).where(
            func.lower(OutboxMessage.to) == to.lower(),
            OutboxMessage.created_at > now - timedelta(hours=1),
            OutboxMessage.state.in_((OutboxState.PENDING, OutboxState.SENDING, OutboxState.SENT, OutboxState.DEAD)),
            OutboxMessage.kind.not_in(tuple(UNCAPPED_KINDS)),
        )
    ).scalar_one()


def member_recipients(session: DbSession, org_id: int, kind: str) -> list[User]:
    """The people of an active member organization who get ``kind`` in some form (by their
    choice or their role's default: member-admins, and analysts who asked), by address."""
    people = session.execute(
        select(User).join(Organization, Organization.id == User.org_id)
        .where(User.org_id == org_id, User.role.in_(MEMBER_ROLES), User.active.is_(True),
               Organization.active.is_(True)).order_by(User.email)).scalars()
    return [user for user in people if preferences.wants(user, kind)]


def dead_letters(session: DbSession, limit: int = 200, *, drills: bool = True) -> list[OutboxMessage]:
    """Messages that will not be delivered (permanent rejection or attempts exhausted), newest first;
    ``drills=False`` leaves out an exercise's mail (the operations page never shows a drill)."""
    query = select(OutboxMessage).where(OutboxMessage.state == OutboxState.DEAD)
    if not drills:
        query = query.where(OutboxMessage.exercise_id.is_(None))
    return list(session.execute(query.order_by(OutboxMessage.id.desc()).limit(limit)).scalars())


def requeue_dead(session: DbSession, message_id: int, *, actor, now: datetime | None = None) -> OutboxMessage:
    """Give a dead letter another chance (e.g. after the mailbox was fixed); audited, in the
    caller's transaction (services/operations.requeue_dead_letter commits it)."""
    message = session.get(OutboxMessage, message_id)
    if message is None or message.state != OutboxState.DEAD:
        raise NotFound(f"no dead letter with id {message_id}")
    record(session, actor, "mail.requeue", "outbox", message.id, to=message.to, last_error=message.last_error)
    message.state = OutboxState.PENDING
    message.attempts = 0
    message.next_attempt_at = now or utcnow()
    message.lease_until = None
    message.claimed_by = None
    return message


def prune_delivered(session: DbSession, *, now: datetime, retention: timedelta, limit: int = 5_000) -> int:
    """Delete up to ``limit`` sent or folded messages last touched before ``now - retention``;
    commits. Pending, in-flight and dead messages stay (a dead letter waits for a person).

    ``next_attempt_at`` is a sent message's last attempt and a folded one's queueing time, and
    the due-messages index starts with (state, next_attempt_at): a range scan, not a pass over
    the whole outbox every minute. A dedupe key stops protecting against a resend once its row is
    gone, so the retention must exceed any re-queue window (days, not months, here)."""
    table = OutboxMessage.__table__
    old = (select(table.c.id)
           .where(table.c.state.in_((OutboxState.SENT, OutboxState.FOLDED)), table.c.next_attempt_at < now - retention)
           .limit(limit).scalar_subquery())
    # A DELETE's result is a CursorResult, which Session.execute's annotation does not say.
    deleted = cast(CursorResult, session.execute(delete(table).where(table.c.id.in_(old)))).rowcount
    session.commit()
    return deleted

