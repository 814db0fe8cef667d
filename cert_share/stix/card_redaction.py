"""Full payment card numbers out of text that is about to be shown, stored or logged.

``fraud.payment_card`` refuses a full card number where one is expected; this module is the net
under every other place a user's or a partner's text comes back: error messages (which quote
the input), a re-rendered form, TAXII status messages, import summaries. A card number in clear
(13-19 digits, optionally grouped by spaces, dashes or dots, passing the Luhn check, not starting with
0) is replaced by its BIN and last four digits, the form the platform shares.
"""
from __future__ import annotations

import re
from typing import TypeVar, cast

from schwifty import IBAN
from schwifty.exceptions import InvalidChecksumDigits, SchwiftyException

from .fraud import FULL_CARD_REFUSAL, luhn_valid

T = TypeVar("T")

# A run of digit groups separated by single spaces, dashes or dots ("4111 1111 1111 1111"),
# glued to letters or not ("card4111111111111111" is a card number too).
_RUN = re.compile(r"(?<![0-9])[0-9]+(?:[ .\-][0-9]+)*(?![0-9])")
# At least 13 digits in a row once the separators are dropped: the cheap test most text fails.
_LONG_RUN = re.compile(r"[0-9]{13}")
# Values whose digits are no card's: an IBAN, grouped or not (the groups of "DE89 3704 0044 0532
# 0130 00" would otherwise pass the Luhn check one time in ten), a hex digest, an Ethereum address.
_NOT_CARDS = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Za-z]{2}[0-9]{2}(?:[ \-]?[A-Za-z0-9]{4}){2,7}(?:[ \-]?[A-Za-z0-9]{1,3})?"
    r"|0x[0-9a-fA-F]{40}|[0-9a-fA-F]{128}|[0-9a-fA-F]{64}|[0-9a-fA-F]{40}|[0-9a-fA-F]{32})(?![A-Za-z0-9])")


def _masked(digits: str) -> str:
    return f"{digits[:6]}******{digits[-4:]}"


def _card_in(run: str) -> str | None:
    """The digits of a card number in this run of groups (the whole run, or consecutive groups of
    it: "ref 4111 1111 1111 1111 0042" holds one), else None."""
    groups = re.split(r"[ .\-]", run)
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > 19:
                break
            if len(digits) >= 13 and digits[0] != "0" and luhn_valid(digits):
                return digits
    return None


def _cards(text: str) -> list[tuple[re.Match, str]]:
    """(run, card digits) of each run of digits in ``text`` that holds a card number."""
    if not _LONG_RUN.search(text.replace(" ", "").replace(".", "").replace("-", "")):
        return []
    spared: list[tuple[int, int]] | None = None
    found = []
    for m in _RUN.finditer(text):
        digits = _card_in(m.group(0)) if m.end() - m.start() >= 13 else None
        if digits is None:
            continue
        if spared is None:
            spared = [n.span() for n in _NOT_CARDS.finditer(text) if _spared(n.group(0))]
        if not any(start <= m.start() and m.end() <= end for start, end in spared):
            found.append((m, digits))
    return found


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
    """Whether ``text`` holds a full card number anywhere."""
    return bool(_cards(text))


def redact_cards(text: str) -> str:
    """``text`` with every full card number replaced by its BIN and last four digits."""
    out, last = [], 0
    for m, digits in _cards(text):
        out.append(text[last:m.start()])
        # Groups around the card ("ref 4111 1111 1111 1111 0042"): which digits are its own is unclear.
        out.append(_masked(digits) if re.sub(r"[ .\-]", "", m.group(0)) == digits else "[card number removed]")
        last = m.end()
    return "".join(out) + text[last:] if out else text


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


# The free-form types a card number can hide in (a URL's query, an address's local part); the
# other types' validators leave no room for one.
_FREE_FORM_TYPES = frozenset({"url", "email-addr", "domain-name"})
CARD_IN_VALUE = f"holds a card number: {FULL_CARD_REFUSAL}"


def card_in_observable(type_: str, value: str) -> bool:
    """Whether a valid observable of a free-form type carries a full card number (refused: a
    card number is never stored, whatever it hides in)."""
    return type_ in _FREE_FORM_TYPES and holds_card(value)
