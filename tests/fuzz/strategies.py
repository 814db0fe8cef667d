"""Hypothesis strategies for what a TAXII client can send: STIX 2.1 objects (valid-ish, marked,
hostile) in envelopes, and query strings for the read routes.

Objects are built from the pieces a real feed uses (indicator, incident, SCOs, note, identity,
marking-definition, custom objects), then some are given a hostile value: a number JSON allows but
a standard client cannot hold (``1e400``, 2^70), a string that is not valid Unicode (a lone
surrogate, sent as the ``\\ud800`` escape JSON permits), a timestamp that overflows once its UTC
offset is applied, deep nesting or a long string. Values are serialised by :func:`to_json`,
which writes :class:`RawNumber` tokens as they are, so that the server sees exactly that text.

Identifiers come from ``st.uuids()``: shrinking makes them collide across examples, so the tests
rename them to fresh ones per example with :func:`fresh_ids` (a test's database is shared by all its
examples).
"""
from __future__ import annotations

import json
import re
import string
import uuid
from dataclasses import dataclass
from datetime import datetime

from hypothesis import strategies as st

from cert_share.stix import markings
from cert_share.stix.build import INCIDENT_CORE_EXTENSION
from cert_share.vocab import TLP_LEVELS

# The official TLP 2.0 marking definitions (cert_share/stix/data/tlp-2.0-markings.json) and the
# TLP 1.0 ones STIX 2.1 ships, with the level each stands for.
TLP_IDS = {marking_id: level for level, marking_id in
           ((lvl, markings.marking_id(lvl)) for lvl in TLP_LEVELS)}
TLP_IDS.update(markings.TLP1_MARKINGS)
STIX_INT_MAX = 2**53 - 1  # STIX 2.1 section 2.9: integers are within ±(2^53 - 1)


@dataclass(frozen=True)
class RawNumber:
    """A JSON number written exactly as this text (``1e400``, ``-0.0``, 2^70 …)."""

    text: str


def to_json(value) -> str:
    """JSON text of ``value``; :class:`RawNumber` as its text, strings with ``\\uXXXX`` escapes for
    anything outside ASCII (so a lone surrogate travels as the escape, which is valid JSON)."""
    if isinstance(value, RawNumber):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k)) + ":" + to_json(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value, allow_nan=False)


def strict_loads(text: str):
    """Parse as a standard client must be able to: no NaN/Infinity, no number that overflows to
    infinity, no integer outside STIX's range (a JavaScript client would round it)."""
    def refuse_constant(name):
        raise ValueError(f"{name} is not JSON")

    def finite_float(text_):
        value = float(text_)
        if value in (float("inf"), float("-inf")):
            raise ValueError(f"{text_} overflows a double")
        return value

    def stix_int(text_):
        value = int(text_)
        if abs(value) > STIX_INT_MAX:
            raise ValueError(f"{text_} is outside STIX's integer range")
        return value

    return json.loads(text, parse_constant=refuse_constant, parse_float=finite_float, parse_int=stix_int)


def fresh_ids(text: str, mapping: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """Replace every generated UUID in ``text`` by a fresh uuid4, or by its entry in ``mapping``
    (the official TLP ids are kept); returns the new text and the mapping old -> new."""
    official = {marking_id.partition("--")[2] for marking_id in TLP_IDS}
    mapping = {} if mapping is None else mapping

    def swap(match):
        old = match.group(0)
        if old in official:
            return old
        return mapping.setdefault(old, str(uuid.uuid4()))

    return _UUID_TEXT.sub(swap, text), mapping


_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# --- building blocks ----------------------------------------------------------------------------

def stix_id(type_: str):
    return st.uuids(version=4).map(lambda u: f"{type_}--{u}")


moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1))


def stix_time(moment: datetime, digits: int) -> str:
    """A STIX timestamp of ``moment``: 'Z', with ``digits`` fractional digits (0-6)."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + ("." + f"{moment.microsecond:06d}"[:digits] if digits else "") + "Z"


fraction_digits = st.sampled_from([0, 3, 3, 6])
timestamps = st.builds(stix_time, moments, fraction_digits)


ODD_TIMESTAMPS = st.sampled_from([
    # past the calendar once the UTC offset is applied
    "9999-12-31T23:59:59-23:59", "9999-12-31T23:00:00.000-01:00", "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00.000+00:01",
    "9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z",
    "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-06-30T23:59:60Z", "2026-01-01T00:00:00",
    "2026-01-01T00:00:00+01:00", "2026-01-01t00:00:00z", "2026-01-01", "2026-01-01T00:00:00.1234567891234Z",
    "２０２６-01-01T00:00:00Z", "2026-01-01T00:00:00.٣Z", "", " ", "now", "2026-W01-1T00:00:00Z",
    "+2026-01-01T00:00:00Z", "2026-01-01T00:00:00\x00Z",
])

HOSTILE_NUMBERS = st.sampled_from([
    RawNumber("1e400"), RawNumber("-1e400"), RawNumber("1e-400"), RawNumber("-0.0"), RawNumber("1E+308"),
    RawNumber(str(2**53)), RawNumber(str(-(2**53))), RawNumber(str(2**63)), RawNumber(str(2**64 + 1)),
    RawNumber(str(2**70)), RawNumber("9" * 400), RawNumber("0.1" + "0" * 500 + "1"), RawNumber("4e-320"),
    RawNumber(str(STIX_INT_MAX)), RawNumber(str(-STIX_INT_MAX)),
])

# Strings: printable text, text from every plane, lone surrogates, controls (long ones are among
# the hostile values, below).
LONE_SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\udc00b", "\ud83d", "x\ud800\ud800"])
texts = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=20),
    st.text(max_size=40),
    st.sampled_from(["\x00", "\u202e", "\ufeff", "\uffff", "\U0010ffff", "é" * 3, "😀", "\\u0000"]),
    LONE_SURROGATES,
)


def json_values(leaves=None):
    """Any JSON value: the plain kinds, big and odd numbers, odd strings, shallow containers."""
    leaves = leaves or st.one_of(
        st.none(), st.booleans(), st.integers(-STIX_INT_MAX, STIX_INT_MAX),
        st.floats(allow_nan=False, allow_infinity=False), texts, HOSTILE_NUMBERS,
    )
    keys = st.from_regex(r"\A[a-z0-9_]{3,12}\Z", fullmatch=True)
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                        max_leaves=12)


def deep_nesting():
    return st.integers(30, 120).map(lambda depth: _nest(depth))


def _nest(depth):
    value = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"x_nested": value}
    return value


HOSTILE_VALUES = st.one_of(HOSTILE_NUMBERS, LONE_SURROGATES, ODD_TIMESTAMPS, deep_nesting(),
                           st.sampled_from([10_000, 200_000, 1_100_000]).map(lambda n: "B" * n))

custom_names = st.from_regex(r"\Ax_[a-z0-9_]{1,20}\Z", fullmatch=True)


# --- markings -----------------------------------------------------------------------------------

tlp_refs = st.sampled_from(sorted(TLP_IDS))


@st.composite
def marking_refs(draw, extra_ids=()):
    """object_marking_refs: some official TLP ids, sometimes another marking's id."""
    refs = draw(st.lists(tlp_refs, max_size=3, unique=True))
    pool = list(extra_ids) + [None]
    other = draw(st.sampled_from(pool))
    if other is not None:
        refs.append(other)
    if draw(st.booleans()):
        refs.append(draw(stix_id("marking-definition")))  # a marking nobody defined
    return refs


@st.composite
def granular_markings(draw, properties, extra_ids=()):
    """granular_markings over some of the object's own properties: TLP refs, other refs, lang."""
    selectors = [p for p in properties if p not in {"id", "type", "spec_version", "granular_markings"}]
    if not selectors:
        return []
    out = []
    for _ in range(draw(st.integers(1, 3))):
        chosen = draw(st.lists(st.sampled_from(selectors), min_size=1, max_size=3, unique=True))
        kind = draw(st.sampled_from(["tlp", "tlp", "other", "lang"]))
        if kind == "tlp":
            out.append({"marking_ref": draw(tlp_refs), "selectors": chosen})
        elif kind == "other" and extra_ids:
            out.append({"marking_ref": draw(st.sampled_from(list(extra_ids))), "selectors": chosen})
        else:
            out.append({"lang": draw(st.sampled_from(["en", "fr", "de"])), "selectors": chosen})
    return out


@st.composite
def statement_marking(draw):
    """A non-TLP marking definition (a statement): kept, and never lowers the level."""
    created = draw(timestamps)
    return {"type": "marking-definition", "spec_version": "2.1", "id": draw(stix_id("marking-definition")),
            "created": created, "definition_type": "statement",
            "definition": {"statement": draw(st.text(min_size=1, max_size=40))}}


@st.composite
def fake_tlp_marking(draw):
    """A marking definition that claims a TLP level but is not the official one."""
    level = draw(st.sampled_from(TLP_LEVELS))
    created = draw(timestamps)
    ident = draw(stix_id("marking-definition"))
    shape = draw(st.sampled_from(["tlp2", "tlp1", "name"]))
    obj = {"type": "marking-definition", "spec_version": "2.1", "id": ident, "created": created}
    if shape == "tlp2":
        obj.update(name=f"TLP:{level.upper()}",
                   extensions={markings.TLP_EXTENSION_ID: {"extension_type": "property-extension",
                                                           "tlp_2_0": level}})
    elif shape == "tlp1":
        obj.update(definition_type="tlp", definition={"tlp": level if level != "clear" else "white"})
    else:
        obj.update(name=f"TLP:{level.upper()}", definition_type="statement",
                   definition={"statement": f"TLP:{level.upper()}"})
    return obj


# --- objects ------------------------------------------------------------------------------------

def _ipv4():
    return st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))


domains = st.from_regex(r"\A[a-z][a-z0-9-]{0,20}\.(example|test|org)\Z", fullmatch=True)


@st.composite
def _common(draw, type_: str, *, sdo: bool = True):
    obj = {"type": type_, "spec_version": "2.1", "id": draw(stix_id(type_))}
    if sdo:
        created = draw(moments)
        modified = draw(st.sampled_from([created, max(created, draw(moments))]))
        digits = draw(fraction_digits)
        obj["created"], obj["modified"] = stix_time(created, digits), stix_time(modified, digits)
    return obj


@st.composite
def indicator(draw, names=texts):
    obj = draw(_common("indicator"))
    value = draw(st.one_of(_ipv4(), domains))
    kind = "ipv4-addr" if value[0].isdigit() else "domain-name"
    pattern = draw(st.sampled_from([
        f"[{kind}:value = '{value}']",
        f"[{kind}:value = '{value}'] OR [url:value = 'http://{value}/x']",
        f"([{kind}:value = '{value}'] AND [file:name = 'a.exe']) WITHIN 60 SECONDS",
    ]))
    obj.update(name=draw(names), pattern=pattern, pattern_type="stix", valid_from=obj["created"])
    if draw(st.booleans()):
        obj["description"] = draw(names)
    if draw(st.booleans()):
        obj["confidence"] = draw(st.integers(0, 100))
    return obj


@st.composite
def incident(draw):
    obj = draw(_common("incident"))
    obj["name"] = draw(texts)
    if draw(st.booleans()):
        obj["description"] = draw(texts)
    if draw(st.booleans()):
        obj["labels"] = draw(st.lists(st.sampled_from(['rsit:malicious-code="ransomware"', "rsit:fraud=\"phishing\"",
                                                       "label"]) | texts, min_size=1, max_size=3))
    if draw(st.booleans()):
        obj["extensions"] = {INCIDENT_CORE_EXTENSION: {
            "extension_type": "property-extension",
            "criticality": draw(st.integers(0, 100) | HOSTILE_NUMBERS),
            "first_seen": draw(timestamps | ODD_TIMESTAMPS)}}
    return obj


@st.composite
def value_sco(draw):
    type_ = draw(st.sampled_from(["ipv4-addr", "domain-name"]))
    obj = draw(_common(type_, sdo=False))
    obj["value"] = draw(_ipv4() if type_ == "ipv4-addr" else domains)
    return obj


@st.composite
def note(draw):
    obj = draw(_common("note"))
    obj["content"] = draw(texts)
    obj["object_refs"] = [draw(stix_id("indicator"))]
    return obj


@st.composite
def identity(draw):
    obj = draw(_common("identity"))
    obj.update(name=draw(texts), identity_class=draw(st.sampled_from(["organization", "individual", "system"])))
    return obj


@st.composite
def custom_object(draw):
    obj = draw(_common("x-cert-share-fuzz"))
    obj["x_payload"] = draw(json_values())
    return obj


OBJECT_KINDS = (indicator, incident, value_sco, note, identity, custom_object)


@st.composite
def stix_object(draw, extra_marking_ids=(), hostile: bool = True):
    """One valid-ish object: random kind and properties, TLP and other markings, and (if ``hostile``)
    sometimes a hostile value in a property of its own or a custom one."""
    obj = draw(st.sampled_from(OBJECT_KINDS).flatmap(lambda kind: kind()))
    for _ in range(draw(st.integers(0, 2))):
        obj[draw(custom_names)] = draw(json_values())
    if draw(st.integers(0, 3)):
        refs = draw(marking_refs(extra_marking_ids))
        if refs:
            obj["object_marking_refs"] = refs
    if draw(st.integers(0, 2)) == 0:
        granular = draw(granular_markings(list(obj), extra_marking_ids))
        if granular:
            obj["granular_markings"] = granular
    if hostile and draw(st.integers(0, 2)) == 0:
        name = draw(st.sampled_from(sorted(set(obj) - {"id", "type"})) | custom_names)
        if name in {"created", "modified", "valid_from"}:
            obj[name] = draw(ODD_TIMESTAMPS)
        else:
            obj[name] = draw(HOSTILE_VALUES)
    return obj


@st.composite
def envelopes(draw, max_objects: int = 5, hostile: bool = True):
    """A TAXII envelope of valid-ish objects, with non-TLP and fake-TLP marking definitions
    among them that the objects may reference."""
    definitions = draw(st.lists(st.one_of(statement_marking(), fake_tlp_marking()), max_size=2))
    extra = [d["id"] for d in definitions]
    objects = draw(st.lists(stix_object(extra, hostile=hostile), min_size=1, max_size=max_objects))
    objects = definitions + objects
    if hostile and draw(st.integers(0, 9)) == 0:
        objects.append(draw(st.sampled_from([None, 1, "indicator", [], {}])))
    seen, unique = set(), []
    for obj in objects:
        key = obj.get("id") if isinstance(obj, dict) else repr(obj)
        if key not in seen:
            seen.add(key)
            unique.append(obj)
    return {"objects": unique}


# --- objects marked for the TLP property --------------------------------------------------------

@st.composite
def tlp_marked_object(draw):
    """A valid indicator with any mix of object-level and granular TLP markings (and lang ones)."""
    obj = draw(indicator(names=st.text(string.ascii_letters + string.digits + " ", min_size=1, max_size=30)))
    obj_refs = draw(st.lists(tlp_refs, max_size=2, unique=True))
    if obj_refs:
        obj["object_marking_refs"] = obj_refs
    granular = []
    for _ in range(draw(st.integers(0, 2))):
        selectors = draw(st.lists(st.sampled_from(["name", "pattern", "valid_from", "description"]
                                                  if "description" in obj else ["name", "pattern", "valid_from"]),
                                  min_size=1, max_size=2, unique=True))
        granular.append({"marking_ref": draw(tlp_refs), "selectors": selectors})
    if draw(st.booleans()):
        granular.append({"lang": "en", "selectors": ["name"]})
    if granular:
        obj["granular_markings"] = granular
    return obj


def effective_tlp(obj: dict) -> str:
    """The level the object must be served at: the strictest TLP it references anywhere, object-
    level or granular; no TLP reference at all counts as amber+strict (fail closed). Written out
    here, independently of the server's code."""
    refs = list(obj.get("object_marking_refs") or [])
    refs += [g["marking_ref"] for g in obj.get("granular_markings") or [] if "marking_ref" in g]
    levels = [TLP_IDS[ref] for ref in refs if ref in TLP_IDS]
    if not levels:
        return "amber+strict"
    return max(levels, key=TLP_LEVELS.index)


# --- TAXII query strings ------------------------------------------------------------------------

# Digits Python's str.isdigit() accepts but int() refuses (², ①), digits int() reads (١٢, １０, 𝟓),
# more digits than int() converts (5000), and numbers past 64 bits.
ODD_DIGITS = st.sampled_from(["²", "³¹", "①", "1²", "⁵", "١٢", "１０", "৩", "߁", "𝟓", "Ⅻ", "-1", "0", "+5", " 5", "5 ",
                              "1e3", "0x10", "1_000", "00001", "9" * 30, "9" * 5000, "1" * 4301, str(2**63), str(2**64),
                              "", "NaN", "∞"])
RAW_BYTES = st.sampled_from(["%ED%A0%80", "%FF", "%C0%AF", "%00", "%E2%80%AE", "%F4%90%80%80"])


def _list_of(item, *, max_size: int = 8):
    """A comma-separated list: a few items, sometimes empty items or far more than the cap."""
    return st.one_of(
        st.lists(item, min_size=1, max_size=max_size).map(",".join),
        st.lists(item, min_size=1, max_size=max_size).map(lambda xs: ",".join(xs) + ","),
        st.lists(item, min_size=1, max_size=3).map(lambda xs: ",," + ",".join(xs)),
        st.tuples(item, st.integers(90, 3000)).map(lambda t: ",".join([t[0]] * t[1])),
    )


stix_types = st.sampled_from(["indicator", "incident", "ipv4-addr", "marking-definition", "x-cert-share-fuzz",
                              "Indicator", "a", "-bad-", "indicator--", "ab" * 200])
id_items = st.one_of(stix_id("indicator"), stix_id("incident"), st.just("indicator--not-a-uuid"),
                     st.text(max_size=30), st.just("INDICATOR--" + str(uuid.UUID(int=1))))
version_items = st.one_of(st.sampled_from(["all", "first", "last", "ALL", "latest"]), timestamps, ODD_TIMESTAMPS)


def hostile_query_values(name: str):
    """Values for one TAXII filter parameter that a lenient parser would half accept."""
    return {
        "added_after": ODD_TIMESTAMPS,
        "limit": ODD_DIGITS,
        "next": st.text(max_size=40) | st.just("A" * 5000),
        "match[id]": _list_of(id_items),
        "match[type]": _list_of(stix_types),
        "match[version]": _list_of(ODD_TIMESTAMPS),
        "match[spec_version]": _list_of(st.sampled_from(["2.0", "2.2", "", "٢.١", "2.1 ", "2.1\x00"])),
    }[name]


def query_values(name: str):
    """Values for one TAXII filter parameter, plain and hostile."""
    plain = {
        "added_after": timestamps | ODD_TIMESTAMPS,
        "limit": st.integers(1, 2000).map(str) | ODD_DIGITS,
        "next": st.text(string.ascii_letters + string.digits + "-_.", max_size=120) | st.text(max_size=40),
        "match[id]": _list_of(id_items),
        "match[type]": _list_of(stix_types),
        "match[version]": _list_of(version_items),
        "match[spec_version]": _list_of(st.sampled_from(["2.1", "2.0", "2.2", "", "٢.١", "2.1 "])),
    }[name]
    return st.one_of(plain, st.text(max_size=20), ODD_DIGITS)


QUERY_NAMES = ("added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@st.composite
def query_strings(draw, names=QUERY_NAMES):
    """A query string over the TAXII filters: often one parameter with a hostile value alone (so
    that no other parameter's error hides it), else a few parameters, plain or hostile, sometimes
    an unknown or repeated one or percent-escapes that are not UTF-8."""
    if draw(st.integers(0, 2)):
        name = draw(st.sampled_from(names))
        return f"{_quote(name)}={_quote(draw(hostile_query_values(name)))}"
    chosen = draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
    parts = []
    for name in chosen:
        parts.append(f"{_quote(name)}={_quote(draw(query_values(name)))}")
    if draw(st.integers(0, 5)) == 0:
        parts.append(f"{draw(st.sampled_from(['match[foo]', 'limit', 'x', 'match[id]', '']))}="
                     f"{draw(RAW_BYTES)}")
    return "&".join(parts)


path_segments = st.one_of(st.text(string.ascii_letters + string.digits + "-_.~", min_size=1, max_size=40),
                          stix_id("indicator"), st.just("a" * 300), RAW_BYTES, st.just("%2F"),
                          st.text(min_size=1, max_size=10).map(_quote))
