"""Flask-WTF forms: CSRF and rendering only.

The incident and phase-update forms carry no validation rules of their own: the views turn them
into the API's input dict and validate with the same marshmallow schemas, so a report is judged
identically whichever channel it comes through (see ``incident_input``).
"""
from __future__ import annotations

import uuid

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length
from wtforms.widgets import DateTimeLocalInput

from ..limits import MAX_EMAIL, MAX_PASSWORD, MAX_TITLE
from ..vocab import RSIT, RSIT_LABELS, RSIT_TYPE_LABELS, SEVERITIES, TLP_LEVELS, countries, tlp_label
from .timezones import TIMEZONE_CHOICES

# What each level means for a reporter, shown beside the choice (the levels themselves: vocab).
_TLP_MEANING = {
    "clear": "No limit on disclosure; may appear in public statistics.",
    "green": "May be shared with every member organization of the community.",
    "amber": "Need to know only: by default the organizations of the sector concerned.",
    "amber+strict": "Only your organization and the CERT.",
    "red": "Only your organization and the CERT staff named on the case (its assignee and the "
           "staff the duty officer names); other CERT staff see only that a report exists, not what "
           "it says. Never published.",
}
TLP_CHOICES = [(level, tlp_label(level), _TLP_MEANING[level]) for level in TLP_LEVELS]


class Form(FlaskForm):
    """Every page's form: a field holding a NUL character fails, with the error next to it.
    PostgreSQL refuses NUL in any text value, so one that reached a query would be a 500."""

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            values = field.data if isinstance(field.data, list) else [field.data]
            if any(isinstance(v, str) and "\x00" in v for v in values):
                field.errors = [*field.errors, "contains a NUL character"]
                valid = False
        return valid


def classification_choices() -> dict[str, list[tuple[str, str]]]:
    """RSIT as <optgroup>s: class label -> [(class/type, type label)]."""
    return {RSIT_LABELS[cls]: [(f"{cls}/{typ}", RSIT_TYPE_LABELS[f"{cls}/{typ}"]) for typ in types]
            for cls, types in RSIT.items()}


class LoginForm(Form):
    email = EmailField("E-mail address", validators=[DataRequired(), Length(max=MAX_EMAIL)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD)],
                             render_kw={"autocomplete": "current-password"})


class LogoutForm(Form):
    """Only the CSRF token: signing out is a POST."""


class PasswordChangeForm(Form):
    """The policy for the new password is users.check_password_strength, as at creation."""

    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=MAX_PASSWORD)],
                                     render_kw={"autocomplete": "current-password", "autofocus": True})
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=MAX_PASSWORD)],
                                 render_kw={"autocomplete": "new-password"})
    confirm_password = PasswordField("New password again", validators=[DataRequired(), Length(max=MAX_PASSWORD)],
                                     render_kw={"autocomplete": "new-password"})


class IncidentForm(Form):
    title = StringField("Title", render_kw={"maxlength": MAX_TITLE, "required": True})
    description = TextAreaField("Description", render_kw={"rows": 5})
    classification = SelectField("Classification (ENISA RSIT)", validate_choice=False)
    severity = SelectField("Severity", validate_choice=False,
                           choices=[("", "— choose —")] + [(s, s.capitalize()) for s in SEVERITIES])
    tlp = RadioField("Traffic Light Protocol", validate_choice=False, default="amber",
                     choices=[(value, label) for value, label, _ in TLP_CHOICES])
    timezone = SelectField("Time zone of the times below", validate_choice=False, default="UTC")
    detected_at = StringField("Detected at", widget=DateTimeLocalInput())
    started_at = StringField("Started at", widget=DateTimeLocalInput())
    classified_at = StringField("Classified at", widget=DateTimeLocalInput())
    affected_services = TextAreaField("Affected services", render_kw={"rows": 2})
    impact = TextAreaField("Impact", render_kw={"rows": 3})
    observables = TextAreaField("Observables, one per line",
                                render_kw={"rows": 6, "spellcheck": "false", "autocapitalize": "off"})
    cross_border = SelectMultipleField("Other countries affected", validate_choice=False,
                                       render_kw={"size": 6})
    personal_data = BooleanField("Personal data is involved")
    share_reporter = BooleanField("Share our organization's identity with other members")
    # One id per filled-in form, sent as the report's external_id: a double click or a resent
    # POST finds the first report instead of filing a second one.
    submission_id = HiddenField()
    # Shown only to an organization taking part in an open exercise (the view sets the choices);
    # the default, "", is a real report.
    exercise_id = SelectField("Exercise (drill)", validate_choice=False, default="")
    exercise_inject = StringField("Inject answered (its number; optional)",
                                  render_kw={"inputmode": "numeric", "maxlength": 10})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Rendered by the template as <optgroup>s (classification_choices); the schema validates.
        self.classification.choices = [("", "")] + [c for group in classification_choices().values() for c in group]
        self.timezone.choices = TIMEZONE_CHOICES
        self.cross_border.choices = sorted(countries().items(), key=lambda item: item[1])
        if not self.submission_id.data:
            self.submission_id.data = f"web-{uuid.uuid4()}"


class PhaseUpdateForm(Form):
    # Choices depend on the report's regime and deadlines: the detail view sets them.
    phase = SelectField("Phase", validate_choice=False)
    summary = TextAreaField("Summary", render_kw={"rows": 4})
