"""Search and pivot: what the platform holds about a value someone typed or clicked.

A query is classified first (IP address, CIDR range, domain, URL, e-mail address, hash, AS
number, or free text), defanged input included, with the same normalization as the report form
(stix.observables). The answer has three groups:

    reports     the reports the caller may read that carry it (members: their own organization's;
                CERT staff: all but the TLP:RED ones they are not named on), newest first
    warnings    the early warnings on it the caller may read (lifecycle.readable_by decides)
    sightings   CERT staff only: which organizations reported it, in how many reports, and how many
                values found in them (a range or a domain can find several in one report)

Each group is bounded (limits.SEARCH_GROUP_ROWS) and says whether there is more. The groups are
computed only from what the caller may read, in the statement that finds them, so neither the
answer nor its size tells a member whether another organization reported the value.

Free text matches report and warning titles. A domain finds itself, its subdomains and the URLs
and e-mail addresses on them; a CIDR range every single address inside it.

Fraud identifiers (bank account, phone number, wallet, card) are found by their normalized value,
and a keyed hash (``hmac-sha256:<key id>:<hex>``, stix.keyed_hash) by the personal values whose
hash under that key it is: a member that hashed what it holds itself finds the same warnings.
Either way the query the answer repeats is only what the caller sent, normalized: nothing in it
says whether anyone reported the value. A full card number is refused without being repeated.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import cache
from itertools import islice

from flask_babel import gettext
from publicsuffixlist import PublicSuffixList
from sqlalchemy import ColumnElement, or_

from .. import policy
from ..actor import Actor
from ..database import DbSession
from ..early_warning import hash_index
from ..early_warning.lifecycle import readable_by
from ..early_warning.published import ReceivedWarning, received
from ..errors import InputError
from ..limits import (
    MAX_SEARCH_TEXT,
    SEARCH_GROUP_ROWS,
    SEARCH_VALUES_PER_REPORT,
    SEARCH_WIDEST_IPV4_PREFIX,
    SEARCH_WIDEST_IPV6_PREFIX,
)
from ..models import EarlyWarning, Incident
from ..stix import keyed_hash
from ..stix.fraud import FRAUD_TYPES, FULL_CARD_REFUSAL, looks_like_full_card
from ..stix.observables import HASH_LENGTHS, ObservableError, host_key_range, ip_to_hex, recognize, refang
from ..store import observable_search as store
from ..store.observable_search import Match, OrgSightings
from ..store.warning_versions import readable_collection_ids

# What a query was taken for (the API's "kind").
IP, CIDR, DOMAIN, URL, EMAIL, HASH, ASN, TEXT = "ip", "cidr", "domain", "url", "email", "hash", "asn", "text"
# Fraud identifiers are their own kinds (their type names); HMAC: a keyed hash of a personal value.
HMAC = "hmac"
KINDS = (IP, CIDR, DOMAIN, URL, EMAIL, HASH, ASN, *FRAUD_TYPES, HMAC, TEXT)
_KIND_OF_TYPE = {"ipv4-addr": IP, "ipv6-addr": IP, "domain-name": DOMAIN, "url": URL, "email-addr": EMAIL,
                 "autonomous-system": ASN, **{t: HASH for t in HASH_LENGTHS}, **{t: t for t in FRAUD_TYPES}}
_KEYED_HASH = re.compile(rf"^{keyed_hash.PREFIX}:([A-Za-z0-9_.-]{{1,32}}):([0-9a-fA-F]{{64}})$")
# What a keyed hash that matches no warning searches for: the same statements run as for one
# that does, so that neither the answer nor its time says which it was.
_NO_VALUE = ("phone-number", "")
_WIDEST_PREFIX = {4: SEARCH_WIDEST_IPV4_PREFIX, 6: SEARCH_WIDEST_IPV6_PREFIX}
# IPv4 addresses are stored as IPv4-mapped IPv6 (stix.observables.ip_to_hex), so an IPv6 range
# over this block walks IPv4 addresses: the IPv4 limit applies to what it covers of it.
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_WIDEST_MAPPED_PREFIX = 96 + SEARCH_WIDEST_IPV4_PREFIX


class FullCardQuery(InputError):
    """A full payment card number typed as a query: refused, and never shown back (the page knows
    it by this class, not by the message, which is in the reader's language)."""


@dataclass(frozen=True)
class SearchQuery:
    """A classified query: ``value`` is what is searched (normalized; the text itself for free
    text), ``display`` what a person reads, ``match`` the observables it finds (None: titles)."""

    text: str
    kind: str
    value: str
    display: str
    observable_type: str | None = None
    match: Match | None = None


def _clean(text: object, field_name: str) -> str:
    if not isinstance(text, str):
        raise InputError(gettext("search text must be a string"), field=field_name)
    text = text.strip()
    if not text:
        raise InputError(gettext("type something to search for: an address, a domain, a hash or words"),
                         field=field_name)
    if len(text) > MAX_SEARCH_TEXT:
        raise InputError(gettext("search text is at most %(max_search_text)s characters",
                                 max_search_text=MAX_SEARCH_TEXT), field=field_name)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InputError(gettext("search text contains control characters"), field=field_name)
    return text


def parse_query(text: object, *, field_name: str = "q") -> SearchQuery:
    """Classify what someone typed; InputError (naming ``field_name``) for empty or oversized text
    and for a CIDR range too wide to search."""
    text = _clean(text, field_name)
    if text.lower().startswith(f"{keyed_hash.PREFIX}:"):
        return _hmac_query(text, field_name)
    if looks_like_full_card(text):
        raise FullCardQuery(gettext(FULL_CARD_REFUSAL), field=field_name)
    try:
        obs = recognize(text)
    except ObservableError as exc:
        if exc.full_card:
            raise FullCardQuery(gettext(FULL_CARD_REFUSAL), field=field_name) from None
        return SearchQuery(text, TEXT, text, text)
    if obs.type in ("ipv4-addr", "ipv6-addr"):
        if "/" in obs.value:
            return _cidr_query(text, ipaddress.ip_network(obs.value), field_name)
        hex_ = ip_to_hex(ipaddress.ip_address(obs.value))
        return SearchQuery(text, IP, obs.value, obs.display, obs.type, Match(ip_range=(hex_, hex_)))
    if obs.type == "domain-name":
        if _public_suffixes().is_public(obs.value):
            # Like a /8: "everything under com" would walk a large part of all domains stored.
            raise InputError(gettext("%(value)s is a public suffix (like com or co.uk), too wide to search: give a "
                                     "registered name under it, such as example.co.uk",
                                     value=obs.value), field=field_name)
        return SearchQuery(text, DOMAIN, obs.value, obs.display, obs.type, Match(host=host_key_range(obs.value)))
    return SearchQuery(text, _KIND_OF_TYPE[obs.type], obs.value, obs.display, obs.type,
                       Match(exact=((obs.type, obs.value),)))


def _hmac_query(text: str, field_name: str) -> SearchQuery:
    """``hmac-sha256:<key id>:<hex>``: the warnings on the personal values it is the hash of,
    under any configured key (a rotation keeps the previous keys)."""
    m = _KEYED_HASH.match(text)
    if not m:
        raise InputError(gettext("a keyed hash is %(prefix)s:<key id>:<64 hex digits> (docs/observable-hashing.md)",
                                 prefix=keyed_hash.PREFIX), field=field_name)
    key_id, digest = m.group(1), m.group(2).lower()
    if key_id not in dict(keyed_hash.keys()):
        raise InputError(gettext("key %(key_id)r is not one the CERT accepts now: hash the value again with the "
                                 "current key", key_id=key_id), field=field_name)
    value = f"{keyed_hash.PREFIX}:{key_id}:{digest}"
    return SearchQuery(text, HMAC, value, value, None, None)


def _hashed_match(session: DbSession, query: SearchQuery) -> Match:
    """The personal value the query's keyed hash stands for (early_warning/hash_index.py): one
    indexed read, and the same statements after it whether it matched or not."""
    found = hash_index.resolve(session, query.value)
    return Match(exact=(found,) if found else (_NO_VALUE,))


@cache
def _public_suffixes() -> PublicSuffixList:
    # The list the package ships (no download at run time); parsed once per process.
    return PublicSuffixList()


def parse_cidr(text: object, *, field_name: str = "cidr") -> SearchQuery:
    """A CIDR range (a single address is a range of one); InputError if it is not one."""
    text = _clean(text, field_name)
    try:
        network = ipaddress.ip_network(refang(text), strict=False)
    except ValueError:
        raise InputError(gettext("%(text)r is not a CIDR range (e.g. 192.0.2.0/24 or 2001:db8::/48)", text=text),
                         field=field_name) from None
    return _cidr_query(text, network, field_name)


def _cidr_query(text: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network, field_name: str) -> SearchQuery:
    widest = _WIDEST_PREFIX[network.version]
    if network.version == 6 and network.overlaps(_IPV4_MAPPED):
        widest = max(widest, _WIDEST_MAPPED_PREFIX)
    if network.prefixlen < widest:
        raise InputError(gettext("%(network)s is too wide to search: use a /%(widest)s or narrower",
                                 network=network, widest=widest), field=field_name)
    type_ = f"ipv{network.version}-addr"
    low, high = ip_to_hex(network.network_address), ip_to_hex(network.broadcast_address)
    if low == high:
        address = str(network.network_address)
        return SearchQuery(text, IP, address, address, type_, Match(ip_range=(low, high)))
    # The range itself as a reported value too: a report may name the network.
    return SearchQuery(text, CIDR, str(network), str(network), type_,
                       Match(exact=((type_, str(network)),), ip_range=(low, high)))


@dataclass
class SearchResult:
    query: SearchQuery
    reports: list[Incident]
    reports_more: bool
    warnings: list[EarlyWarning | ReceivedWarning]  # members: as they received them
    warnings_more: bool
    # Report id -> the observables in it the query found (CIDR and domain searches find several).
    matched: dict[int, list[str]] = field(default_factory=dict)
    # CERT staff only (None for everyone else): who reported it.
    sightings: list[OrgSightings] | None = None
    sightings_more: bool = False


def search(session: DbSession, actor: Actor, query: SearchQuery, *, limit: int = SEARCH_GROUP_ROWS) -> SearchResult:
    """The groups ``actor`` may see for ``query`` (parse_query / parse_cidr)."""
    match = _hashed_match(session, query) if query.kind == HMAC else query.match
    title = query.value if match is None else None
    reports, reports_more = store.incidents_matching(session, actor, match, title, limit)
    matched = {} if match is None else store.matched_values(
        session, match, [i.id for i in reports], SEARCH_VALUES_PER_REPORT)
    warnings, warnings_more = _readable_warnings(session, actor, match, title, limit)
    # The answer repeats the query as sent (a keyed hash stays a hash), never what it resolved to.
    result = SearchResult(query, reports, reports_more, warnings, warnings_more, matched)
    if policy.is_cert_staff(actor) and match is not None:
        result.sightings, result.sightings_more = store.sightings_by_org(session, actor, match, limit)
    return result


def _readable_warnings(session: DbSession, actor: Actor, match: Match | None, title: str | None,
                       limit: int) -> tuple[list[EarlyWarning | ReceivedWarning], bool]:
    # Every decision is lifecycle's (members: as TAXII would serve the warning; CERT staff: all
    # but those raised from TLP:RED reports they may not read). The candidates are only the
    # warnings on this value, found through the warning indexes.
    out: list[EarlyWarning | ReceivedWarning] = []
    staff = policy.is_cert_staff(actor)
    # Members: only warnings stored in a collection they may read are candidates (a narrowing in
    # SQL; published.received still decides on each stored version).
    stored_in = None if staff else readable_collection_ids(session, actor)
    if stored_in == []:
        return [], False
    candidates = store.warnings_matching(session, match, title, stored_in=stored_in)
    while len(out) <= limit:
        batch = list(islice(candidates, limit + 1))
        # Members get each warning as they received it (one query per batch), never the working copy.
        if staff:
            out += [w for w in batch if readable_by(session, actor, w)]
        else:
            out += _as_received(session, actor, batch, title)
        if len(batch) <= limit:
            break
    return out[:limit], len(out) > limit


def _as_received(session: DbSession, actor: Actor, batch: list[EarlyWarning],
                 title: str | None) -> list[ReceivedWarning]:
    """The member's received versions of the candidates; for words, only those whose received
    title holds them: the candidates were found by the working copy's title, and words staff put
    there but have not published must not find a warning."""
    versions = received(session, actor, batch)
    if title is None:
        return versions
    words = title.lower()
    return [version for version in versions if words in version.title.lower()]


def report_condition(actor: Actor, text: str) -> ColumnElement[bool]:
    """A condition on ``incidents`` for a reports list's search box: the title contains ``text``,
    or (when ``text`` is an address, CIDR range, domain, URL, e-mail address, hash or AS number)
    the report carries an observable it finds. Readability is not part of it: add
    ``policy.incident_read_filter(actor)`` beside it (``actor`` only narrows which observables are
    looked at). InputError as parse_query."""
    query = parse_query(text)
    by_title = store.title_condition(query.text)
    if query.match is None:
        return by_title
    return or_(by_title, Incident.id.in_(store.incident_ids_with(actor, query.match)))
