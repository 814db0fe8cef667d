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

from .fraud import luhn_valid

T = TypeVar("T")

# A run of digit groups separated by single spaces, dashes or dots ("4111 1111 1111 1111"), not
# glued to letters (hex digests and addresses hold long runs of digits that are no card).
_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9]+(?:[ .\-][0-9]+)*(?![0-9A-Za-z])")
# What an IBAN looks like, grouped or not: its digits are an account's, not a card's (the groups
# of "DE89 3704 0044 0532 0130 00" would otherwise pass the Luhn check one time in ten).
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[ \-]?[A-Za-z0-9]{4}){2,7}(?:[ \-]?[A-Za-z0-9]{1,3})?"
                   r"(?![A-Za-z0-9])")


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
    if not any(ch.isdigit() for ch in text):
        return []
    ibans = [m.span() for m in _IBAN.finditer(text)]
    found = []
    for m in _RUN.finditer(text):
        if any(start <= m.start() and m.end() <= end for start, end in ibans):
            continue
        digits = _card_in(m.group(0))
        if digits is not None:
            found.append((m, digits))
    return found


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
