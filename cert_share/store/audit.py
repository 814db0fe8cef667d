"""The append-only record of who did what (the actor is cert_share.actor.Actor)."""
from __future__ import annotations

from sqlalchemy import insert

from ..actor import Actor
from ..database import DbSession
from ..models import AuditEntry

_INSERT = insert(AuditEntry.__table__)  # Core: the ORM-enabled form costs twice as much


def record(session: DbSession, actor: Actor, action: str, target_type: str | None = None,
           target_id: object = None, **details) -> None:
    """Write an audit row in the caller's transaction (committed with the change it records).

    An INSERT at once rather than an ORM object flushed later: nothing reads the row back in
    the transaction, and every report, poll and sign-in writes one."""
    session.execute(_INSERT, [{
        "actor": actor.label,
        "actor_user_id": actor.user.id if actor.user is not None else None,
        "actor_org_id": actor.org_id,
        "action": action,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "details": details,
        "remote_addr": actor.remote_addr,
    }])
