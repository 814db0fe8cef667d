"""Forms of the CERT workspace and administration pages (CSRF and rendering; the rules are
the services')."""
from __future__ import annotations

from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..limits import MAX_EMAIL, MAX_NAME, MAX_NOTE, MAX_PASSWORD, MAX_TOKEN_NAME
from ..models.user import ROLES
from ..params import MAX_ID
from ..vocab import INCIDENT_STATUS_LABELS, SECTORS, TLP_LEVELS, tlp_label
from .forms import Form


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TriageForm(Form):
    status = SelectField("Status", choices=list(INCIDENT_STATUS_LABELS.items()),
                         validate_choice=False)
    assignee = SelectField("Assignee", validate_choice=False)


class NoteForm(Form):
    note = TextAreaField("Internal note (never shared)", validators=[DataRequired(), Length(max=MAX_NOTE)],
                         render_kw={"rows": 3})


class CooperationForm(Form):
    countries = StringField("Partner countries (ISO codes, comma-separated)", validators=[Length(max=1000)],
                            render_kw={"placeholder": "FI, LV"})
    partner_certs = StringField("Partner CERTs contacted (comma-separated)", validators=[Length(max=5000)],
                                render_kw={"placeholder": "CERT-FI, CERT.LV"})


class MergeForm(Form):
    other = IntegerField("Report #", validators=[DataRequired(), NumberRange(min=1, max=MAX_ID)])
    action = SelectField("Action", choices=[("link", "Link as related"), ("merge", "Merge this report into it")],
                         validate_choice=False)


class CaseStaffForm(Form):
    """Who works on a case: assign it, or name or remove a member of staff (TLP:RED: its readers)."""
    user = SelectField("CERT staff member", validators=[DataRequired()])
    action = SelectField("Action", choices=[("name", "Name on this case"), ("assign", "Assign the case"),
                                            ("remove", "Take off this case")])


class WarningEditForm(Form):
    """The warning page's form: what the API's PATCH edits; saved, or saved and published.
    Lengths, TLP and targets are judged by early_warning.lifecycle (the API's rules)."""
    title = StringField("Title")
    description = TextAreaField("Description", render_kw={"rows": 4})
    recommended_action = TextAreaField("Recommended action", render_kw={"rows": 3})
    # The reviewer may lower or raise the TLP before publishing (the API's PATCH tlp, on the page).
    tlp = SelectField("TLP", choices=[(level, tlp_label(level)) for level in TLP_LEVELS],
                      validators=[Optional()], validate_choice=False)
    # Rendered in groups by the template (all members, sectors, organizations), not from choices.
    targets = MultiCheckbox("Publish to", validate_choice=False)


class WarningDiscardForm(Form):
    """Only the CSRF token."""


class OrganizationForm(Form):
    name = StringField("Name", validators=[DataRequired(), Length(max=MAX_NAME)])
    sector = SelectField("Sector (STIX)", choices=[(s, s) for s in SECTORS], validate_choice=False)
    country = StringField("Country (ISO code)", validators=[Optional(), Length(max=2)])
    kind = SelectField("Kind", choices=[("member", "member"), ("partner", "partner"), ("cert", "cert")],
                       validate_choice=False)
    contact_email = EmailField("Contact e-mail", validators=[Optional(), Length(max=MAX_EMAIL)])
    assets = TextAreaField("Assets (CIDR, AS number or domain; one per line)", render_kw={"rows": 3})


class AssetForm(Form):
    value = StringField("Asset (CIDR, AS number or domain)", validators=[DataRequired(), Length(max=255)])


class UserForm(Form):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=MAX_EMAIL)])
    name = StringField("Name", validators=[Optional(), Length(max=MAX_NAME)])
    org = SelectField("Organization", validate_choice=False)
    role = SelectField("Role", choices=[(r, r) for r in ROLES], validate_choice=False)
    password = PasswordField("Initial password", validators=[DataRequired(), Length(max=MAX_PASSWORD)])


class RoleForm(Form):
    role = SelectField("Role", choices=[(r, r) for r in ROLES], validate_choice=False)
    active = BooleanField("Active")


class TokenForm(Form):
    name = StringField("Token name", validators=[DataRequired(), Length(max=MAX_TOKEN_NAME)],
                       render_kw={"placeholder": "soc-pipeline"})
    org = SelectField("Organization", validate_choice=False)


class ConfirmForm(Form):
    """Only the CSRF token (revoke, reset two-factor)."""


class TotpCodeForm(Form):
    code = StringField("6-digit code", validators=[DataRequired(), Length(max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True})

