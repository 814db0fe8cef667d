"""Observable values: recognise their type, validate them, normalise them, map them to STIX.

Every channel (form, API, TAXII, MISP, feeds) funnels values through :func:`normalize`, so the
same address typed by two analysts ends up as the same value and the same SCO id.
"""
from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import idna
from flask_babel import gettext

from ..config import setting
from . import fraud
from .card_redaction import holds_card

TYPES: tuple[str, ...] = (
    "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr",
    "file:md5", "file:sha1", "file:sha256", "file:sha512", "autonomous-system",
    *fraud.FRAUD_TYPES,
)
PERSONAL_TYPES = fraud.PERSONAL_TYPES
# OpenCTI's extension for the SCO types STIX 2.1 lacks (bank-account, phone-number, payment-card,
# cryptocurrency-wallet): its published types are reused as they are, so OpenCTI ingests them.
OPENCTI_SCO_EXTENSION = "extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82"

HASH_LENGTHS = {"file:md5": 32, "file:sha1": 40, "file:sha256": 64, "file:sha512": 128}
STIX_HASH_NAMES = {"file:md5": "MD5", "file:sha1": "SHA-1", "file:sha256": "SHA-256", "file:sha512": "SHA-512"}

# STIX 2.1 section 2.9: namespace for deterministic SCO identifiers.
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

MAX_VALUE_LENGTH = 2048
# A value longer than this is refused by a message that does not quote it, so it is not scanned
# for a card number (NFC can lengthen a text: the margin keeps every value that may be quoted).
_SCANNED_LENGTH = 4 * MAX_VALUE_LENGTH

_HEX = re.compile(r"^[0-9a-fA-F]+$")
# The Cc characters of ASCII (ASCII has no Cf): the per-character Unicode lookup is only needed
# beyond it, and would cost a tenth of parsing a large import.
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_ASN = re.compile(r"^(?:AS)?(\d{1,10})$", re.IGNORECASE)


class ObservableError(fraud.ValueRefused):
    """A value that is not a valid observable of the given type. Its message may repeat the value,
    except for a full payment card number, which it never does.

    Messages are worded when raised (gettext): in the reader's language on a page, English on the
    API and TAXII; the flags are fraud.ValueRefused's.
    """

    @classmethod
    def of(cls, exc: fraud.FraudValueError) -> ObservableError:
        return cls(str(exc), full_card=exc.full_card, quotes_nothing=exc.quotes_nothing, unnamed=exc.unnamed)


@dataclass(frozen=True)
class Observable:
    type: str
    value: str  # normalized (punycode domains, lower-case hashes, compressed IPv6)
    display: str  # what a person reads (Unicode domains)

    @property
    def sco_type(self) -> str:
        return self.type.split(":", 1)[0]

    @property
    def stix_id(self) -> str:
        return sco_id(self)

    def pattern(self) -> str:
        return stix_pattern(self)


def refang(text: str) -> str:
    """Undo the usual defanging analysts paste: hxxp, [.], (.), [@], [:]."""
    text = re.sub(r"^hxxp", "http", text, flags=re.IGNORECASE)
    for fanged, plain in (("[.]", "."), ("(.)", "."), ("{.}", "."), ("[dot]", "."), ("[@]", "@"),
                          ("[at]", "@"), ("[:]", ":"), ("[://]", "://")):
        text = text.replace(fanged, plain)
    return text


def _clean(value: object) -> str:
    if not isinstance(value, str):
        raise ObservableError(gettext("must be a string"))
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise ObservableError(gettext("must not be empty"))
    if _ASCII_CONTROL.search(text) if text.isascii() else any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in text):
        raise ObservableError(gettext("contains control characters"))
    if len(text) > MAX_VALUE_LENGTH:
        raise ObservableError(gettext("is longer than %(max)s characters", max=MAX_VALUE_LENGTH), unnamed=True)
    return text


def normalize_domain(text: str) -> tuple[str, str]:
    """Return (A-label form, Unicode form) of a host name, or raise ObservableError."""
    host = text.rstrip(".").lower()
    if not host or len(host) > 253:
        raise ObservableError(gettext("%(text)r is not a valid domain name", text=text))
    if host.isascii() and all(_LABEL.match(label) and label[2:4] != "--" for label in host.split(".")):
        # Plain letter-digit-hyphen labels (no "xn--" or other "??--" label): IDNA maps them to
        # themselves, and the idna package would take a fifth of a large import to say so.
        ascii_form = display = host
    else:
        try:
            ascii_form = idna.encode(host, uts46=True).decode("ascii")
            display = idna.decode(ascii_form)
        except (idna.IDNAError, UnicodeError):
            raise ObservableError(gettext("%(text)r is not a valid domain name", text=text)) from None
    labels = ascii_form.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise ObservableError(gettext("%(text)r is not a valid domain name", text=text))
    return ascii_form, display


def _ip(text: str, version: int) -> str:
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            if net.version != version:
                raise ValueError
            return str(net) if net.prefixlen != net.max_prefixlen else str(net.network_address)
        addr = ipaddress.ip_address(text)
        if addr.version != version:
            raise ValueError
        return str(addr)
    except ValueError:
        raise ObservableError(gettext("%(text)r is not a valid IPv%(version)s address", text=text,
                                      version=version)) from None


def normalize(type_: str, value: object) -> Observable:
    """Validate and normalise one observable; raise ObservableError saying what is wrong."""
    try:
        return _normalize(type_, value)
    except ObservableError as exc:
        if exc.quotes_nothing:
            raise
        if isinstance(value, str) and len(value.strip()) <= _SCANNED_LENGTH and holds_card(value):
            # Whatever type it was sent as, and however it is spelled (any script's digits, other
            # separators, URL-encoded, or inside a longer value), a card number is never repeated.
            raise ObservableError.of(fraud.full_card_refused()) from None
        raise


def _normalize(type_: str, value: object) -> Observable:
    if type_ not in TYPES:
        raise ObservableError(gettext("unknown observable type %(type)r; expected one of: %(types)s", type=type_,
                                      types=", ".join(TYPES)))
    if type_ in fraud.FRAUD_TYPES:
        return _normalize_fraud(type_, _clean(value))
    text = refang(_clean(value))
    if type_ == "ipv4-addr":
        v = _ip(text, 4)
        return Observable(type_, v, v)
    if type_ == "ipv6-addr":
        v = _ip(text, 6)
        return Observable(type_, v, v)
    if type_ == "domain-name":
        ascii_form, display = normalize_domain(text)
        return Observable(type_, ascii_form, display)
    if type_ == "email-addr":
        return _normalize_email(text)
    if type_ == "url":
        return _normalize_url(text)
    if type_ in HASH_LENGTHS:
        return _normalize_hash(type_, text)
    if type_ == "autonomous-system":
        m = _ASN.match(text.replace(" ", ""))
        if not m or not 0 < int(m.group(1)) < 2**32:
            raise ObservableError(gettext("%(text)r is not a valid AS number (e.g. AS64500)", text=text))
        number = int(m.group(1))
        return Observable(type_, str(number), f"AS{number}")
    raise ObservableError(gettext("unknown observable type %(type)r", type=type_))  # pragma: no cover


def _normalize_fraud(type_: str, text: str) -> Observable:
    try:
        if type_ == "bank-account":
            v = fraud.bank_account(text)
        elif type_ == "phone-number":
            region = setting("PHONE_DEFAULT_REGION")
            v = fraud.phone_number(text, region.strip().upper() if region else None)
        elif type_ == "cryptocurrency-wallet":
            v = fraud.cryptocurrency_wallet(text)
        else:
            v = fraud.payment_card(text)
    except fraud.FraudValueError as exc:
        raise ObservableError.of(exc) from None
    return Observable(type_, v.value, v.display)


def wallet_chain(obs: Observable) -> str | None:
    """bitcoin, ethereum or monero for a wallet; None for other types."""
    return fraud.wallet_chain(obs.value) if obs.type == "cryptocurrency-wallet" else None


def _normalize_email(text: str) -> Observable:
    local, sep, domain = text.rpartition("@")
    if not sep or not _LOCAL_PART.match(local) or local.startswith(".") or ".." in local:
        raise ObservableError(gettext("%(text)r is not a valid e-mail address", text=text))
    try:
        ascii_domain, display_domain = normalize_domain(domain)
    except ObservableError:
        raise ObservableError(gettext("%(text)r is not a valid e-mail address", text=text)) from None
    return Observable("email-addr", f"{local}@{ascii_domain}", f"{local}@{display_domain}")


def _normalize_hash(type_: str, text: str) -> Observable:
    if len(text) != HASH_LENGTHS[type_] or not _HEX.match(text):
        raise ObservableError(gettext("%(text)r is not a valid %(name)s hash (%(length)s hexadecimal digits)",
                                      text=text, name=STIX_HASH_NAMES[type_], length=HASH_LENGTHS[type_]))
    return Observable(type_, text.lower(), text.lower())


def _normalize_url(text: str) -> Observable:
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise ObservableError(gettext("%(text)r is not a valid URL", text=text)) from None
    if parts.scheme.lower() not in {"http", "https", "ftp", "ftps", "sftp", "ws", "wss", "tcp", "udp"} or not host:
        raise ObservableError(gettext("%(text)r is not a valid URL (expected scheme://host/...)", text=text))
    if " " in text:
        raise ObservableError(gettext("%(text)r is not a valid URL (contains spaces)", text=text))
    try:
        ip = ipaddress.ip_address(host)
        ascii_host = display_host = f"[{ip}]" if ip.version == 6 else str(ip)
    except ValueError:
        try:
            ascii_host, display_host = normalize_domain(host)
        except ObservableError:
            raise ObservableError(gettext("%(text)r is not a valid URL (bad host %(host)r)", text=text,
                                          host=host)) from None
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    suffix = f":{port}" if port is not None else ""
    scheme = parts.scheme.lower()
    value = urlunsplit((scheme, f"{prefix}{ascii_host}{suffix}", parts.path, parts.query, parts.fragment))
    display = urlunsplit((scheme, f"{prefix}{display_host}{suffix}", parts.path, parts.query, parts.fragment))
    return Observable("url", value, display)


def recognize(line: str) -> Observable:
    """Guess the type of a pasted value and normalise it (for the one-per-line form field)."""
    text = refang(_clean(line))
    if _HEX.match(text):
        for type_, length in HASH_LENGTHS.items():
            if len(text) == length:
                return normalize(type_, text)
    candidates: list[str]
    # "AS4294967296" has an IBAN's shape too: an AS number's "AS" prefix decides first.
    as_number = bool(_ASN.match(text)) and text.upper().startswith("AS")
    fraud_type = None if as_number or re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE) else fraud.guess(text)
    if fraud_type is not None:
        candidates = [fraud_type]
    elif re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE):
        candidates = ["url"]
    elif _ASN.match(text) and text.upper().startswith("AS"):
        candidates = ["autonomous-system"]
    elif "@" in text:
        candidates = ["email-addr"]
    elif ":" in text:
        candidates = ["ipv6-addr"]
    elif re.match(r"^[\d./]+$", text):
        candidates = ["ipv4-addr"]
    else:
        candidates = ["domain-name"]
    for type_ in candidates:
        return normalize(type_, text)
    raise ObservableError(gettext("cannot tell what %(line)r is", line=line))  # pragma: no cover


def ip_hex(obs: Observable) -> str | None:
    """128-bit hex of a single IP address (IPv4 mapped), for range matching; None otherwise."""
    if obs.type not in {"ipv4-addr", "ipv6-addr"} or "/" in obs.value:
        return None
    return ip_to_hex(ipaddress.ip_address(obs.value))


def host_key(type_: str, value: str) -> str | None:
    """The host an observable names, labels reversed ("www.example.com" -> "com.example.www"),
    for domain names, URLs on a named host and e-mail addresses; None otherwise.

    A domain's subdomains, and the URLs and addresses on them, then share its key as a prefix:
    "under example.com" is one indexed range (see :func:`host_key_range`)."""
    if type_ == "domain-name":
        host = value
    elif type_ == "email-addr":
        host = value.rpartition("@")[2]
    elif type_ == "url":
        try:
            host = urlsplit(value).hostname or ""
        except ValueError:
            return None
        if not host or host.startswith("[") or _is_ip(host):
            return None
    else:
        return None
    return ".".join(reversed(host.split(".")))


def host_key_range(domain: str) -> tuple[str, str, str]:
    """(key, low, high) for a normalized domain: a stored key is the domain itself when it
    equals ``key``, and a name under it when ``low <= stored < high`` ("." and "/" are
    neighbours in byte order, and no host name holds "/")."""
    key = ".".join(reversed(domain.split(".")))
    return key, key + ".", key + "/"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def ip_to_hex(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    value = int(addr) + (0xFFFF << 32 if addr.version == 4 else 0)
    return f"{value:032x}"


def _canonical_json(value: dict) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sco_dict(obs: Observable, known_id: str | None = None) -> dict:
    """The SCO as a plain dict (id deterministic per STIX 2.1 section 2.9). ``known_id``: the id
    already computed for this value (stored observables carry it), to skip the hashing."""
    contributing: dict[str, object]
    extra: dict[str, object] = {}
    if obs.type in HASH_LENGTHS:
        contributing = {"hashes": {STIX_HASH_NAMES[obs.type]: obs.value}}
    elif obs.type == "autonomous-system":
        contributing = {"number": int(obs.value)}
    elif obs.type == "bank-account":
        # OpenCTI's bank-account: the IBAN is its id contributing property; a national account
        # (no IBAN) is identified by its BIC and number, as deterministically.
        contributing = dict(fraud.bank_account_parts(obs.value))
        extra = {"value": obs.value}
    elif obs.type == "payment-card":
        contributing = {"card_number": obs.value}
        extra = {"value": obs.value}
    else:
        contributing = {"value": obs.value}
    sco_type = obs.sco_type
    if known_id is None:
        known_id = f"{sco_type}--{uuid.uuid5(SCO_NAMESPACE, _canonical_json(contributing))}"
    sco: dict[str, object] = {"type": sco_type, "spec_version": "2.1", "id": known_id, **extra, **contributing}
    if obs.type in fraud.FRAUD_TYPES:
        sco["extensions"] = {OPENCTI_SCO_EXTENSION: {"extension_type": "new-sco"}}
    return sco


def sco_id(obs: Observable) -> str:
    return sco_dict(obs)["id"]


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def stix_pattern(obs: Observable) -> str:
    if obs.type in HASH_LENGTHS:
        return f"[file:hashes.{_quote(STIX_HASH_NAMES[obs.type])} = {_quote(obs.value)}]"
    if obs.type == "autonomous-system":
        return f"[autonomous-system:number = {int(obs.value)}]"
    if obs.type in {"ipv4-addr", "ipv6-addr"} and "/" in obs.value:
        return f"[{obs.type}:value ISSUBSET {_quote(obs.value)}]"
    if obs.type == "bank-account":
        parts = fraud.bank_account_parts(obs.value)
        return " AND ".join(f"{obs.type}:{name} = {_quote(v)}" for name, v in parts.items()).join("[]")
    if obs.type == "payment-card":
        return f"[payment-card:card_number = {_quote(obs.value)}]"
    return f"[{obs.type}:value = {_quote(obs.value)}]"
