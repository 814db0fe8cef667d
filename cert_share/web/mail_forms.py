"""The form of /account/mail: one radio group per kind of mail the person's role chooses about
(mail/preferences.py), and the daily situation mail for CERT staff."""
from __future__ import annotations

from flask import request
from flask_babel import gettext
from wtforms import RadioField
from wtforms.validators import AnyOf

from ..mail import kinds, preferences
from .forms import Form


class MailPreferencesForm(Form):
    """Built per role (``for_role``): the fields are the kinds that role chooses about."""

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # A name the page does not offer is refused by name, not ignored: a client that posts
        # "critical-report" as a member admin is told it cannot choose that.
        self.unknown = sorted(name for name in request.form if name not in self._fields)
        return valid and not self.unknown

    def first_error(self) -> tuple[str, str | None]:
        """(message, field name) of the first thing wrong, in the page's order."""
        if self.csrf_token.errors:
            return _expired(), None
        if self.unknown:
            name = self.unknown[0][:40]
            offered = [field.name for field in self if field.name != "csrf_token"]
            return gettext("%(name)r is not a kind of mail you can choose; choose among %(offered)s",
                           name=name, offered=", ".join(offered)), name
        for field in self:
            if field.errors:
                return str(field.errors[0]), field.name
        return _expired(), None

    def choices(self) -> dict[str, str]:
        return {field.name: field.data for field in self if field.name != "csrf_token"}


def _expired() -> str:
    return gettext("the form expired; reload the page and try again")


def _choice(kind: str, modes: tuple[str, ...]) -> RadioField:
    return RadioField(kind, choices=list(modes), validate_choice=False,
                      validators=[AnyOf(modes, message=gettext("%(kind)s: choose one of %(modes)s",
                                                               kind=kind, modes=", ".join(modes)))])


def for_role(role: str) -> MailPreferencesForm:
    """The form for a person of ``role``, bound to the request's data (on a POST)."""
    fields = {kind: _choice(kind, preferences.modes_for(kind)) for kind in preferences.kinds_for(role)}
    if preferences.offers_situation(role):
        fields[kinds.SITUATION] = _choice(kinds.SITUATION, preferences.SITUATION_MODES)
    form_class = type("MailPreferencesForm", (MailPreferencesForm,), fields)
    return form_class()
