"""A person's own language for the web pages and their alert mail (i18n.select_locale reads it
first, then the browser's Accept-Language, then DEFAULT_LOCALE)."""
from __future__ import annotations

from flask_babel import gettext

from .. import i18n
from ..actor import Actor
from ..database import DbSession
from ..errors import InputError
from ..models import User
from ..store import audit


def set_locale(session: DbSession, user: User, value: str | None, *, actor: Actor) -> bool:
    """Store ``value`` as the person's language: one of i18n.available_locales() exactly, or
    empty/None for automatic (their browser's). Anything else is refused (InputError on the
    field ``locale``) and nothing is stored. Audited when it changes; commits. Returns whether
    it changed."""
    code = value or None
    if code is not None and code not in i18n.available_locales():
        raise InputError(gettext("%(value)r is not a language offered here; choose one of %(choices)s",
                                 value=str(code)[:40], choices=", ".join(i18n.available_locales())),
                         field="locale")
    before = user.locale
    if before == code:
        return False
    user.locale = code
    audit.record(session, actor, "user.locale", "user", user.id, **{"from": before, "to": code})
    session.commit()
    return True
