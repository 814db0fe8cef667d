"""The partner CERT directory: where each partner is (country), how it is reached (its 24/7
contact address, its TAXII intake collection and the names of the environment variables that
hold the credentials for it) and the languages it works in.

Only the fields given change; an empty string clears one. The rules:

* a partner has one contact address, its 24/7 point of contact: ``contact`` sets it as the duty
  address (what cooperation mail goes to first, services/cooperation.contact_address) and as the
  contact address, so the organization page and the delivery channel never disagree;
* credentials are NAMED, never stored: ``username_env``/``password_env`` are environment variable
  names. A value that does not look like a name (or looks like a secret) is refused, and the
  refusal never repeats it. A name is at most 64 characters of letters, digits and ``_``, made of
  words: it looks like a secret when it mixes lower case with digits in one run of 12 or more,
  mixes upper case, lower case and digits in a run of 8 or more, or has a part between ``_`` that
  is 16 letters or more or has six consonants in a row (QWHZKXPLMRVB... is not a word;
  CERT_FR_TAXII_PASSWORD and HTTPS_USER are);
* a TAXII URL is an absolute https URL (plain http only for a loopback host, 127.0.0.1, ::1 or
  localhost: Basic-auth credentials and AMBER bundles never cross a network in clear), without
  user:password, a query or a fragment in it (a token pasted there would be shown on the admin
  page, kept in the audit trail and repeated in errors), at most limits.MAX_URL;
* languages are ISO 639-1 codes (pycountry's list, vocab.languages).
"""
from __future__ import annotations

import os
import re
from typing import Iterable
from urllib.parse import urlsplit

from flask_babel import gettext
from sqlalchemy import select

from ..actor import Actor
from ..database import DbSession
from ..errors import InputError
from ..limits import MAX_PARTNER_LANGUAGES, MAX_URL
from ..models import Organization
from ..store import audit
from ..vocab import languages as language_names
from .organizations import checked_country, optional_email

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Shorter than the column (limits.MAX_ENV_NAME): a name an operator types is a few words.
MAX_VARIABLE_NAME = 64
# A name an operator would choose (CERT_FR_TAXII_PASSWORD, taxii_user) has words; a token or a
# password pasted by mistake is one long run of mixed letters and digits, or of letters that
# make no word (many consonants in a row, or a "word" longer than any a name uses).
_SECRET_LIKE = re.compile(r"(?=.*[a-z])(?=.*[0-9])[A-Za-z0-9]{12,}|(?=.*[A-Z])(?=.*[a-z])(?=.*[0-9])[A-Za-z0-9]{8,}")
_NOT_A_WORD = re.compile(r"[A-Za-z0-9]{16,}|.*[b-df-hj-np-tv-xz]{6}", re.IGNORECASE)
# Plain http is allowed only to this machine (a test, a peer beside us): nothing crosses a network.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def _secret_like(name: str) -> bool:
    return bool(_SECRET_LIKE.fullmatch(name)) or any(
        _SECRET_LIKE.fullmatch(part) or _NOT_A_WORD.match(part) for part in name.split("_"))


def list_partners(session: DbSession) -> list[Organization]:
    """Every partner CERT, active or not, in the order of their slugs."""
    return list(session.execute(select(Organization).where(Organization.kind == "partner")
                                .order_by(Organization.slug)).scalars())


def credential_is_set(name: str | None) -> bool:
    """Whether the environment variable ``name`` holds a value here (never what it holds)."""
    return bool(name) and bool(os.environ.get(name or ""))


def _partner(session: DbSession, slug: str) -> Organization:
    org = None
    if isinstance(slug, str) and 0 < len(slug) <= 64 and "\x00" not in slug:
        org = session.execute(select(Organization).where(Organization.slug == slug)).scalar_one_or_none()
    if org is None:
        raise InputError(gettext("no organization with slug %(slug)r", slug=str(slug)[:64]), field="slug")
    if org.kind != "partner":
        raise InputError(gettext("%(slug)s is not a partner CERT (it is a %(kind)s organization)",
                                 slug=org.slug, kind=org.kind), field="slug")
    return org


def _taxii_url(value: str) -> str | None:
    url = value.strip()
    if not url:
        return None
    if len(url) > MAX_URL:
        raise InputError(gettext("the TAXII collection URL is longer than %(max_url)s characters",
                                 max_url=MAX_URL), field="taxii_url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or any(c.isspace() or ord(c) < 32 for c in url)):
        raise InputError(gettext("the TAXII collection URL must be an absolute https:// URL"), field="taxii_url")
    if parts.username is not None or parts.password is not None:
        raise InputError(gettext("the TAXII collection URL must not carry credentials; name the environment "
                                 "variables that hold them (username_env, password_env)"), field="taxii_url")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        # Never repeated: a token pasted into a query would end up in the message.
        raise InputError(gettext("the TAXII collection URL must not have a query (?...) or a fragment (#...): a "
                                 "collection URL needs neither, and credentials go in the variables named by "
                                 "username_env and password_env"), field="taxii_url")
    if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
        raise InputError(gettext("the TAXII collection URL must be https://: the credentials and the bundles would "
                                 "cross the network in clear over http (plain http:// is accepted only for a "
                                 "loopback host, 127.0.0.1, ::1 or localhost)"), field="taxii_url")
    return url


def _env_name(value: str, field: str) -> str | None:
    name = value.strip()
    if not name:
        return None
    what = "the username" if field == "username_env" else "the password"
    if len(name) > MAX_VARIABLE_NAME or not ENV_NAME.fullmatch(name):
        raise InputError(gettext("%(field)s is the NAME of the environment variable holding %(what)s (at most "
                                 "%(max_variable_name)s letters, digits and _, not starting with a digit), never the "
                                 "secret itself",
                                 field=field, what=what, max_variable_name=MAX_VARIABLE_NAME), field=field)
    if _secret_like(name):
        raise InputError(gettext("%(field)s looks like a secret, not a variable name: put %(what)s in an environment "
                                 "variable and give its name (e.g. PARTNER_TAXII_PASSWORD)",
                                 field=field, what=what), field=field)
    return name


def _languages(value: str | Iterable[str]) -> list[str]:
    items = re.split(r"[\s,]+", value) if isinstance(value, str) else list(value)
    codes: list[str] = []
    known = language_names()
    for item in items:
        if not isinstance(item, str):
            raise InputError(gettext("languages are ISO 639-1 codes such as en, fr"), field="languages")
        code = item.strip().lower()
        if not code:
            continue
        if code not in known:
            raise InputError(gettext("%(code)r is not an ISO 639-1 language code (two letters, such as en, fr, es)",
                                     code=code[:20]),
                             field="languages")
        if code not in codes:
            codes.append(code)
    if len(codes) > MAX_PARTNER_LANGUAGES:
        raise InputError(gettext("at most %(max_partner_languages)s languages",
                                 max_partner_languages=MAX_PARTNER_LANGUAGES), field="languages")
    return codes


def set_partner(session: DbSession, slug: str, *, country: str | None = None, contact: str | None = None,
                taxii_url: str | None = None, username_env: str | None = None, password_env: str | None = None,
                languages: str | Iterable[str] | None = None, actor: Actor) -> dict:
    """Update the given fields of a partner CERT (None: unchanged; empty: cleared). Every field is
    checked before any changes; audited as "partner.update" with what changed; commits. Returns
    the changes, {field: {"from": old, "to": new}}."""
    org = _partner(session, slug)
    wanted: dict[str, object] = {}
    if country is not None:
        wanted["country"] = checked_country(country)
    if contact is not None:
        try:
            address = optional_email(contact, "contact")
        except InputError as exc:
            raise InputError(gettext("contact (the 24/7 address): %(message)s",
                                     message=exc.message), field="contact") from None
        wanted["duty_email"] = address
        wanted["contact_email"] = address
    if taxii_url is not None:
        wanted["taxii_url"] = _taxii_url(taxii_url)
    if username_env is not None:
        wanted["taxii_username_env"] = _env_name(username_env, "username_env")
    if password_env is not None:
        wanted["taxii_password_env"] = _env_name(password_env, "password_env")
    if languages is not None:
        wanted["languages"] = _languages(languages)
    changes = {}
    for column, value in wanted.items():
        old = getattr(org, column)
        if column == "languages":
            old = list(old or [])
        if old != value:
            changes[column] = {"from": old, "to": value}
            setattr(org, column, value)
    if changes:
        audit.record(session, actor, "partner.update", "organization", org.slug, **changes)
    session.commit()
    return changes
