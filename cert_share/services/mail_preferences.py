"""A person's own choices about alert mail (which kinds, at once or in the digest, the daily
situation mail for CERT staff); what each role gets by default is mail/preferences.py's."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..actor import Actor
from ..database import DbSession
from ..mail import preferences
from ..models import User
from ..store import audit


def set_own_preferences(session: DbSession, user: User, submitted: Mapping[str, Any], *, actor: Actor) -> dict:
    """Store the person's choices (every kind their role chooses about, each with a mode; an
    InputError names the first that is not); audited, commits. Returns what changed."""
    chosen = preferences.checked(user.role, submitted)
    before = preferences.effective(user)
    changes = {kind: {"from": before.get(kind), "to": mode} for kind, mode in chosen.items()
               if before.get(kind) != mode}
    user.mail_prefs = chosen
    if changes:
        audit.record(session, actor, "user.mail_preferences", "user", user.id, **changes)
    session.commit()
    return changes
