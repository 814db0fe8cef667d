"""The STIX form of an early warning: a ``report`` authored by the CERT's identity referring to a
CERT-authored ``indicator``; the recommended action is part of both descriptions.

Source protection is structural: these builders take only the warning's own fields (observable,
RSIT classification, counts, CERT-written text) and the CERT's identity — never an incident,
a sighting or a reporting organization — so nothing of a reporter can leak into a warning.

Personal data: a warning about a phone number, bank account or payment card
(stix.fraud.PERSONAL_TYPES) carries the value's keyed hash (stix.keyed_hash), never the value,
unless CERT staff chose to publish it in clear (``publish_clear``): the indicator's pattern is
``[phone-number:x_cert_share_value_hmac = 'hmac-sha256:k1:…']`` and the texts built here name
the kind of value only.
"""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ..clock import stix_timestamp
from ..stix import markings
from ..stix.build import identity
from ..stix.fraud import PERSONAL_TYPES
from ..stix.keyed_hash import current_hash
from ..stix.observables import Observable
from ..vocab import OBSERVABLE_NOUNS, RSIT_LABELS, classification_label, rsit_label

RECOMMENDED_ACTIONS = {
    "ipv4-addr": "Block the address at the perimeter (firewall, IPS) and search firewall and proxy logs "
                 "for connections to or from it.",
    "ipv6-addr": "Block the address at the perimeter (firewall, IPS) and search firewall and proxy logs "
                 "for connections to or from it.",
    "domain-name": "Sinkhole or block the domain in your DNS resolvers and search DNS and proxy logs for "
                   "lookups of it.",
    "url": "Block the URL in web proxies and mail filters and search proxy logs for requests to it.",
    "email-addr": "Block the sender at the mail gateway and search mail logs for messages from or to it.",
    "file": "Add the hash to EDR and antivirus block lists and hunt for the file on endpoints and mail "
            "attachments.",
    "autonomous-system": "Review traffic from this autonomous system; rate-limit or block it at the perimeter "
                         "if it has no business use.",
    "bank-account": "Check payments to and from this account; hold outgoing transfers to it for review and "
                    "tell the account-holding bank and the CERT what you find.",
    "phone-number": "Block or flag calls and messages from this number (SMS firewall, call screening) and warn "
                    "customers who were in contact with it.",
    "cryptocurrency-wallet": "Flag transfers to this wallet at exchanges and payment screening, and check "
                             "whether customers paid into it.",
    "payment-card": "Check transactions of cards with this BIN and last four digits and block the card if it "
                    "is one of yours.",
}
OWNER_ACTION = ("This observable belongs to your own registered assets: check the system for compromise, "
                "isolate it if confirmed, and tell the CERT what you found.")


class WarningLike(Protocol):
    audience: str
    report_id: str
    indicator_id: str
    observable_type: str
    observable_value: str
    observable_display: str
    title: str
    description: str
    recommended_action: str
    classification: str
    tlp: str
    confidence: int
    valid_from: datetime
    valid_until: datetime
    created: datetime
    modified: datetime
    revoked: bool
    publish_clear: bool


class OrgLike(Protocol):
    name: str
    sector: str
    stix_id: str
    created_at: datetime


def recommended_action(obs_type: str, owner: bool) -> str:
    if owner:
        return OWNER_ACTION
    return RECOMMENDED_ACTIONS.get(obs_type.split(":", 1)[0], "")


def hides_value(obs_type: str, publish_clear: bool) -> bool:
    """Does a warning about this type carry the keyed hash instead of the value?"""
    return obs_type in PERSONAL_TYPES and not publish_clear


def _named(obs_type: str, display: str) -> str:
    """The observable as the default texts name it: a personal value's kind only, whatever
    ``publish_clear`` says (texts outlive that choice, and CERT staff may unmake it)."""
    noun = OBSERVABLE_NOUNS.get(obs_type, obs_type)
    return noun if obs_type in PERSONAL_TYPES else f"{noun} {display}"


def default_title(obs_type: str, display: str, classification: str, owner: bool) -> str:
    cls = RSIT_LABELS.get(classification.split("/", 1)[0], "Suspicious activity")
    if owner:
        return f"{cls}: {_named(obs_type, display)} in your registered assets"
    return f"{cls}: {_named(obs_type, display)} reported by several organizations"


def default_description(obs_type: str, display: str, classification: str, reporters: int,
                        window_days: int, asset: str | None) -> str:
    what = f"The {_named(obs_type, display)} was reported as {classification_label(classification)}"
    if asset is not None:
        text = (f"{what} by {reporters} organization(s) of the constituency or partner CERTs. "
                f"It lies within your registered asset {asset}.")
    else:
        text = f"{what} by {reporters} organizations of the constituency within {window_days} days."
    if obs_type in PERSONAL_TYPES:
        text += (" The indicator names it by its keyed hash: look up the values you hold with "
                 "GET /api/v1/observables?value=, or hash them with the key the CERT gave you.")
    return text


def warning_objects(warning: WarningLike, cert: OrgLike, *, with_identity: bool = True) -> list[dict]:
    """The warning's current version: CERT identity (unless left out), indicator, report."""
    marking = markings.marking_id(warning.tlp)
    created = stix_timestamp(warning.created)
    modified = stix_timestamp(warning.modified)
    obs = Observable(warning.observable_type, warning.observable_value, warning.observable_display)
    if hides_value(warning.observable_type, warning.publish_clear):
        digest = current_hash(obs.type, obs.value)
        name = f"{obs.type} {digest[:digest.rindex(':') + 13]}…"
        pattern = f"[{obs.type}:x_cert_share_value_hmac = '{digest}']"
    else:
        name, pattern = f"{obs.type} {obs.display}", obs.pattern()
    labels = ["early-warning", rsit_label(warning.classification)]
    if warning.audience != "community":
        labels.append("constituency-match")
    common: dict[str, object] = {"spec_version": "2.1", "created": created, "modified": modified,
                                 "created_by_ref": cert.stix_id, "object_marking_refs": [marking]}
    if warning.revoked:
        common["revoked"] = True
    indicator = {
        "type": "indicator", "id": warning.indicator_id, **common,
        "name": name,
        "indicator_types": ["malicious-activity"],
        "pattern": pattern, "pattern_type": "stix", "pattern_version": "2.1",
        "valid_from": stix_timestamp(warning.valid_from),
        "valid_until": stix_timestamp(warning.valid_until),
        "confidence": warning.confidence,
        "labels": labels,
    }
    if warning.recommended_action:
        # The recommended action travels in the indicator and report descriptions rather than as a
        # separate course-of-action: every consumer shows descriptions, and it keeps a warning at
        # two stored objects per collection (publish cost, poll size).
        indicator["description"] = f"Recommended action: {warning.recommended_action}"
    objects = ([identity(cert)] if with_identity else []) + [indicator]
    description = warning.description or warning.title
    if warning.recommended_action:
        description += f"\n\nRecommended action: {warning.recommended_action}"
    report = {
        "type": "report", "id": warning.report_id, **common,
        "name": warning.title,
        "description": description,
        "report_types": ["indicator", "threat-report"],
        "published": modified,
        "object_refs": [indicator["id"]],
        "labels": labels,
        "confidence": warning.confidence,
    }
    objects.append(report)
    return objects
