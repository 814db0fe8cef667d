"""Flask-WTF forms: CSRF and rendering only.

The incident and phase-update forms carry no validation rules of their own: the views turn them
into the API's input dict and validate with the same marshmallow schemas, so a report is judged
identically whichever channel it comes through (see ``incident_input``).
"""
from __future__ import annotations

import unicodedata
import uuid

from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l
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

from .. import i18n
from ..limits import MAX_EMAIL, MAX_PASSWORD, MAX_TITLE
from ..vocab import (
    RSIT,
    RSIT_LABELS,
    RSIT_TYPE_LABELS,
    SEVERITIES,
    SEVERITY_LABELS,
    TLP_LEVELS,
    countries,
    tlp_label,
)
from .timezones import TIMEZONE_CHOICES

# What each level means for a reporter, shown beside the choice (the levels themselves: vocab;
# their labels, TLP:AMBER, read the same in every language).
_TLP_MEANING = {
    "clear": _l("No limit on disclosure; may appear in public statistics."),
    "green": _l("May be shared with every member organization of the community."),
    "amber": _l("Need to know only: by default the organizations of the sector concerned."),
    "amber+strict": _l("Only your organization and the CERT."),
    "red": _l("Only your organization and the CERT staff named on the case (its assignee and the "
              "staff the duty officer names); other CERT staff see only that a report exists, not what "
              "it says. Never published."),
}
TLP_CHOICES = [(level, tlp_label(level), _TLP_MEANING[level]) for level in TLP_LEVELS]


def required() -> DataRequired:
    """DataRequired saying WTForms' own words in the reader's language (WTForms has no Vietnamese)."""
    return DataRequired(message=_l("This field is required."))


def at_most(limit: int) -> Length:
    """Length(max=limit), its message (WTForms' own) in the reader's language."""
    return Length(max=limit, message=_l("Field cannot be longer than %(max)d characters."))


class Form(FlaskForm):
    """Every page's form: a field holding a NUL character fails, with the error next to it.
    PostgreSQL refuses NUL in any text value, so one that reached a query would be a 500."""

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            values = field.data if isinstance(field.data, list) else [field.data]
            if any(isinstance(v, str) and "\x00" in v for v in values):
                field.errors = [*field.errors, gettext("contains a NUL character")]
                valid = False
        return valid


def classification_choices() -> dict[LazyString, list[tuple[str, LazyString]]]:
    """RSIT as <optgroup>s: class label -> [(class/type, type label)]. The labels are lazy: they
    read in the language of the page that shows them (the template global is built once)."""
    return {_l(RSIT_LABELS[cls]): [(f"{cls}/{typ}", _l(RSIT_TYPE_LABELS[f"{cls}/{typ}"])) for typ in types]
            for cls, types in RSIT.items()}


def country_choices() -> list[tuple[str, str]]:
    """Countries by their name in the reader's language (CLDR), in the order a reader of it looks
    for them (Đức among the D's); in English pycountry's names, sorted as they always were."""
    english = countries()
    if i18n.current_locale() == i18n.SOURCE_LOCALE:
        return sorted(english.items(), key=lambda item: item[1])
    named = [(code, i18n.territory_name(code) or name) for code, name in english.items()]
    return sorted(named, key=lambda item: _plain(item[1]))


def _plain(name: str) -> str:
    """A name without its diacritics, for sorting: "Đan Mạch" -> "dan mach"."""
    decomposed = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


class LoginForm(Form):
    email = EmailField(_l("E-mail address"), validators=[required(), at_most(MAX_EMAIL)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[required(), at_most(MAX_PASSWORD)],
                             render_kw={"autocomplete": "current-password"})


class LogoutForm(Form):
    """Only the CSRF token: signing out is a POST."""


class PasswordChangeForm(Form):
    """The policy for the new password is users.check_password_strength, as at creation."""

    current_password = PasswordField(_l("Current password"),
                                     validators=[required(), at_most(MAX_PASSWORD)],
                                     render_kw={"autocomplete": "current-password", "autofocus": True})
    new_password = PasswordField(_l("New password"), validators=[required(), at_most(MAX_PASSWORD)],
                                 render_kw={"autocomplete": "new-password"})
    confirm_password = PasswordField(_l("New password again"),
                                     validators=[required(), at_most(MAX_PASSWORD)],
                                     render_kw={"autocomplete": "new-password"})


class IncidentForm(Form):
    title = StringField(_l("Title"), render_kw={"maxlength": MAX_TITLE, "required": True})
    description = TextAreaField(_l("Description"), render_kw={"rows": 5})
    classification = SelectField(_l("Classification (ENISA RSIT)"), validate_choice=False)
    severity = SelectField(_l("Severity"), validate_choice=False,
                           choices=[("", _l("— choose —"))] + [(s, _l(SEVERITY_LABELS[s])) for s in SEVERITIES])
    tlp = RadioField(_l("Traffic Light Protocol"), validate_choice=False, default="amber",
                     choices=[(value, label) for value, label, _ in TLP_CHOICES])
    timezone = SelectField(_l("Time zone of the times below"), validate_choice=False, default="UTC")
    detected_at = StringField(_l("Detected at"), widget=DateTimeLocalInput())
    started_at = StringField(_l("Started at"), widget=DateTimeLocalInput())
    classified_at = StringField(_l("Classified at"), widget=DateTimeLocalInput())
    affected_services = TextAreaField(_l("Affected services"), render_kw={"rows": 2})
    impact = TextAreaField(_l("Impact"), render_kw={"rows": 3})
    observables = TextAreaField(_l("Observables, one per line"),
                                render_kw={"rows": 6, "spellcheck": "false", "autocapitalize": "off"})
    cross_border = SelectMultipleField(_l("Other countries affected"), validate_choice=False,
                                       render_kw={"size": 6})
    personal_data = BooleanField(_l("Personal data is involved"))
    share_reporter = BooleanField(_l("Share our organization's identity with other members"))
    # One id per filled-in form, sent as the report's external_id: a double click or a resent
    # POST finds the first report instead of filing a second one.
    submission_id = HiddenField()
    # Shown only to an organization taking part in an open exercise (the view sets the choices);
    # the default, "", is a real report.
    exercise_id = SelectField(_l("Exercise (drill)"), validate_choice=False, default="")
    exercise_inject = StringField(_l("Inject answered (its number; optional)"),
                                  render_kw={"inputmode": "numeric", "maxlength": 10})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Rendered by the template as <optgroup>s (classification_choices); the schema validates.
        self.classification.choices = [("", "")] + [c for group in classification_choices().values() for c in group]
        self.timezone.choices = TIMEZONE_CHOICES
        self.cross_border.choices = country_choices()
        if not self.submission_id.data:
            self.submission_id.data = f"web-{uuid.uuid4()}"


class PhaseUpdateForm(Form):
    # Choices depend on the report's regime and deadlines: the detail view sets them.
    phase = SelectField(_l("Phase"), validate_choice=False)
    summary = TextAreaField(_l("Summary"), render_kw={"rows": 4})
