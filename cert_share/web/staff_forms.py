"""Forms of the CERT workspace and administration pages (CSRF and rendering; the rules are
the services')."""
from __future__ import annotations

from flask_wtf.file import FileField
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

from ..deadlines import REGIMES, regime_summary
from ..limits import (
    MAX_EMAIL,
    MAX_ENV_NAME,
    MAX_NAME,
    MAX_NOTE,
    MAX_PASSWORD,
    MAX_PGP_KEY,
    MAX_TOKEN_NAME,
    MAX_URL,
)
from ..models.user import ROLE_LABELS, ROLES, roles_for_kind
from ..params import MAX_ID
from ..vocab import INCIDENT_STATUS_LABELS, SECTOR_LABELS, SECTORS, TLP_LEVELS, countries, tlp_label
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


# A required choice starts here, so that a form sent without choosing says so next to the field
# instead of quietly taking the first option.
CHOOSE = ("", "— choose —")
SECTOR_CHOICES = [CHOOSE] + [(s, SECTOR_LABELS.get(s, s)) for s in SECTORS]
# Deadline regimes as an administrator reads them (their rules spelled out); none: the sector's.
REGIME_CHOICES = [("", "The sector's default")] + [(r, regime_summary(r)) for r in REGIMES]


def country_choices(empty: str = "— not set —") -> list[tuple[str, str]]:
    """ISO 3166-1 countries by name (rendered by _macros.big_select: hundreds of options)."""
    return [("", empty)] + sorted(countries().items(), key=lambda item: item[1])


def role_choices(kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    """The roles users of organizations of these kinds may have, "choose" first."""
    roles = [role for role in ROLES if any(role in roles_for_kind(kind) for kind in kinds)]
    return [CHOOSE] + [(role, ROLE_LABELS.get(role, role)) for role in roles]


class OrganizationEditForm(Form):
    """What an administrator may change on an organization (organizations.OrganizationDetails)."""

    name = StringField("Name", validators=[DataRequired(), Length(max=MAX_NAME)])
    sector = SelectField("Sector", choices=SECTOR_CHOICES, validators=[DataRequired("Choose a sector.")],
                         validate_choice=False)  # the service names a value that is not one
    country = SelectField("Country", validate_choice=False)  # choices: country_choices(), big_select
    contact_email = EmailField("Contact e-mail", validators=[Optional(), Length(max=MAX_EMAIL)])
    regime = SelectField("Reporting deadlines", choices=REGIME_CHOICES, validate_choice=False)


class OrganizationForm(OrganizationEditForm):
    kind = SelectField("Kind", choices=[("member", "Member"), ("partner", "Partner CERT abroad"),
                                        ("cert", "The operating CERT")], validate_choice=False)
    assets = TextAreaField("Assets (CIDR, AS number or domain; one per line)", render_kw={"rows": 3})


class DutyEmailForm(Form):
    """An organization's duty address (organizations.set_duty_email); empty removes it."""

    duty_email = EmailField("Duty address", validators=[Optional(), Length(max=MAX_EMAIL)])


class PartnerForm(Form):
    """A partner CERT's directory entry (partners.set_partner): the rules are the service's; a
    field left empty is cleared, a field not sent at all is left as it is."""

    country = StringField("Country (ISO 3166-1 code)", validators=[Length(max=10)],
                          render_kw={"placeholder": "FI", "autocomplete": "off"})
    contact = EmailField("24/7 contact address", validators=[Length(max=MAX_EMAIL)],
                         render_kw={"placeholder": "duty@cert.example"})
    taxii_url = StringField("TAXII 2.1 collection URL of its intake", validators=[Length(max=MAX_URL)],
                            render_kw={"placeholder": "https://taxii.cert.example/api1/collections/…/"})
    username_env = StringField("Environment variable with the TAXII username", validators=[Length(max=MAX_ENV_NAME)],
                               render_kw={"placeholder": "CERT_FI_TAXII_USER", "autocomplete": "off"})
    password_env = StringField("Environment variable with the TAXII password", validators=[Length(max=MAX_ENV_NAME)],
                               render_kw={"placeholder": "CERT_FI_TAXII_PASSWORD", "autocomplete": "off"})
    languages = StringField("Languages (ISO 639-1 codes, comma-separated)", validators=[Length(max=200)],
                            render_kw={"placeholder": "fi, en"})


class PartnerKeyForm(Form):
    """A partner CERT's OpenPGP key as a file (armored or binary); the rules are
    services/partner_mail.register_partner_key's (inspect_key)."""

    key = FileField("OpenPGP public key of its 24/7 contact address (.asc or .gpg file)",
                    render_kw={"accept": ".asc,.gpg,.pgp,.key,application/pgp-keys"})


class AssetForm(Form):
    value = StringField("Asset (CIDR, AS number or domain)", validators=[DataRequired(), Length(max=255)])


class MemberUserForm(Form):
    """A new account in the member-admin's own organization."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=MAX_EMAIL)])
    name = StringField("Name", validators=[Optional(), Length(max=MAX_NAME)])
    role = SelectField("Role", choices=role_choices(("member",)), validators=[DataRequired("Choose a role.")],
                       validate_choice=False)
    password = PasswordField("Initial password", validators=[DataRequired(), Length(max=MAX_PASSWORD)],
                             render_kw={"autocomplete": "new-password"})


class UserForm(MemberUserForm):
    """A new account in any organization (CERT administrators): the roles offered follow the
    organization's kind (rendered as groups, narrowed by admin.js)."""

    org = SelectField("Organization", validators=[DataRequired("Choose an organization.")], validate_choice=False)
    role = SelectField("Role", choices=role_choices(("member", "cert")), validators=[DataRequired("Choose a role.")],
                       validate_choice=False)


class RoleForm(Form):
    role = SelectField("Role", choices=role_choices(("member", "cert")), validate_choice=False)
    active = BooleanField("Active")


class TokenForm(Form):
    name = StringField("Token name", validators=[DataRequired(), Length(max=MAX_TOKEN_NAME)],
                       render_kw={"placeholder": "soc-pipeline"})
    org = SelectField("Organization", validate_choice=False)


class ConfirmForm(Form):
    """Only the CSRF token (revoke, reset two-factor)."""


class PgpKeyForm(Form):
    key = TextAreaField("Your OpenPGP public key", validators=[DataRequired(), Length(max=MAX_PGP_KEY)],
                        render_kw={"rows": 10, "spellcheck": "false", "autocomplete": "off"})


class TotpCodeForm(Form):
    code = StringField("6-digit code", validators=[DataRequired(), Length(max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True})

