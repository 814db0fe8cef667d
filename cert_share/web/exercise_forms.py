"""Forms of the drills' pages: a new exercise with its scenario of injects, and the buttons of an
exercise's pages (CSRF and rendering; the rules are services/exercises.py's, as the API's).

The scenario is a fixed number of inject fieldsets (more come back when a form sent with more is
shown again); a fieldset left blank is no inject. Observables are typed one per line as on the
report form and recognised the same way, so an error names the line.
"""
from __future__ import annotations

import re

from flask import request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms import Form as SubForm
from wtforms.widgets import DateTimeLocalInput

from ..limits import MAX_EXERCISE_INJECTS
from ..vocab import (
    EXERCISE_EXPECT_LABELS,
    EXERCISE_EXPECTS,
    EXERCISE_INJECT_KIND_LABELS,
    EXERCISE_INJECT_KINDS,
    EXERCISE_TLP_LEVELS,
    SECTOR_LABELS,
    SECTORS,
    tlp_label,
)
from .forms import Form
from .incident_input import observable_lines
from .staff_forms import MultiCheckbox
from .timezones import TIMEZONE_CHOICES, to_iso, valid_zone

INJECT_FIELDSETS = 6  # shown on a new form; blank ones are ignored
_INJECT_KEY = re.compile(r"injects-(\d{1,3})-")
_TEXT_PARTS = ("offset_minutes", "title", "description", "observables", "partner_name")


class InjectFieldset(SubForm):
    """One inject of the scenario (no CSRF of its own: it is part of the exercise's form)."""

    offset_minutes = StringField(_l("Minutes after the start"), render_kw={"inputmode": "numeric"})
    kind = SelectField(_l("Kind"), choices=[(k, _l(EXERCISE_INJECT_KIND_LABELS[k])) for k in EXERCISE_INJECT_KINDS],
                       validate_choice=False)
    title = StringField(_l("Title (\"[EXERCISE]\" is added)"))
    description = TextAreaField(_l("Description"), render_kw={"rows": 3})
    observables = TextAreaField(_l("Observables, one per line"),
                                render_kw={"rows": 3, "spellcheck": "false", "autocapitalize": "off"})
    tlp = SelectField(_l("TLP"), choices=[(level, tlp_label(level)) for level in EXERCISE_TLP_LEVELS],
                      default="green", validate_choice=False)
    expect = SelectField(_l("Response expected"),
                         choices=[(e, _l(EXERCISE_EXPECT_LABELS[e])) for e in EXERCISE_EXPECTS],
                         validate_choice=False)
    partner_name = StringField(_l("Fictitious partner CERT (cooperation requests)"))

    def is_blank(self) -> bool:
        return not any((getattr(self, name).data or "").strip() for name in _TEXT_PARTS)


class ExerciseForm(Form):
    name = StringField(_l("Name"))
    description = TextAreaField(_l("Description"), render_kw={"rows": 3})
    participants = SelectMultipleField(_l("Member organizations taking part"), validate_choice=False,
                                       render_kw={"size": 8})
    sectors = MultiCheckbox(_l("Every active member of these sectors"), validate_choice=False,
                            choices=[(s, _l(SECTOR_LABELS.get(s, s))) for s in SECTORS])
    timezone = SelectField(_l("Time zone of the times below"), validate_choice=False, default="UTC")
    starts_at = StringField(_l("Starts at"), widget=DateTimeLocalInput())
    ends_at = StringField(_l("Ends at (optional: midnight UTC at least a day after the last inject)"),
                          widget=DateTimeLocalInput())
    confirm_real_values = BooleanField(_l("I confirm observables outside the documentation ranges "
                                          "(real addresses, domains, numbers) may go out in this drill"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The fieldsets by their own numbers (injects-<n>-title): fieldset 2 stays fieldset 2 when
        # fieldset 1 was left blank. As many as were sent, at least INJECT_FIELDSETS.
        formdata = request.form if request.method == "POST" else None
        sent = {int(match.group(1)) for key in (formdata or {})
                if (match := _INJECT_KEY.match(key)) and int(match.group(1)) < MAX_EXERCISE_INJECTS}
        count = max(INJECT_FIELDSETS, max(sent, default=-1) + 1)
        self.inject_sets = [InjectFieldset(formdata, prefix=f"injects-{n}-") for n in range(count)]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for fieldset in self.inject_sets:
            for field in fieldset:
                if isinstance(field.data, str) and "\x00" in field.data:
                    field.errors = [*field.errors, gettext("contains a NUL character")]
                    valid = False
        return valid

    def offer(self, organizations) -> None:
        """The member organizations to choose from, by name."""
        self.participants.choices = [(o.slug, f"{o.name} ({gettext(SECTOR_LABELS.get(o.sector, o.sector))})")
                                     for o in organizations]
        self.timezone.choices = TIMEZONE_CHOICES

    def exercise_input(self) -> tuple[dict, list[int], dict[str, list[str]]]:
        """The form as the API's body: (body, the fieldset index of each inject sent, errors the
        form finds itself by field name: a time zone, a date, an offset, an observable line)."""
        errors: dict[str, list[str]] = {}
        zone = self.timezone.data or "UTC"
        if not valid_zone(zone):
            errors.setdefault("timezone", []).append(gettext("unknown time zone %(zone)r", zone=zone[:64]))
            zone = "UTC"
        body: dict = {"name": self.name.data or "", "description": self.description.data or "",
                      "participants": list(self.participants.data or []), "sectors": list(self.sectors.data or []),
                      "confirm_real_values": bool(self.confirm_real_values.data), "injects": []}
        for name in ("starts_at", "ends_at"):
            value = to_iso(getattr(self, name).data or "", zone)
            if value is not None:
                body[name] = value
        used: list[int] = []
        for index, fieldset in enumerate(self.inject_sets):
            if fieldset.is_blank():
                continue
            prefix = f"injects-{index}-"
            inject = {"kind": fieldset.kind.data or "", "title": fieldset.title.data or "",
                      "description": fieldset.description.data or "", "tlp": fieldset.tlp.data or "",
                      "expect": fieldset.expect.data or ""}
            offset = (fieldset.offset_minutes.data or "").strip()
            if not offset:
                errors.setdefault(prefix + "offset_minutes", []).append(
                    gettext("say how many minutes after the start"))
            elif not (offset.isascii() and offset.isdigit() and len(offset) <= 9):
                errors.setdefault(prefix + "offset_minutes", []).append(
                    gettext("a whole number of minutes (0 or more)"))
            else:
                inject["offset_minutes"] = int(offset)
            observables, _lines, line_errors = observable_lines(fieldset.observables.data or "")
            if line_errors:
                errors.setdefault(prefix + "observables", []).extend(line_errors[:20])
            inject["observables"] = observables
            if (fieldset.partner_name.data or "").strip():
                inject["partner_name"] = fieldset.partner_name.data.strip()
            body["injects"].append(inject)
            used.append(index)
        return body, used, errors

    def field_by_name(self, name: str):
        """A field by its form name (``injects-2-title``), None when there is none."""
        if name.startswith("injects-"):
            _, index, part = name.split("-", 2)
            sets = self.inject_sets
            if index.isdigit() and int(index) < len(sets) and part in sets[int(index)]._fields:
                return sets[int(index)][part]
            return None
        return self._fields.get(name) if name != "csrf_token" else None


class ExerciseActionForm(Form):
    """Only the CSRF token: acknowledge, close, delete."""
