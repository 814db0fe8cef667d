"""Template filters and globals: times in UTC and numbers as the reader's language writes them, and
the label a person reads for each machine value (RSIT, TLP, sector, phase, role, country) in that
language; the labels themselves live with their vocabularies, marked for translation there."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

from babel.numbers import format_decimal, format_percent
from flask import current_app
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from .. import i18n, policy
from ..extensions import db
from ..limits import MAX_SEARCH_TEXT
from ..models.organization import ORG_KIND_LABELS
from ..models.user import ROLE_LABELS
from ..services.cooperation_queue import awaiting_count
from ..vocab import (
    COOPERATION_KIND_LABELS,
    INCIDENT_SOURCE_LABELS,
    N_,
    OBSERVABLE_TYPE_LABELS,
    PHASE_LABELS,
    SECTOR_LABELS,
    audit_action_label,
    classification_label,
    countries,
)
from . import bp
from .actor import current_actor
from .forms import TLP_CHOICES, LogoutForm, classification_choices

TLP_LABELS = {value: label for value, label, _ in TLP_CHOICES}
TLP_HELP = {value: text for value, _, text in TLP_CHOICES}


@bp.app_template_filter("utc")
def utc(value: datetime | None, seconds: bool = False) -> str:
    """Always UTC and always labelled, so a time on screen is never ambiguous."""
    return i18n.format_time(value, seconds)


@bp.app_template_filter("t")
def t(value) -> str:
    return i18n.translate(value)


@bp.app_template_filter("day")
def day(value: datetime | date | str | None) -> str:
    """A day as the reader's language writes it (English: 2026-05-04); a date, or an ISO date's text."""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time(0), tzinfo=timezone.utc)
    return i18n.format_date(value)


@bp.app_template_filter("decimal")
def decimal(value: float | None, digits: int = 1) -> str:
    """A number with ``digits`` decimals: 2.5 in English (as '%.1f' writes it), 2,5 in Vietnamese."""
    if value is None:
        return "—"
    locale = i18n.current_locale()
    if locale == i18n.SOURCE_LOCALE:
        return f"{value:.{digits}f}"
    return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""), locale=locale)


@bp.app_template_filter("percent")
def percent(value: float | None) -> str:
    """A share (0.125) as a percentage with one decimal: "12.5 %" in English, "12,5%" in Vietnamese."""
    if value is None:
        return "—"
    locale = i18n.current_locale()
    if locale == i18n.SOURCE_LOCALE:
        return f"{value * 100:.1f} %"
    return format_percent(value, format="#,##0.0%", locale=locale)


@bp.app_template_filter("number")
def number(value: float | int | None) -> str:
    return i18n.format_number(value)


@bp.app_template_filter("rsit")
def rsit(classification: str) -> str:
    return classification_label(classification, gettext)


@bp.app_template_filter("sector")
def sector(value: str | None) -> str:
    return gettext(SECTOR_LABELS[value]) if value in SECTOR_LABELS else (value or "—")


@bp.app_template_filter("phase")
def phase(value: str) -> str:
    return gettext(PHASE_LABELS[value]) if value in PHASE_LABELS else value


@bp.app_template_filter("role")
def role(value: str) -> str:
    return gettext(ROLE_LABELS[value]) if value in ROLE_LABELS else value


@bp.app_template_filter("org_kind")
def org_kind(value: str) -> str:
    return gettext(ORG_KIND_LABELS[value]) if value in ORG_KIND_LABELS else value


@bp.app_template_filter("source")
def source(value: str) -> str:
    return gettext(INCIDENT_SOURCE_LABELS[value]) if value in INCIDENT_SOURCE_LABELS else value


@bp.app_template_filter("coop_kind")
def coop_kind(value: str) -> str:
    return gettext(COOPERATION_KIND_LABELS[value]) if value in COOPERATION_KIND_LABELS else value


@bp.app_template_filter("audit_action")
def audit_action(value: str) -> str:
    return audit_action_label(value, gettext)


# The audit log's headings for the details the platform records and the kinds of thing an entry
# is about, in the reader's language; English reads them as they always were (the key, humanized).
AUDIT_DETAIL_LABELS = {
    "Active": N_("Active"),
    "Address": N_("Address"),
    "Addresses": N_("Addresses"),
    "Asset": N_("Asset"),
    "Assets": N_("Assets"),
    "Assignee": N_("Assignee"),
    "Channel": N_("Channel"),
    "Cleared": N_("Cleared"),
    "Collection": N_("Collection"),
    "Collections": N_("Collections"),
    "Confirmed real values": N_("Confirmed real values"),
    "Countries": N_("Countries"),
    "Country": N_("Country"),
    "Deliveries": N_("Deliveries"),
    "Direction": N_("Direction"),
    "Due at": N_("Due at"),
    "Duty email": N_("Duty email"),
    "Email": N_("Email"),
    "Error": N_("Error"),
    "Exercise": N_("Exercise"),
    "Expires at": N_("Expires at"),
    "Failed": N_("Failed"),
    "Filters": N_("Filters"),
    "Fingerprint": N_("Fingerprint"),
    "From": N_("From"),
    "Incident": N_("Incident"),
    "Inject": N_("Inject"),
    "Injects": N_("Injects"),
    "Into": N_("Into"),
    "Key id": N_("Key id"),
    "Kind": N_("Kind"),
    "Label": N_("Label"),
    "Last error": N_("Last error"),
    "Name": N_("Name"),
    "Note id": N_("Note id"),
    "Objects": N_("Objects"),
    "Observable type": N_("Observable type"),
    "Observables": N_("Observables"),
    "Org": N_("Org"),
    "Other": N_("Other"),
    "Participants": N_("Participants"),
    "Partner": N_("Partner"),
    "Partner certs": N_("Partner certs"),
    "Phase": N_("Phase"),
    "Previous": N_("Previous"),
    "Previous state": N_("Previous state"),
    "Purpose": N_("Purpose"),
    "Reason": N_("Reason"),
    "Recipients": N_("Recipients"),
    "Refs": N_("Refs"),
    "Reporting organizations": N_("Reporting organizations"),
    "Reports": N_("Reports"),
    "Request": N_("Request"),
    "Revoked": N_("Revoked"),
    "Role": N_("Role"),
    "Sector": N_("Sector"),
    "Slug": N_("Slug"),
    "Source": N_("Source"),
    "State": N_("State"),
    "Status": N_("Status"),
    "Still revoked": N_("Still revoked"),
    "Stix id": N_("Stix id"),
    "Stored": N_("Stored"),
    "Targets": N_("Targets"),
    "Tlp": N_("Tlp"),
    "To": N_("To"),
    "Tokens": N_("Tokens"),
    "Totp blocked": N_("Totp blocked"),
    "User": N_("User"),
    "Users": N_("Users"),
    "Version": N_("Version"),
    "Versions": N_("Versions"),
    "Warnings": N_("Warnings"),
}
AUDIT_TARGET_LABELS = {
    "Audit": N_("Audit"),
    "Collection": N_("Collection"),
    "Cooperation": N_("Cooperation"),
    "Exercise": N_("Exercise"),
    "Exercise_report": N_("Exercise_report"),
    "Incident": N_("Incident"),
    "Organization": N_("Organization"),
    "Outbox": N_("Outbox"),
    "Stix_object": N_("Stix_object"),
    "Token": N_("Token"),
    "User": N_("User"),
    "Warning": N_("Warning"),
}


@bp.app_template_filter("detail_key")
def detail_key(value: str) -> str:
    """A key of an audit entry's details as a heading: ``partner_certs`` -> ``Partner certs``."""
    text = str(value).replace("_", " ").replace("-", " ").capitalize()
    return gettext(AUDIT_DETAIL_LABELS[text]) if text in AUDIT_DETAIL_LABELS else text


@bp.app_template_filter("audit_target")
def audit_target(value: str | None) -> str:
    """What an audit entry is about (``incident``) as a word: ``Incident``."""
    text = (value or "").capitalize()
    return gettext(AUDIT_TARGET_LABELS[text]) if text in AUDIT_TARGET_LABELS else text


@bp.app_template_filter("country")
def country(code: str) -> str:
    """A country's name in the reader's language (Babel's CLDR names), else pycountry's English."""
    return i18n.territory_name(code) or countries().get(code, code)


@bp.app_context_processor
def _globals():
    # formdata=None: the header's form must not read the request body (an error page for a
    # body over the size limit would otherwise fail while rendering).
    signed_in = bool(current_user and current_user.is_authenticated)
    logout_form = LogoutForm(formdata=None) if signed_in else None
    actor = current_actor() if signed_in else None
    return {
        # What the navigation offers, decided by policy like the pages it links to.
        "is_cert_staff": actor is not None and policy.is_cert_staff(actor),
        "is_cert_admin": actor is not None and policy.is_cert_admin(actor),
        "manages_tokens": actor is not None and policy.can_manage_tokens(actor),
        "product_name": "cert-share",
        "cert_name": current_app.config["CERT_NAME"],
        "logout_form": logout_form,
        "cooperation_awaiting": _cooperation_awaiting,
    }


def _cooperation_awaiting() -> int | None:
    """The navigation's count of partners' requests waiting for us; called by the template only
    for CERT staff. None when the database cannot answer: the page being drawn may be the one
    that says the database is down."""
    try:
        return awaiting_count(db.session, current_actor())
    except SQLAlchemyError:
        return None


# Globals, not context: imported macros (_macros.html) see these without "with context".
_TEMPLATE_GLOBALS = {"TLP_LABELS": TLP_LABELS, "TLP_HELP": TLP_HELP, "TYPE_LABELS": OBSERVABLE_TYPE_LABELS,
                     "PHASE_LABELS": PHASE_LABELS, "classification_groups": classification_choices(),
                     # The maxlength of every box that takes a search (an observable or words).
                     "MAX_SEARCH_TEXT": MAX_SEARCH_TEXT}


@bp.record_once
def _add_template_globals(state: BlueprintSetupState) -> None:
    # What add_app_template_global does, for values that are not functions (which its annotation asks for).
    state.app.jinja_env.globals.update(_TEMPLATE_GLOBALS)
