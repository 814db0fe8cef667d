"""Forms of the cooperation pages: a request opened from a case, an incoming request's
acknowledgement and answer (CSRF and rendering; the rules are services/cooperation.py's)."""
from __future__ import annotations

import json
from datetime import datetime

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import DateTimeLocalInput

from ..errors import InputError
from ..limits import MAX_COOPERATION_MESSAGE
from ..services.cooperation import NEVER_LEAVES, RequestInput
from ..vocab import COOPERATION_KIND_LABELS, TLP_LEVELS, strictest_tlp, tlp_label
from .forms import Form, at_most
from .staff_forms import CHOOSE
from .timezones import TIMEZONE_CHOICES, to_iso, valid_zone

# How each partner is reached; "TAXII" reads the same in every language.
CHANNEL_LABELS = {"taxii": "TAXII", "email": _l("e-mail"), None: _l("no channel set")}


class CooperationRequestForm(Form):
    """A request to partner CERTs from a case (cooperation.open_requests judges every value)."""

    partners = SelectMultipleField(_l("Partner CERTs"), validate_choice=False, render_kw={"size": 4})
    kind = SelectField(_l("Kind"), validate_choice=False,
                       choices=[CHOOSE, *((kind, _l(label)) for kind, label in COOPERATION_KIND_LABELS.items())])
    message = TextAreaField(_l("Message to the partner"), validators=[at_most(MAX_COOPERATION_MESSAGE)],
                            render_kw={"rows": 4})
    timezone = SelectField(_l("Time zone of the date below"), validate_choice=False, default="UTC")
    due_at = StringField(_l("Answer wanted by"), widget=DateTimeLocalInput())
    tlp = SelectField(_l("TLP of the request"), validate_choice=False)
    confirm_strict = BooleanField(_l("I confirm this may leave at TLP:AMBER+STRICT"))

    def offer(self, incident, partners) -> None:
        """Choices for this case: the active partners (with country and channel), and the TLP
        levels a request about this report may carry (as strict as the report or stricter, never
        RED); the report's TLP chosen when nothing was sent."""
        self.partners.choices = [
            (p.slug, gettext("%(partner)s — %(country)s (%(channel)s)", partner=p.name,
                             country=p.country or gettext("country not set"), channel=CHANNEL_LABELS[channel]))
            for p, channel in partners]
        self.timezone.choices = TIMEZONE_CHOICES
        self.tlp.choices = [(level, tlp_label(level)) for level in TLP_LEVELS
                            if level != NEVER_LEAVES and strictest_tlp([level, incident.tlp]) == level]
        if not self.tlp.data:
            self.tlp.data = incident.tlp

    def request_input(self) -> RequestInput:
        """The form as the service's input; InputError naming the field for a time zone or date
        the browser should not have sent."""
        zone = self.timezone.data or "UTC"
        if not valid_zone(zone):
            raise InputError(gettext("unknown time zone %(zone)r", zone=zone[:64]), field="timezone")
        text = to_iso(self.due_at.data or "", zone)
        if text is None:
            raise InputError(gettext("say by when the answer is wanted"), field="due_at")
        try:
            due_at = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(gettext("the date is not a date and time (YYYY-MM-DDTHH:MM)"), field="due_at") from None
        return RequestInput(partners=list(self.partners.data or []), kind=self.kind.data or "",
                            message=self.message.data or "", due_at=due_at, tlp=self.tlp.data or "",
                            confirm_strict=bool(self.confirm_strict.data))


STRICT_CONFIRMATION = _l("I confirm this may leave at TLP:AMBER+STRICT")


class AcknowledgeForm(Form):
    """The acknowledgement leaves at the request's TLP: AMBER+STRICT needs the box ticked."""

    confirm_strict = BooleanField(STRICT_CONFIRMATION)


class ResendForm(Form):
    """Only the CSRF token."""


class AnswerForm(Form):
    message = TextAreaField(_l("Answer to the partner"), validators=[at_most(MAX_COOPERATION_MESSAGE)],
                            render_kw={"rows": 5})
    objects = TextAreaField(_l("STIX 2.1 objects to attach (optional: a JSON list)"),
                            render_kw={"rows": 6, "spellcheck": "false", "autocapitalize": "off"})
    confirm_strict = BooleanField(STRICT_CONFIRMATION)

    def attached_objects(self) -> list | None:
        """The objects box as JSON; None when empty. InputError on the field when it is not a list."""
        text = (self.objects.data or "").strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise InputError(gettext("not valid JSON: %(error)s", error=exc), field="objects") from None
        if isinstance(value, dict) and value.get("type") == "bundle":
            value = value.get("objects")
        if not isinstance(value, list):
            raise InputError(gettext("give a JSON list of STIX objects: [ {...}, {...} ]"), field="objects")
        return value
