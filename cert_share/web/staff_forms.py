"""Forms of the CERT workspace and administration pages (CSRF and rendering; the rules are
the services')."""
from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
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
from wtforms.validators import DataRequired, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from .. import i18n
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
from .forms import Form, at_most, required


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TriageForm(Form):
    status = SelectField(_l("Status"), choices=[(value, _l(label)) for value, label in INCIDENT_STATUS_LABELS.items()],
                         validate_choice=False)
    assignee = SelectField(_l("Assignee"), validate_choice=False)


class NoteForm(Form):
    note = TextAreaField(_l("Internal note (never shared)"), validators=[required(), at_most(MAX_NOTE)],
                         render_kw={"rows": 3})


class CooperationForm(Form):
    countries = StringField(_l("Partner countries (ISO codes, comma-separated)"), validators=[at_most(1000)],
                            render_kw={"placeholder": "FI, LV"})
    partner_certs = StringField(_l("Partner CERTs contacted (comma-separated)"), validators=[at_most(5000)],
                                render_kw={"placeholder": "CERT-FI, CERT.LV"})


class MergeForm(Form):
    other = IntegerField(_l("Report #"), validators=[
        required(), NumberRange(min=1, max=MAX_ID, message=_l("Number must be between %(min)s and %(max)s."))])
    action = SelectField(_l("Action"), choices=[("link", _l("Link as related")),
                                                ("merge", _l("Merge this report into it"))],
                         validate_choice=False)


class CaseStaffForm(Form):
    """Who works on a case: assign it, or name or remove a member of staff (TLP:RED: its readers)."""
    user = SelectField(_l("CERT staff member"), validators=[required()])
    action = SelectField(_l("Action"), choices=[("name", _l("Name on this case")), ("assign", _l("Assign the case")),
                                                ("remove", _l("Take off this case"))])


class WarningEditForm(Form):
    """The warning page's form: what the API's PATCH edits; saved, or saved and published.
    Lengths, TLP and targets are judged by early_warning.lifecycle (the API's rules)."""
    title = StringField(_l("Title"))
    description = TextAreaField(_l("Description"), render_kw={"rows": 4})
    recommended_action = TextAreaField(_l("Recommended action"), render_kw={"rows": 3})
    # The reviewer may lower or raise the TLP before publishing (the API's PATCH tlp, on the page).
    tlp = SelectField("TLP", choices=[(level, tlp_label(level)) for level in TLP_LEVELS],
                      validators=[Optional()], validate_choice=False)
    # Rendered in groups by the template (all members, sectors, organizations), not from choices.
    targets = MultiCheckbox(_l("Publish to"), validate_choice=False)


class WarningDiscardForm(Form):
    """Only the CSRF token."""


# A required choice starts here, so that a form sent without choosing says so next to the field
# instead of quietly taking the first option.
# The labels below are lazy: they read in the language of the page that shows them.
CHOOSE = ("", _l("— choose —"))
SECTOR_CHOICES = [CHOOSE] + [(s, _l(SECTOR_LABELS.get(s, s))) for s in SECTORS]
# Deadline regimes as an administrator reads them (their rules spelled out); none: the sector's.
REGIME_CHOICES = [("", _l("The sector's default"))] + [(r, LazyString(regime_summary, r)) for r in REGIMES]


def country_choices(empty: str | None = None) -> list[tuple[str, str]]:
    """ISO 3166-1 countries by name in the reader's language (rendered by _macros.big_select:
    hundreds of options)."""
    names = [(code, i18n.territory_name(code) or name) for code, name in countries().items()]
    return [("", empty or str(_l("— not set —")))] + sorted(names, key=lambda item: item[1])


def role_choices(kinds: tuple[str, ...]) -> list[tuple[str, str | LazyString]]:
    """The roles users of organizations of these kinds may have, "choose" first."""
    roles = [role for role in ROLES if any(role in roles_for_kind(kind) for kind in kinds)]
    return [CHOOSE] + [(role, _l(ROLE_LABELS.get(role, role))) for role in roles]


class OrganizationEditForm(Form):
    """What an administrator may change on an organization (organizations.OrganizationDetails)."""

    name = StringField(_l("Name"), validators=[required(), at_most(MAX_NAME)])
    sector = SelectField(_l("Sector"), choices=SECTOR_CHOICES, validators=[DataRequired(_l("Choose a sector."))],
                         validate_choice=False)  # the service names a value that is not one
    country = SelectField(_l("Country"), validate_choice=False)  # choices: country_choices(), big_select
    contact_email = EmailField(_l("Contact e-mail"), validators=[Optional(), at_most(MAX_EMAIL)])
    regime = SelectField(_l("Reporting deadlines"), choices=REGIME_CHOICES, validate_choice=False)


class OrganizationForm(OrganizationEditForm):
    kind = SelectField(_l("Kind"), choices=[("member", _l("Member")), ("partner", _l("Partner CERT abroad")),
                                            ("cert", _l("The operating CERT"))], validate_choice=False)
    assets = TextAreaField(_l("Assets (CIDR, AS number or domain; one per line)"), render_kw={"rows": 3})


class DutyEmailForm(Form):
    """An organization's duty address (organizations.set_duty_email); empty removes it."""

    duty_email = EmailField(_l("Duty address"), validators=[Optional(), at_most(MAX_EMAIL)])


class PartnerForm(Form):
    """A partner CERT's directory entry (partners.set_partner): the rules are the service's; a
    field left empty is cleared, a field not sent at all is left as it is."""

    country = StringField(_l("Country (ISO 3166-1 code)"), validators=[at_most(10)],
                          render_kw={"placeholder": "FI", "autocomplete": "off"})
    contact = EmailField(_l("24/7 contact address"), validators=[at_most(MAX_EMAIL)],
                         render_kw={"placeholder": "duty@cert.example"})
    taxii_url = StringField(_l("TAXII 2.1 collection URL of its intake"), validators=[at_most(MAX_URL)],
                            render_kw={"placeholder": "https://taxii.cert.example/api1/collections/…/"})
    username_env = StringField(_l("Environment variable with the TAXII username"),
                               validators=[at_most(MAX_ENV_NAME)],
                               render_kw={"placeholder": "CERT_FI_TAXII_USER", "autocomplete": "off"})
    password_env = StringField(_l("Environment variable with the TAXII password"),
                               validators=[at_most(MAX_ENV_NAME)],
                               render_kw={"placeholder": "CERT_FI_TAXII_PASSWORD", "autocomplete": "off"})
    languages = StringField(_l("Languages (ISO 639-1 codes, comma-separated)"), validators=[at_most(200)],
                            render_kw={"placeholder": "fi, en"})


class PartnerKeyForm(Form):
    """A partner CERT's OpenPGP key as a file (armored or binary); the rules are
    services/partner_mail.register_partner_key's (inspect_key)."""

    key = FileField(_l("OpenPGP public key of its 24/7 contact address (.asc or .gpg file)"),
                    render_kw={"accept": ".asc,.gpg,.pgp,.key,application/pgp-keys"})


class AssetForm(Form):
    value = StringField(_l("Asset (CIDR, AS number or domain)"), validators=[required(), at_most(255)])


class MemberUserForm(Form):
    """A new account in the member-admin's own organization."""

    email = EmailField(_l("E-mail"), validators=[required(), at_most(MAX_EMAIL)])
    name = StringField(_l("Name"), validators=[Optional(), at_most(MAX_NAME)])
    role = SelectField(_l("Role"), choices=role_choices(("member",)), validators=[DataRequired(_l("Choose a role."))],
                       validate_choice=False)
    password = PasswordField(_l("Initial password"), validators=[required(), at_most(MAX_PASSWORD)],
                             render_kw={"autocomplete": "new-password"})


class UserForm(MemberUserForm):
    """A new account in any organization (CERT administrators): the roles offered follow the
    organization's kind (rendered as groups, narrowed by admin.js)."""

    org = SelectField(_l("Organization"), validators=[DataRequired(_l("Choose an organization."))],
                      validate_choice=False)
    role = SelectField(_l("Role"), choices=role_choices(("member", "cert")),
                       validators=[DataRequired(_l("Choose a role."))], validate_choice=False)


class RoleForm(Form):
    role = SelectField(_l("Role"), choices=role_choices(("member", "cert")), validate_choice=False)
    active = BooleanField(_l("Active"))


class TokenForm(Form):
    name = StringField(_l("Token name"), validators=[required(), at_most(MAX_TOKEN_NAME)],
                       render_kw={"placeholder": "soc-pipeline"})
    org = SelectField(_l("Organization"), validate_choice=False)


class ConfirmForm(Form):
    """Only the CSRF token (revoke, reset two-factor)."""


class PgpKeyForm(Form):
    key = TextAreaField(_l("Your OpenPGP public key"), validators=[required(), at_most(MAX_PGP_KEY)],
                        render_kw={"rows": 10, "spellcheck": "false", "autocomplete": "off"})


class TotpCodeForm(Form):
    code = StringField(_l("6-digit code"), validators=[required(), at_most(12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True})



class LanguageForm(Form):
    """The person's language (/account/language): automatic (empty), or a language shipped, each
    named as its own speakers write it; which values are accepted is services/language.set_locale's."""

    locale = SelectField(_l("Language"), choices=[("", _l("Automatic (your browser's language)")),
                                                  *i18n.language_choices()], validate_choice=False)
