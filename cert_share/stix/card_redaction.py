"""Full payment card numbers out of text that is about to be shown, stored or logged.

``fraud.payment_card`` refuses a full card number where one is expected; this module is the net
under every other place a user's or a partner's text comes back or is kept: free text at intake
(titles, descriptions, pushed STIX objects' strings), error messages (which quote the input), a
re-rendered form, TAXII status messages, import summaries. A card number in clear (13-19 digits
passing the Luhn check, not starting with 0) is replaced by its BIN and last four digits, the form
the platform shares.

Spellings that still read as a card number are found too: digits of any script ("٤١١١…",
full-width "４１１１…", translated to ASCII for the Luhn check), groups separated by up to three of
whitespace (tabs, non-breaking spaces), dots, dashes, underscores, commas or slashes
("4111--1111__1111/1111"), and URL-encoded or compatibility-spelled text ("4111%201111…",
"４１１１－…": URL-decoded and NFKC-normalized before a second look). Single spaces, dashes and
dots may mix between a card's groups; any other separator must be the same between all of them, so
that "76.93.76.46, 95.232.63.28" stays two addresses. The price of the wide separator set: a list
of short numbers ("1200, 3400, 5600, 7800") passes the Luhn check one time in ten and is then
masked like a card (at intake too); nothing is lost but those digits of a free text.

Cost: one pass over the text. A run of groups is walked once, keeping only the last groups that
hold at most 19 digits (a card is never longer), so a megabyte of "4111 4111 …" costs a few
Luhn checks per group, not a copy of the rest of the run per group.
"""
from __future__ import annotations

import re
import unicodedata
from collections import deque
from typing import Iterator, TypeVar, cast
from urllib.parse import unquote

from schwifty import IBAN
from schwifty.exceptions import InvalidChecksumDigits, SchwiftyException

from .fraud import FULL_CARD_REFUSAL, ascii_digits, luhn_valid

T = TypeVar("T")

_MAX_CARD = 19
# A run of digit groups (digits of any script: ``\d`` is Unicode) joined by 1-3 separators,
# glued to letters or not ("card4111111111111111" is a card number too).
_SEP = r"[\s.\-_,/]"
_RUN = re.compile(rf"(?<!\d)\d+(?:{_SEP}{{1,3}}\d+)*(?!\d)")
_GROUP = re.compile(rf"({_SEP}*)(\d+)")
# The separators a card's groups may mix ("4111 1111-1111.1111"); any other ("--", ", ", "/") must
# be the same between all of a card's groups: "76.93.76.46, 95.232.63.28" is two IPv4 addresses
# (whose digits pass the Luhn check), not a card.
_MIXABLE = frozenset({"", " ", "-", "."})
# At least 13 digits in the text at all: the cheap test most text fails (linear: \D and \d are
# disjoint, so nothing backtracks).
_THIRTEEN_DIGITS = re.compile(r"\d(?:\D*\d){12}")
# Values whose digits are no card's: an IBAN, grouped or not (the groups of "DE89 3704 0044 0532
# 0130 00" would otherwise pass the Luhn check one time in ten), a hex digest, an Ethereum address.
_NOT_CARDS = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Za-z]{2}[0-9]{2}(?:[ \-]?[A-Za-z0-9]{4}){2,7}(?:[ \-]?[A-Za-z0-9]{1,3})?"
    r"|0x[0-9a-fA-F]{40}|[0-9a-fA-F]{128}|[0-9a-fA-F]{64}|[0-9a-fA-F]{40}|[0-9a-fA-F]{32})(?![A-Za-z0-9])")


def _masked(digits: str) -> str:
    return f"{digits[:6]}******{digits[-4:]}"


def _groups(run: str) -> Iterator[tuple[str, str]]:
    """(separator before it, its digits in ASCII) of each digit group of a run, one at a time."""
    for m in _GROUP.finditer(run):
        yield m.group(1), ascii_digits(m.group(2))


def _card_in(groups: Iterator[tuple[str, str]]) -> str | None:
    """The digits of a card number made of consecutive groups (the whole run, or some of its
    groups: "ref 4111 1111 1111 1111 0042" holds one), else None.

    Each group is read once; ``window`` keeps the last groups holding at most 19 digits, so each
    group costs at most 19 suffix checks whatever the run's length."""
    window: deque[str] = deque()
    held = 0
    joint = ""  # the separator between the window's groups: "" while they may mix
    for separator, group in groups:
        if len(group) > _MAX_CARD:
            window.clear()
            held = 0
            continue
        kind = "" if separator in _MIXABLE else separator
        if window and kind != joint and len(window) > 1:
            # A separator unlike the window's: a card does not span it, it may start before it.
            while len(window) > 1:
                held -= len(window.popleft())
        joint = kind
        window.append(group)
        held += len(group)
        while held > _MAX_CARD:
            held -= len(window.popleft())
        digits = ""
        for part in reversed(window):  # the suffixes ending with this group, shortest first
            digits = part + digits
            if len(digits) >= 13 and digits[0] != "0" and luhn_valid(digits):
                return digits
    return None


def _cards(text: str) -> list[tuple[re.Match, str]]:
    """(run, card digits) of each run of digits in ``text`` that holds a card number."""
    if not _THIRTEEN_DIGITS.search(text):
        return []
    spared: list[tuple[int, int]] | None = None
    found = []
    for m in _RUN.finditer(text):
        digits = _card_in(_groups(m.group(0))) if m.end() - m.start() >= 13 else None
        if digits is None:
            continue
        if spared is None:
            spared = [n.span() for n in _NOT_CARDS.finditer(text) if _spared(n.group(0))]
        if not any(start <= m.start() and m.end() <= end for start, end in spared):
            found.append((m, digits))
    return found


def _folded(text: str) -> str | None:
    """``text`` URL-decoded (twice: "%2520") and NFKC-normalized, when that changes it; else None."""
    folded = text
    if "%" in folded:
        folded = unquote(unquote(folded, errors="replace"), errors="replace")
    if not folded.isascii():
        folded = unicodedata.normalize("NFKC", folded)
    return folded if folded != text else None


def _spared(token: str) -> bool:
    """A hex token, or an IBAN: one schwifty accepts, or refuses only for its check digits (a
    mistyped IBAN is still an IBAN, not a card; "GH4111…" or "XY12 4111 …" are no IBAN)."""
    if token[:2].isdigit() or token.startswith("0x"):
        return True
    compact = re.sub(r"[ \-]", "", token).upper()
    if re.fullmatch(r"[0-9A-F]+", compact) and len(compact) in (32, 40, 64, 128):
        return True
    try:
        IBAN(compact)
    except InvalidChecksumDigits:
        return True
    except (SchwiftyException, ValueError):
        return False
    return True


def holds_card(text: str) -> bool:
    """Whether ``text`` holds a full card number anywhere, in any spelling this module reads."""
    if _cards(text):
        return True
    folded = _folded(text)
    return folded is not None and bool(_cards(folded))


def _redact_in_place(text: str) -> str:
    out, last = [], 0
    for m, digits in _cards(text):
        out.append(text[last:m.start()])
        # Groups around the card ("ref 4111 1111 1111 1111 0042"): which digits are its own is unclear.
        run_digits = "".join(digits for _, digits in _groups(m.group(0)))
        out.append(_masked(digits) if run_digits == digits else "[card number removed]")
        last = m.end()
    return "".join(out) + text[last:] if out else text


def redact_cards(text: str) -> str:
    """``text`` with every full card number replaced by its BIN and last four digits. A card that
    only its URL-decoded or NFKC form shows ("4111%201111…") is masked in that form, which is
    then what is returned."""
    redacted = _redact_in_place(text)
    folded = _folded(redacted)
    if folded is not None and _cards(folded):
        return _redact_in_place(folded)
    return redacted


def redact(value: T) -> T:
    """A JSON-like value (dicts, lists, strings; keys too) with every card number redacted."""
    return cast(T, _redact(value))


def _redact(value: object) -> object:
    if isinstance(value, str):
        return redact_cards(value)
    if isinstance(value, dict):
        return {_redact(k) if isinstance(k, str) else k: _redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v) for v in value]
    return value


# STIX properties that identify or reference (ids, refs), or that the validators read already:
# a pattern holding a card number is refused, never stored.
_STIX_KEPT = frozenset({"id", "type", "spec_version", "created", "modified", "pattern", "pattern_type",
                        "pattern_version", "valid_from", "valid_until", "created_by_ref", "object_refs"})


def redact_stix(obj: T) -> T:
    """A STIX object with every card number masked inside its string values (descriptions, names,
    a note's content, custom properties), ids, references, timestamps and the pattern left as
    they are."""
    return cast(T, _redact_stix(obj))


def _redact_stix(value: object, key: str | None = None) -> object:
    if isinstance(value, str):
        if key is not None and (key in _STIX_KEPT or key.endswith(("_ref", "_refs", "_id"))):
            return value
        return redact_cards(value)
    if isinstance(value, dict):
        return {k: _redact_stix(v, k if isinstance(k, str) else None) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_stix(v, key) for v in value]
    return value


# The free-form types a card number can hide in (a URL's query, an address's local part); the
# other types' validators leave no room for one.
_FREE_FORM_TYPES = frozenset({"url", "email-addr", "domain-name"})
CARD_IN_VALUE = f"holds a card number: {FULL_CARD_REFUSAL}"


def card_in_observable(type_: str, value: str) -> bool:
    """Whether a valid observable of a free-form type carries a full card number (refused: a
    card number is never stored, whatever it hides in)."""
    return type_ in _FREE_FORM_TYPES and holds_card(value)
