"""Organizations of the constituency and their registered assets."""
from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .. import deadlines as deadline_rules
from ..actor import CLI, Actor
from ..clock import utcnow
from ..database import DbSession
from ..deadlines import REGIMES
from ..errors import Conflict, InputError, NotFound
from ..limits import MAX_NAME
from ..models import ApiToken, Asset, Incident, Organization, User
from ..models.organization import ORG_KINDS
from ..stix.build import new_identity_id
from ..stix.observables import ObservableError, ip_to_hex, normalize_domain
from ..store import audit
from ..store.collections import ensure_collections_for
from ..store.organizations import cert_organization
from ..vocab import SECTORS, countries
from . import deadline_tracking, web_sessions
from .users import normalize_email


def optional_email(value: str | None, field: str) -> str | None:
    """An address typed into an optional field: None when left empty, else normalized, with an
    error naming ``field``."""
    address = (value or "").strip() or None
    if address is None:
        return None
    try:
        return normalize_email(address)
    except InputError as exc:
        raise InputError(exc.message, field=field) from None


def slugify(name: str, fallback: str = "org") -> str:
    """A name's slug: ASCII letters and digits joined by hyphens ("Cyber Storm 2026" ->
    "cyber-storm-2026"); ``fallback`` when nothing is left."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return slug[:48].strip("-") or fallback


def _unique_slug(session: DbSession, base: str) -> str:
    slug, n = base, 2
    while session.execute(select(Organization.id).where(Organization.slug == slug)).first():
        slug, n = f"{base}-{n}", n + 1
    return slug


def all_by_slug(session: DbSession) -> list[Organization]:
    """Every organization, in the order of their slugs."""
    return list(session.execute(select(Organization).order_by(Organization.slug)).scalars())


# What slugify (and _unique_slug's suffix) can produce; anything else names no organization, and
# is answered without a query (PostgreSQL refuses a NUL in a parameter with an error).
_SLUG = re.compile(r"[a-z0-9-]{1,64}")


def get_by_slug(session: DbSession, slug: str) -> Organization:
    if not _SLUG.fullmatch(slug or ""):
        raise NotFound(gettext("no organization with slug %(slug)r", slug=slug))
    org = session.execute(select(Organization).where(Organization.slug == slug)).scalar_one_or_none()
    if org is None:
        raise NotFound(gettext("no organization with slug %(slug)r", slug=slug))
    return org


def parse_asset(value: str) -> dict:
    """Classify an asset given as CIDR/IP, AS number or domain; return Asset column values."""
    text = (value or "").strip()
    if not text:
        raise InputError(gettext("asset must not be empty"), field="asset")
    if re.fullmatch(r"(?i)(AS)?\d{1,10}", text) and (text.upper().startswith("AS")):
        number = int(text[2:])
        if not 0 < number < 2**32:
            raise InputError(gettext("%(value)r is not a valid AS number", value=value), field="asset")
        return {"kind": "asn", "value": f"AS{number}", "asn": number}
    if (re.fullmatch(r"[0-9a-fA-F:.]+(/\d{1,3})?", text) and ("." in text or ":" in text)
            and not re.fullmatch(r"[a-zA-Z.]+", text)):
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InputError(gettext("%(value)r is not a valid IP range (CIDR)", value=value), field="asset") from None
        return {"kind": "cidr", "value": str(net), "range_start": ip_to_hex(net.network_address),
                "range_end": ip_to_hex(net.broadcast_address)}
    try:
        ascii_form, _display = normalize_domain(text)
    except ObservableError:
        raise InputError(gettext("%(value)r is not a CIDR range, an AS number (AS64500) or a domain",
                                 value=value), field="asset") from None
    return {"kind": "domain", "value": ascii_form, "domain": ascii_form}


def checked_country(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code as typed (any case, spaces around): upper case, None when empty."""
    country = (value or "").strip().upper() or None
    if country is not None and country not in countries():
        raise InputError(gettext("%(country)r is not an ISO 3166-1 alpha-2 country code",
                                 country=country), field="country")
    return country


@dataclass(frozen=True)
class OrganizationDetails:
    """What an administrator may set on an organization, checked (create and edit share it)."""

    name: str
    sector: str
    country: str | None
    contact_email: str | None
    regime: str | None

    @classmethod
    def checked(cls, *, name: str, sector: str, country: str | None, contact_email: str | None,
                regime: str | None) -> "OrganizationDetails":
        name = unicodedata.normalize("NFC", (name or "").strip())
        if not name:
            raise InputError(gettext("name must not be empty"), field="name")
        if len(name) > MAX_NAME:
            raise InputError(gettext("name is longer than %(max_name)s characters", max_name=MAX_NAME), field="name")
        if sector not in SECTORS:
            raise InputError(gettext("unknown sector %(sector)r; use a STIX industry-sector value such as "
                                     "financial-services, telecommunications, energy", sector=sector), field="sector")
        country = checked_country(country)
        email = optional_email(contact_email, "contact_email")
        regime = (regime or "").strip() or None
        if regime is not None and regime not in REGIMES:
            raise InputError(gettext("deadline regime must be one of %(regimes)s, or none for the sector's",
                                     regimes=', '.join(REGIMES)),
                             field="regime")
        return cls(name=name, sector=sector, country=country, contact_email=email, regime=regime)


def create_organization(session: DbSession, *, name: str, sector: str, country: str | None = None,
                        kind: str = "member", assets: list[str] | tuple = (), contact_email: str | None = None,
                        regime: str | None = None, slug: str | None = None,
                        actor: Actor = CLI) -> Organization:
    details = OrganizationDetails.checked(name=name, sector=sector, country=country, contact_email=contact_email,
                                          regime=regime)
    name, sector, country, contact_email, regime = (details.name, details.sector, details.country,
                                                    details.contact_email, details.regime)
    if kind not in ORG_KINDS:
        raise InputError(gettext("kind must be one of %(org_kinds)s", org_kinds=', '.join(ORG_KINDS)), field="kind")
    if kind == "cert" and cert_organization(session) is not None:
        raise Conflict(gettext("there is already an operating CERT organization; there can be only one"))
    parsed_assets = [parse_asset(a) for a in assets]
    org = Organization(
        slug=_unique_slug(session, slugify(slug or name)), name=name, kind=kind, sector=sector,
        country=country, stix_id=new_identity_id(), contact_email=contact_email,
        regime=regime if regime else ("dora" if sector == "financial-services" else None),
    )
    session.add(org)
    session.flush()
    for values in parsed_assets:
        session.add(Asset(org_id=org.id, **values))
    ensure_collections_for(session, org)
    audit.record(session, actor, "organization.create", "organization", org.slug,
                 name=name, kind=kind, sector=sector, assets=[a["value"] for a in parsed_assets])
    session.commit()
    return org


def add_asset(session: DbSession, org: Organization, value: str, actor: Actor = CLI) -> Asset:
    """Register one asset for ``org`` (an asset it already has is returned as it is), and commit."""
    return add_assets(session, org, [value], actor)[0]


def add_assets(session: DbSession, org: Organization, values: list[str] | tuple, actor: Actor = CLI) -> list[Asset]:
    """Register assets for ``org`` in one transaction, and commit: a value that is not an asset
    stores none of them."""
    assets = [_add_asset(session, org, parse_asset(value), actor) for value in values]
    session.commit()
    return assets


def _add_asset(session: DbSession, org: Organization, values: dict, actor: Actor) -> Asset:
    dup = session.execute(select(Asset).where(Asset.org_id == org.id, Asset.kind == values["kind"],
                                              Asset.value == values["value"])).scalar_one_or_none()
    if dup is not None:
        return dup
    asset = Asset(org_id=org.id, **values)
    session.add(asset)
    audit.record(session, actor, "asset.add", "organization", org.slug, asset=values["value"])
    return asset


def remove_asset(session: DbSession, org: Organization, asset_id: int, actor: Actor) -> None:
    asset = session.get(Asset, asset_id)
    if asset is None or asset.org_id != org.id:
        raise NotFound(gettext("no such asset"))
    session.delete(asset)
    audit.record(session, actor, "asset.remove", "organization", org.slug, asset=asset.value)
    session.commit()


def update_organization(session: DbSession, org: Organization, *, name: str, sector: str, country: str | None,
                        contact_email: str | None, regime: str | None, actor: Actor) -> dict:
    """Edit what an administrator may change (the slug, kind and STIX identity stay: collections,
    credentials and published objects name them). Commits; returns the changes, as audited.

    A new sector or regime moves the deadlines of the organization's reports: they are
    recomputed in the same transaction, so no page shows the old regime's due dates."""
    details = OrganizationDetails.checked(name=name, sector=sector, country=country, contact_email=contact_email,
                                          regime=regime)
    regime_before = deadline_rules.regime_of_org(org.regime, org.sector)
    changes: dict[str, dict] = {}
    for column in ("name", "sector", "country", "contact_email", "regime"):
        before, after = getattr(org, column), getattr(details, column)
        if before != after:
            changes[column] = {"from": before, "to": after}
            setattr(org, column, after)
    if not changes:
        return changes
    if "sector" in changes:
        ensure_collections_for(session, org)  # a member's new sector gets its collection
    if deadline_rules.regime_of_org(org.regime, org.sector) != regime_before:
        reports = session.execute(select(Incident).options(selectinload(Incident.updates))
                                  .where(Incident.org_id == org.id)).scalars()
        for incident in reports:
            deadline_tracking.track(session, incident)
    audit.record(session, actor, "organization.update", "organization", org.slug, **changes)
    session.commit()
    return changes


def set_duty_email(session: DbSession, org: Organization, email: str | None, *, actor: Actor) -> str | None:
    """Name (or, with an empty value, clear) the organization's duty address: a shared mailbox
    that gets the immediate kinds of alert mail meant for the organization (mail/preferences.py).
    Audited; commits; returns the address now set."""
    address = optional_email(email, "duty_email")
    if address != org.duty_email:
        audit.record(session, actor, "organization.update", "organization", org.slug,
                     duty_email={"from": org.duty_email, "to": address})
        org.duty_email = address
    session.commit()
    return address


@dataclass(frozen=True)
class DeactivationEffects:
    """What deactivating an organization stops: the page states it before the button."""

    users: int  # accounts that can sign in now and no longer will
    tokens: int  # unrevoked tokens that stop working


def deactivation_effects(session: DbSession, org: Organization) -> DeactivationEffects:
    users = session.execute(select(func.count()).select_from(User)
                            .where(User.org_id == org.id, User.active.is_(True))).scalar_one()
    tokens = session.execute(select(func.count()).select_from(ApiToken)
                             .where(ApiToken.org_id == org.id, ApiToken.revoked_at.is_(None))).scalar_one()
    return DeactivationEffects(users=users, tokens=tokens)


def set_active(session: DbSession, org: Organization, active: bool, *, actor: Actor) -> DeactivationEffects:
    """Deactivate an organization, or bring it back. Commits; returns what changed.

    Deactivated: its people cannot sign in and their open sessions end now (their session
    version moves on, so even a session cookie from before is refused); its tokens answer 401 on
    the API and TAXII, as revoked ones do; it is no longer a warning target nor matched by its
    assets. Its reports, warnings and audit history are kept. Reactivated: sign-in and the
    unrevoked tokens work again (accounts and tokens are left as they were, never deleted)."""
    if org.is_cert and not active:
        raise InputError(gettext("the operating CERT cannot be deactivated"), field="active")
    effects = deactivation_effects(session, org)
    if bool(org.active) == bool(active):
        return effects
    org.active = bool(active)
    org.deactivated_at = None if active else utcnow()
    if not active:
        people = list(session.execute(select(User).where(User.org_id == org.id)).scalars())
        for person in people:
            person.session_version = (person.session_version or 1) + 1
            web_sessions.end_others(session, person)
    audit.record(session, actor, "organization.activate" if active else "organization.deactivate",
                 "organization", org.slug, users=effects.users, tokens=effects.tokens)
    session.commit()
    return effects
