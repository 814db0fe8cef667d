"""MISP events (as MISP exports them) → report drafts. Pure: no Flask, no session.

Accepted shapes: ``{"response": [{"Event": {...}}, ...]}`` (the REST/export format; every event
in the list becomes a report), ``{"Event": {...}}`` and a bare event object.

Mapping rules (one event → one report):

* **title** = ``info``; **external_id** = ``misp:<event uuid>``, so importing the same event
  again into the same organization stores nothing new.
* **classification**: an ``rsit:class="type"`` tag (event or attribute level) if present, else an
  ``ecsirt:`` tag translated to RSIT (eCSIRT is RSIT's predecessor), else ``other/undetermined``.
* **severity** from ``threat_level_id``: 1 high, 2 medium, 3 low, 4 (undefined) low.
* **TLP** from ``tlp:`` tags on the event, its attributes and objects, the strictest one wins
  (``tlp:white`` is TLP 2.0 ``clear``; ``tlp:amber+strict`` and ``tlp:red`` as named). No TLP
  tag → ``amber+strict``: MISP's ``distribution`` says who may *receive* the event within MISP,
  not how far it may spread afterwards, so we fail closed instead of guessing.
* **detected_at** = the event ``date`` (midnight UTC), else its ``timestamp``; clamped to now if
  the source clock is ahead. **started_at** = the earliest attribute ``first_seen`` if present.
* **observables** from event attributes *and* object attributes, deleted ones excepted:
  ip-src/ip-dst (+ ``|port``), domain, hostname (+ ``|port``), ``domain|ip`` (both halves), url,
  email/email-src/email-dst/email-reply-to, md5/sha1/sha256/sha512 and their ``filename|hash``
  composites (and ``malware-sample``), AS, and the fraud identifiers (below). ``to_ids = false``
  attributes are included: they are values the reporting party observed (most vendor events set
  to_ids false on everything), and whether to turn them into warnings is the CERT's decision at
  triage, not the importer's.
  ``link`` attributes and anything in the ``External analysis`` category are references, not
  observables: they go to the description. Types without a mapping are skipped and counted;
  values that do not validate (``999.1.1.1``) are skipped and quoted in the summary.
* **fraud identifiers**: ``iban`` → bank-account (an IBAN, checksum validated); ``bank-account-nr``
  → bank-account ``BIC/ACCOUNT`` when the same object holds one BIC (``bic``, or the bank-account
  object's ``swift``), else skipped with the reason (a national account number means nothing
  without its bank; a value that is itself an IBAN or ``BIC/ACCOUNT`` is taken as it is); ``bic``
  is kept only as the BIC of an account of its object, alone it is skipped with the reason;
  ``phone-number`` → phone-number (E.164; national numbers need PHONE_DEFAULT_REGION); ``btc``
  and ``xmr`` → cryptocurrency-wallet, which must be a Bitcoin or a Monero address
  respectively; ``cc-number`` → payment-card truncated to BIN + last 4 (``fraud.mask_card``): the
  full number is never kept, and a refused one is never quoted. Objects whose template gives a
  generic ``text`` type a fixed meaning: ``bank-account`` (``iban``, ``swift``, ``account``;
  with an IBAN the object's account number is the IBAN's own and is skipped), ``phone``
  (``msisdn``, a number in international form without its "+", and ``phone-number``) and
  ``coin-address`` (``address-crypto``, any chain the platform knows). A full card number met in
  the title or description text is masked the same way.
* **description**: the event's provenance (creator organization, date, uuid), its tags, the
  event-level ``text``/``comment`` values (typically AV detection names) and the references,
  capped so a report stays readable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeGuard

from ..clock import parse_iso
from ..limits import MAX_TITLE
from ..vocab import CLASSIFICATIONS, RSIT, strictest_tlp
from . import fraud
from .card_redaction import holds_card
from .drafts import DEFAULT_CLASSIFICATION, DEFAULT_TLP, ImportFormatError, ObservableCollector, ReportDraft
from .observables import Observable, ObservableError, normalize, wallet_chain

MAX_DESCRIPTION = 4_000

SEVERITY_BY_THREAT_LEVEL = {"1": "high", "2": "medium", "3": "low", "4": "low"}

TLP_TAGS = {
    "tlp:white": "clear", "tlp:clear": "clear", "tlp:green": "green", "tlp:amber": "amber",
    "tlp:amber+strict": "amber+strict", "tlp:red": "red",
}

# MISP attribute type -> what it carries. "ip" means IPv4 or IPv6 decided by the value.
SIMPLE_TYPES = {
    "ip-src": "ip", "ip-dst": "ip", "domain": "domain-name", "hostname": "domain-name", "url": "url",
    "email": "email-addr", "email-src": "email-addr", "email-dst": "email-addr",
    "email-reply-to": "email-addr", "md5": "file:md5", "sha1": "file:sha1", "sha256": "file:sha256",
    "sha512": "file:sha512", "AS": "autonomous-system",
}
# Composite "a|b" types: which halves to keep, and as what (None = drop that half).
COMPOSITE_TYPES = {
    "ip-src|port": ("ip", None), "ip-dst|port": ("ip", None), "hostname|port": ("domain-name", None),
    "domain|ip": ("domain-name", "ip"), "filename|md5": (None, "file:md5"),
    "filename|sha1": (None, "file:sha1"), "filename|sha256": (None, "file:sha256"),
    "filename|sha512": (None, "file:sha512"), "malware-sample": (None, "file:md5"),
}
# Fraud identifiers (handled by _add_fraud: some need the rest of their object).
FRAUD_KINDS = {"iban", "bic", "bank-account-nr", "phone-number", "msisdn", "btc", "xmr", "address-crypto",
               "cc-number"}
# Object attributes whose MISP type is generic (often "text") but whose template fixes the meaning:
# (object name, object_relation) -> kind. From MISP/misp-objects: bank-account, phone, coin-address.
OBJECT_RELATIONS = {
    ("bank-account", "iban"): "iban", ("bank-account", "swift"): "bic", ("bank-account", "bic"): "bic",
    ("bank-account", "account"): "bank-account-nr",
    ("phone", "msisdn"): "msisdn", ("phone", "phone-number"): "phone-number",
    ("coin-address", "address"): "btc", ("coin-address", "address-xmr"): "xmr",
    ("coin-address", "address-crypto"): "address-crypto",
}
WALLET_CHAINS = {"btc": ("bitcoin", "Bitcoin"), "xmr": ("monero", "Monero")}
NOTE_TYPES = {"text", "comment"}
REFERENCE_TYPES = {"link"}
REFERENCE_CATEGORY = "External analysis"

# A whole run of 13-19 digits (spaces or single dashes between them), not part of a longer word.
_CARD_RUN = re.compile(r"(?<![0-9A-Za-z])(?<![0-9][ -])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z])(?![ -][0-9])")
# A bank-account-nr value that names its bank by itself: an IBAN, or BIC/ACCOUNT.
_SELF_CONTAINED_ACCOUNT = re.compile(r"^(?:IBAN:?)?[A-Za-z]{2}\d{2}[A-Za-z0-9]{8,30}$")
_BIC_FIRST = re.compile(r"^[A-Za-z]{6}[A-Za-z0-9]{2}(?:[A-Za-z0-9]{3})?\s*[/:]")
_MACHINE_TAG = re.compile(r'^(rsit|ecsirt):([a-z0-9-]+)\s*=\s*"([^"]+)"$', re.IGNORECASE)

# eCSIRT types that RSIT renamed or merged (the rest kept their names).
ECSIRT_TO_RSIT = {
    ("malicious-code", "virus"): "malicious-code/infected-system",
    ("malicious-code", "worm"): "malicious-code/infected-system",
    ("malicious-code", "trojan"): "malicious-code/infected-system",
    ("malicious-code", "spyware"): "malicious-code/infected-system",
    ("malicious-code", "dialer"): "malicious-code/infected-system",
    ("malicious-code", "rootkit"): "malicious-code/infected-system",
    ("malicious-code", "malware"): "malicious-code/infected-system",
    ("malicious-code", "botnet-drone"): "malicious-code/infected-system",
    ("malicious-code", "ransomware"): "malicious-code/infected-system",
    ("malicious-code", "c&c"): "malicious-code/c2-server",
    ("intrusions", "compromised-account"): "intrusions/unprivileged-account-compromise",
    ("intrusions", "backdoor"): "intrusions/system-compromise",
    ("intrusions", "compromised"): "intrusions/system-compromise",
    ("intrusions", "defacement"): "intrusions/application-compromise",
    ("intrusions", "bot"): "intrusions/system-compromise",
    ("intrusion-attempts", "login-attempts"): "intrusion-attempts/brute-force",
    ("vulnerable", "vulnerable-service"): "vulnerable/vulnerable-system",
    ("fraud", "unauthorized-use-of-resources"): "fraud/unauthorised-use-of-resources",
    ("information-content-security", "unauthorized-information-access"):
        "information-content-security/unauthorised-information-access",
    ("information-content-security", "unauthorized-information-modification"):
        "information-content-security/unauthorised-information-modification",
}


def events_of(document: object) -> list[dict]:
    """The events in a MISP export, whichever of the three shapes it has."""
    if isinstance(document, dict) and "response" in document:
        response = document["response"]
        if isinstance(response, dict):
            response = [response]
        if not isinstance(response, list) or not response:
            raise ImportFormatError("MISP export: 'response' holds no events")
        events = [item.get("Event") if isinstance(item, dict) else None for item in response]
    elif isinstance(document, dict) and "Event" in document:
        events = [document["Event"]]
    else:
        events = [document]
    checked = [event for event in events if looks_like_event(event)]
    if len(checked) != len(events):
        raise ImportFormatError("not a MISP event: expected an object with 'info' and 'Attribute' or 'Object'")
    return checked


def looks_like_event(obj: object) -> TypeGuard[dict]:
    return isinstance(obj, dict) and isinstance(obj.get("info"), str) and (
        isinstance(obj.get("Attribute"), list) or isinstance(obj.get("Object"), list))


def is_misp(document: object) -> bool:
    if isinstance(document, dict) and ("response" in document or "Event" in document):
        return True
    return looks_like_event(document)


@dataclass(frozen=True)
class _ObjectContext:
    """What an attribute needs to know about the rest of its object: a national account number
    means something only with its bank's BIC, and an IBAN already names the account."""

    name: str = ""
    bics: tuple[str, ...] = ()  # distinct, compact upper case
    has_iban: bool = False  # a valid IBAN
    has_account_number: bool = False

    @classmethod
    def of(cls, name: str, attributes: list[dict]) -> "_ObjectContext":
        bics: list[str] = []
        has_iban = has_account_number = False
        for attribute in attributes:
            value = attribute.get("value")
            if not isinstance(value, str) or not value.strip():
                continue
            kind = _kind(name, attribute)
            if kind == "bic":
                bic = re.sub(r"\s", "", value).upper()
                if bic not in bics:
                    bics.append(bic)
            elif kind == "iban":
                has_iban = has_iban or _iban(value) is not None
            elif kind == "bank-account-nr":
                has_account_number = True
        return cls(name, tuple(bics), has_iban, has_account_number)


NO_OBJECT = _ObjectContext()


@dataclass
class _EventContents:
    """What one event's attributes carry, gathered as they are visited."""

    tags: list[str]
    collector: ObservableCollector = field(default_factory=ObservableCollector)
    notes: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    first_seen: list[datetime] = field(default_factory=list)

    def visit_object(self, obj: object) -> None:
        if not isinstance(obj, dict) or _truthy(obj.get("deleted")):
            return
        self.tags.extend(_tag_names(obj))
        attributes = [a for a in obj.get("Attribute") or () if isinstance(a, dict) and not _truthy(a.get("deleted"))]
        context = _ObjectContext.of(str(obj.get("name") or ""), attributes)
        for attribute in attributes:
            self.visit(attribute, top_level=False, context=context)

    def visit(self, attribute: dict, *, top_level: bool, context: _ObjectContext = NO_OBJECT) -> None:
        if not isinstance(attribute, dict) or _truthy(attribute.get("deleted")):
            return
        self.tags.extend(_tag_names(attribute))
        type_ = str(attribute.get("type") or "")
        value = attribute.get("value")
        if not isinstance(value, str):
            self.collector.skip(type_ or "untyped")
            return
        kind = _kind(context.name, attribute)
        if kind in FRAUD_KINDS:
            # Before references and notes: a card number must never reach the description.
            if _add_fraud(self.collector, kind, value.strip(), context):
                seen = _parse_time(attribute.get("first_seen"))
                if seen:
                    self.first_seen.append(seen)
            return
        if type_ in REFERENCE_TYPES or attribute.get("category") == REFERENCE_CATEGORY:
            self.references.append(value.strip())
            self.collector.skip(f"{type_} (reference)")
            return
        if type_ in NOTE_TYPES:
            if top_level:
                self.notes.append(_note(attribute))
            self.collector.skip(type_)
            return
        if not _add_attribute(self.collector, type_, value):
            self.collector.skip(type_ or "untyped")
            return
        seen = _parse_time(attribute.get("first_seen"))
        if seen:
            self.first_seen.append(seen)


def event_to_draft(event: dict) -> ReportDraft:
    """One MISP event → one report draft (see the module docstring for the rules)."""
    uuid = str(event.get("uuid") or "").strip()
    if not uuid:
        raise ImportFormatError("MISP event has no 'uuid'")
    title = mask_cards((event.get("info") or "").strip()) or f"MISP event {uuid}"
    contents = _EventContents(tags=_tag_names(event))
    for attribute in event.get("Attribute") or ():
        contents.visit(attribute, top_level=True)
    for obj in event.get("Object") or ():
        contents.visit_object(obj)

    tags = contents.tags
    detected = _event_date(event)
    started = min(contents.first_seen) if contents.first_seen else None
    return ReportDraft(
        title=title[:MAX_TITLE],
        description=_description(event, uuid, tags, contents.notes, contents.references),
        classification=classification_from_tags(tags),
        severity=SEVERITY_BY_THREAT_LEVEL.get(str(event.get("threat_level_id") or "4"), "low"),
        tlp=tlp_from_tags(tags),
        detected_at=detected,
        started_at=started if started and started <= detected else None,
        external_id=f"misp:{uuid}"[:128],
        observables=contents.collector.observables,
        skipped=contents.collector.skipped,
        invalid=contents.collector.invalid,
    )


def _add_attribute(collector: ObservableCollector, type_: str, value: str) -> bool:
    """Add what the attribute carries; False if its type has no mapping."""
    if type_ in SIMPLE_TYPES:
        _add(collector, SIMPLE_TYPES[type_], value, type_)
        return True
    if type_ in COMPOSITE_TYPES:
        left, _, right = value.partition("|")
        for target, half in zip(COMPOSITE_TYPES[type_], (left, right), strict=True):
            if target is not None:
                _add(collector, target, half, type_)
        return True
    return False


def _add(collector: ObservableCollector, target: str, value: str, source_type: str) -> None:
    value = value.strip()
    if target == "ip":
        target = "ipv6-addr" if ":" in value else "ipv4-addr"
    elif target == "url" and "://" not in value:
        # MISP url attributes often lack the scheme ("evil.example/path").
        value = f"http://{value}"
    obs = _checked(collector, target, value, source_type)
    if obs is not None:
        collector.add_normalized(obs)


# -- fraud identifiers ------------------------------------------------------------------------------

def _kind(object_name: str, attribute: dict) -> str:
    """The attribute's MISP type, or the meaning its object's template gives its relation."""
    type_ = str(attribute.get("type") or "")
    return OBJECT_RELATIONS.get((object_name, str(attribute.get("object_relation") or "")), type_)


def _add_fraud(collector: ObservableCollector, kind: str, value: str, context: _ObjectContext) -> bool:
    """Add the fraud identifier an attribute carries; True if an observable was added. What is
    left out is counted (skipped, with the reason) or quoted (invalid, card numbers excepted)."""
    if kind == "cc-number":
        obs = _card(collector, value)
    elif kind == "bic":
        if not (context.has_iban or context.has_account_number):
            collector.skip("bic (no account in the same object)")
        return False  # otherwise it is the bank of the object's account
    elif kind == "bank-account-nr":
        obs = _account_number(collector, value, context)
    elif kind == "iban":
        obs = _checked(collector, "bank-account", value, kind)
        if obs is not None and "/" in obs.value:
            _invalid(collector, kind, value, "is not an IBAN (e.g. DE89 3704 0044 0532 0130 00)")
            obs = None
    elif kind in ("phone-number", "msisdn"):
        compact = re.sub(r"[\s\-]", "", value)
        if kind == "msisdn" and compact.isdigit() and not compact.startswith("0"):
            # An MSISDN is the international number without its "+" (84912345678).
            obs = _checked(collector, "phone-number", "+" + compact, kind, quoted=value)
        else:
            obs = _checked(collector, "phone-number", value, kind)
    else:  # btc, xmr, address-crypto
        obs = _checked(collector, "cryptocurrency-wallet", value, kind)
        if obs is not None and kind in WALLET_CHAINS and wallet_chain(obs) != WALLET_CHAINS[kind][0]:
            chain = str(wallet_chain(obs)).capitalize()
            _invalid(collector, kind, value, f"is not a {WALLET_CHAINS[kind][1]} address "
                                             f"(it is {'an' if chain[0] in 'AEIOU' else 'a'} {chain} address)")
            obs = None
    if obs is None:
        return False
    collector.add_normalized(obs)
    return True


def _account_number(collector: ObservableCollector, value: str, context: _ObjectContext) -> Observable | None:
    if context.has_iban:
        collector.skip("bank-account-nr (the IBAN of its object names the account)")
        return None
    if len(context.bics) == 1:
        return _checked(collector, "bank-account", f"{context.bics[0]}/{value}", "bank-account-nr")
    if len(context.bics) > 1:
        collector.skip("bank-account-nr (several BICs in its object)")
        return None
    if _SELF_CONTAINED_ACCOUNT.match(re.sub(r"[\s\-]", "", value)) or _BIC_FIRST.match(value):
        return _checked(collector, "bank-account", value, "bank-account-nr")
    collector.skip("bank-account-nr (no BIC in the same object)")
    return None


def _iban(value: str) -> Observable | None:
    try:
        obs = normalize("bank-account", value)
    except ObservableError:
        return None
    return obs if "/" not in obs.value else None


def _card(collector: ObservableCollector, value: str) -> Observable | None:
    """A ``cc-number``: a full number is truncated to BIN + last 4 before anything else sees it;
    one already truncated is taken as it is. The value is never quoted."""
    compact = re.sub(r"[\s\-]", "", value)
    if compact.isdigit():
        if not 12 <= len(compact) <= 19:
            _invalid(collector, "cc-number", value, "is not a card number (12 to 19 digits)", quote=False)
            return None
        if not fraud.luhn_valid(compact):
            _invalid(collector, "cc-number", value, "is not a card number (its check digit is wrong)", quote=False)
            return None
        value = fraud.mask_card(compact).value
    try:
        return normalize("payment-card", value)
    except ObservableError as exc:
        _invalid(collector, "cc-number", value, str(exc), quote=False)
        return None


def _checked(collector: ObservableCollector, type_: str, value: str, label: str, *,
             quoted: str | None = None) -> Observable | None:
    """The normalized observable, or None with the reason noted among the invalid values."""
    try:
        return normalize(type_, value)
    except ObservableError as exc:
        _invalid(collector, label, value if quoted is None else quoted, str(exc), quote=not exc.full_card)
        return None


def _invalid(collector: ObservableCollector, label: str, value: str, reason: str, *, quote: bool = True) -> None:
    if quote and not holds_card(value):
        collector.invalid.append(f"{label} {value[:80]!r}: {reason}")
    else:
        collector.invalid.append(f"{label} (value not shown): {reason}")


def mask_cards(text: str) -> str:
    """``text`` with every full card number in it truncated to BIN + last 4 (13-19 digits, spaces
    or dashes allowed, a major network's first digit, Luhn-valid)."""
    def masked(m: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", m.group(0))
        if digits[0] in "23456" and fraud.luhn_valid(digits):
            return fraud.mask_card(digits).value
        return m.group(0)
    return _CARD_RUN.sub(masked, text)


def classification_from_tags(tags: list[str]) -> str:
    ecsirt = None
    for tag in tags:
        m = _MACHINE_TAG.match(tag.strip())
        if not m:
            continue
        namespace, cls, typ = (m.group(1).lower(), m.group(2).lower(), m.group(3).strip().lower())
        if namespace == "rsit" and f"{cls}/{typ}" in CLASSIFICATIONS:
            return f"{cls}/{typ}"
        if namespace == "ecsirt" and ecsirt is None:
            ecsirt = ECSIRT_TO_RSIT.get((cls, typ)) or (f"{cls}/{typ}" if f"{cls}/{typ}" in CLASSIFICATIONS else None)
            if ecsirt is None and cls in RSIT:
                ecsirt = f"{cls}/{RSIT[cls][0]}" if cls != "other" else DEFAULT_CLASSIFICATION
    return ecsirt or DEFAULT_CLASSIFICATION


def tlp_from_tags(tags: list[str]) -> str:
    levels = [TLP_TAGS[t.strip().lower()] for t in tags if t.strip().lower() in TLP_TAGS]
    return strictest_tlp(levels) or DEFAULT_TLP


def _tag_names(obj: dict) -> list[str]:
    names = []
    for tag in obj.get("Tag") or ():
        if isinstance(tag, dict) and isinstance(tag.get("name"), str):
            names.append(tag["name"])
    return names


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() in {"1", "true"}


def _note(attribute: dict) -> str:
    category = attribute.get("category") or attribute.get("type")
    comment = (attribute.get("comment") or "").strip()
    text = f"{category}: {attribute['value'].strip()}"
    return f"{text} ({comment})" if comment else text


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, str) and value.strip():
        try:
            return parse_iso(value)
        except ValueError:
            return None
    return None


def _event_date(event: dict) -> datetime:
    date = event.get("date")
    if isinstance(date, str):
        try:
            return datetime.strptime(date.strip(), "%Y-%m-%d").replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    for key in ("timestamp", "publish_timestamp"):
        value = event.get(key)
        if value is None:
            continue
        try:
            stamp = int(value)
        except (TypeError, ValueError):
            continue
        if stamp > 0:
            return datetime.fromtimestamp(stamp, timezone.utc)
    raise ImportFormatError("MISP event has neither a valid 'date' (YYYY-MM-DD) nor a 'timestamp'")


def _description(event: dict, uuid: str, tags: list[str], notes: list[str], references: list[str]) -> str:
    creator = (event.get("Orgc") or {}).get("name") if isinstance(event.get("Orgc"), dict) else None
    lines = [f"Imported from MISP event {uuid}" + (f" by {creator}" if creator else "")
             + (f", dated {event['date']}." if isinstance(event.get("date"), str) else ".")]
    shown_tags = [t for t in dict.fromkeys(tags) if not t.lower().startswith("tlp:")]
    if shown_tags:
        lines.append("Tags: " + "; ".join(shown_tags))
    if notes:
        lines.append("Notes:\n" + "\n".join(f"- {n}" for n in dict.fromkeys(notes)))
    if references:
        lines.append("References:\n" + "\n".join(f"- {r}" for r in dict.fromkeys(references)))
    text = mask_cards("\n\n".join(lines))
    if len(text) > MAX_DESCRIPTION:
        text = text[:MAX_DESCRIPTION - 1].rstrip() + "…"
    return text
