"""The identifiers fraud runs on: bank accounts, phone numbers, crypto-currency wallets and
payment cards. Each is validated by a kept library (schwifty, phonenumbers, base58, bech32m,
pycryptodome's Keccak), never by hand-written length tables.

Payment cards: only the BIN and the last four digits are ever accepted. A full card number is
refused with a message that never repeats it (PCI DSS: the number must not be stored, logged or
echoed); ``mask_card`` is for importers of foreign data that may carry one (MISP ``cc-number``).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import base58
import bech32m
import phonenumbers
from Crypto.Hash import keccak
from flask_babel import gettext
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from ..vocab import N_

FRAUD_TYPES: tuple[str, ...] = ("bank-account", "phone-number", "cryptocurrency-wallet", "payment-card")
# Values that may be a victim's personal data as much as a criminal's: warnings carry their keyed
# hash, not the value, unless CERT staff choose otherwise (early_warning).
PERSONAL_TYPES: frozenset[str] = frozenset({"bank-account", "phone-number", "payment-card"})

# Messages are worded when raised (gettext), in the reader's language; English on the API and TAXII.
FULL_CARD_REFUSAL = N_("a full payment card number must never be shared: give only its first 6 digits (the BIN) "
                       "and its last 4, e.g. 411111******1111")
NOT_TRUNCATED_CARD = N_("is not a truncated card number: expected its first 6 digits, a mask and its last 4, e.g. "
                        "411111******1111")

_SEPARATORS = re.compile(r"[\s\-.()]")
# ASCII digits only ([0-9], never \d, which is any script's): every validator first translates
# other scripts' digits with ascii_digits(), so "٤١١١١١******١١١١" and "411111******1111" meet.
_IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{8,30}$")
_BIC_ACCOUNT = re.compile(r"^([A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)\s*[/:\s]\s*([A-Z0-9][A-Z0-9 \-]{0,39})$")
_ACCOUNT = re.compile(r"^[A-Z0-9]{1,34}$")
# A masked card: the BIN (6-8 digits), a run of mask characters, the last 4 digits.
_MASKED_CARD = re.compile(r"^([0-9]{6,8})[0-9Xx*•#.…]*?[Xx*•#.…]+[0-9Xx*•#.…]*?([0-9]{4})$")
_DIGITS = re.compile(r"^[0-9]+$")
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58 = re.compile(f"^[{_B58_ALPHABET}]+$")
_ETH = re.compile(r"^0x[0-9a-fA-F]{40}$")


class ValueRefused(ValueError):
    """A value refused as an observable, with what a form may do with the message.

    ``full_card``: the value is a full card number (FULL_CARD_REFUSAL, in the reader's language),
    never to be echoed; ``quotes_nothing``: the message names no part of the value; ``unnamed``:
    the message leaves the value unnamed ("is not …"), a form may give it a subject."""

    def __init__(self, message: str, *, full_card: bool = False, quotes_nothing: bool = False,
                 unnamed: bool = False):
        super().__init__(message)
        self.full_card = full_card
        self.quotes_nothing = quotes_nothing or full_card
        self.unnamed = unnamed


class FraudValueError(ValueRefused):
    """Not a valid value of a fraud type; the message never repeats a card number."""


def full_card_refused() -> FraudValueError:
    """The refusal of a full card number, in the reader's language, marked as such."""
    return FraudValueError(gettext(FULL_CARD_REFUSAL), full_card=True)


@dataclass(frozen=True)
class Value:
    value: str  # normalized: what identity, ids and correlation use
    display: str  # what a person reads


# -- payment cards ----------------------------------------------------------------------------------

def ascii_digits(text: str) -> str:
    """``text`` with each decimal digit of any script (Arabic-Indic "٤", full-width "４", …) as
    its ASCII digit: what a person reads as the same number is the same value."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


_LUHN_TABLE = str.maketrans("0123456789", "0246813579")  # d -> the digit sum of 2 × d


def luhn_valid(digits: str) -> bool:
    """The Luhn check of ASCII digits (the last one is the check digit)."""
    doubled = digits[-2::-2].translate(_LUHN_TABLE)
    return (sum(map(int, digits[-1::-2])) + sum(map(int, doubled))) % 10 == 0


def looks_like_full_card(text: str) -> bool:
    """13-19 digits (spaces and dashes allowed) passing the Luhn check, not starting with 0 (no
    card number does, ISO/IEC 7812): a card number in clear. "0084 ..." stays a phone number."""
    digits = re.sub(r"[\s\-]", "", ascii_digits(text))
    return (bool(_DIGITS.match(digits)) and 13 <= len(digits) <= 19 and digits[0] != "0"
            and luhn_valid(digits))


def payment_card(text: str) -> Value:
    compact = re.sub(r"[\s\-]", "", ascii_digits(text))
    if _DIGITS.match(compact):
        if len(compact) >= 12:
            raise full_card_refused()
        raise FraudValueError(gettext(NOT_TRUNCATED_CARD), unnamed=True)
    m = _MASKED_CARD.match(compact)
    if not m:
        raise FraudValueError(gettext(NOT_TRUNCATED_CARD), unnamed=True)
    # Identity is BIN6 + last 4: reporters who give an 8-digit BIN and those who give 6 still meet.
    value = f"{m.group(1)[:6]}******{m.group(2)}"
    return Value(value, value)


def mask_card(digits: str) -> Value:
    """A full card number from foreign data (MISP ``cc-number``), truncated to BIN + last 4."""
    compact = re.sub(r"[\s\-]", "", ascii_digits(digits))
    if not _DIGITS.match(compact) or not 12 <= len(compact) <= 19:
        raise FraudValueError(gettext("is not a card number"), unnamed=True)
    value = f"{compact[:6]}******{compact[-4:]}"
    return Value(value, value)


# A national account number that reads as a full card number (13-19 digits, Luhn-valid, first
# digit 2-6: the major industry identifiers of the card networks, ISO/IEC 7812) is refused: taken
# as an account, a card number would be stored and shared in clear. The trade-off: a real national
# account number of that shape (about one in ten 13-19 digit numbers starting 2-6 passes the Luhn
# check) cannot be given with its BIC; its IBAN, which is never taken for a card, still can.
_CARD_NETWORK_DIGITS = frozenset("23456")
CARD_AS_ACCOUNT = N_("the account number reads as a full payment card number, which must never be shared; if it "
                     "really is a bank account, give its IBAN instead (e.g. DE89 3704 0044 0532 0130 00)")


# -- bank accounts ----------------------------------------------------------------------------------

def bank_account(text: str) -> Value:
    """An IBAN (checksum validated), or a BIC with a national account number ("BIC/ACCOUNT")."""
    upper = ascii_digits(text).upper().strip()
    compact = re.sub(r"[\s\-]", "", upper)
    if compact.startswith("IBAN"):
        compact = compact[4:].lstrip(":")
    if _IBAN_SHAPE.match(compact):
        try:
            iban = IBAN(compact)
        except SchwiftyException as exc:
            raise FraudValueError(gettext("%(text)r is not a valid IBAN (%(reason)s)", text=text,
                                              reason=_schwifty_reason(exc))) from None
        return Value(iban.compact, iban.formatted)
    m = _BIC_ACCOUNT.match(upper)
    if m:
        account = re.sub(r"[\s\-]", "", m.group(2))
        if account[:1] in _CARD_NETWORK_DIGITS and looks_like_full_card(account):
            raise FraudValueError(gettext(CARD_AS_ACCOUNT), quotes_nothing=True)
        try:
            bic = BIC(m.group(1))
        except SchwiftyException as exc:
            raise FraudValueError(gettext("%(text)r: %(bic)r is not a valid BIC (%(reason)s)", text=text,
                                          bic=m.group(1), reason=_schwifty_reason(exc))) from None
        if not _ACCOUNT.match(account):
            raise FraudValueError(gettext("%(text)r: the account number must be 1-34 letters or digits", text=text))
        return Value(f"{bic.compact}/{account}", f"{account} (BIC {bic.compact})")
    raise FraudValueError(gettext("%(text)r is not a bank account: expected an IBAN (e.g. DE89 3704 0044 0532 0130 "
                                  "00) or a BIC and a national account number (e.g. BFTVVNVX/0071000123456)",
                                  text=text))


def _schwifty_reason(exc: Exception) -> str:
    return str(exc).rstrip(".") or type(exc).__name__


def bank_account_parts(value: str) -> dict[str, str]:
    """The STIX properties of a normalized bank-account value (OpenCTI's names)."""
    if "/" in value:
        bic, account = value.split("/", 1)
        return {"bic": bic, "account_number": account}
    return {"iban": value}


# -- phone numbers ----------------------------------------------------------------------------------

def phone_number(text: str, default_region: str | None = None) -> Value:
    """E.164. A national number ("0912 345 678") needs ``default_region`` (PHONE_DEFAULT_REGION)."""
    raw = ascii_digits(text).strip()
    if raw.lower().startswith("tel:"):
        raw = raw[4:]
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, None if raw.startswith("+") else (default_region or None))
    except phonenumbers.NumberParseException:
        if not raw.startswith("+") and not default_region:
            raise FraudValueError(gettext("%(text)r is not a phone number in international form (+<country "
                                          "code>...); national numbers need PHONE_DEFAULT_REGION",
                                          text=text)) from None
        raise FraudValueError(gettext("%(text)r is not a valid phone number", text=text)) from None
    if not phonenumbers.is_valid_number(number):
        raise FraudValueError(gettext("%(text)r is not a valid phone number (wrong length or no such number range)",
                                      text=text))
    # An extension ("…;ext=123", "… ext. 123") is dropped, not refused: it names a desk behind the
    # number, not another number, so reports with and without it are one observable; and kept in
    # the display it was free digits (a card number fitted there) shown and stored as they came.
    number.extension = None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    display = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return Value(e164, display)


# -- crypto-currency wallets ------------------------------------------------------------------------

def _keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def eip55(address_hex: str) -> str:
    """The EIP-55 mixed-case checksum form of a 40-hex-digit Ethereum address."""
    lower = address_hex.lower()
    digest = _keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(ch.upper() if int(digest[i], 16) >= 8 else ch for i, ch in enumerate(lower))


# Monero's base58 works on 8-byte blocks of 11 characters (the last one shorter).
_XMR_BLOCK_CHARS = [0, 2, 3, 5, 6, 7, 9, 10, 11]
_XMR_PREFIXES = {18: "standard", 19: "integrated", 42: "subaddress"}


def _monero_decode(text: str) -> bytes | None:
    out = bytearray()
    for start in range(0, len(text), 11):
        chunk = text[start:start + 11]
        if len(chunk) not in _XMR_BLOCK_CHARS:
            return None
        size = _XMR_BLOCK_CHARS.index(len(chunk))
        number = 0
        for ch in chunk:
            number = number * 58 + _B58_ALPHABET.index(ch)
        if number >= 1 << (8 * size):
            return None
        out += number.to_bytes(size, "big")
    return bytes(out)


def _monero(text: str) -> bool:
    if len(text) not in (95, 106) or not _B58.match(text):
        return False
    data = _monero_decode(text)
    if data is None or len(data) < 5 or data[0] not in _XMR_PREFIXES:
        return False
    return _keccak256(data[:-4])[:4] == data[-4:]


def wallet_chain(value: str) -> str:
    """The chain of a normalized wallet address: bitcoin, ethereum or monero."""
    if value.startswith("0x"):
        return "ethereum"
    if len(value) in (95, 106):
        return "monero"
    return "bitcoin"


def cryptocurrency_wallet(text: str) -> Value:
    raw = text.strip()
    for prefix in ("bitcoin:", "ethereum:", "monero:"):
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix):].split("?", 1)[0]
    if _ETH.match(raw):
        return _ethereum(text, raw)
    found = _bitcoin(text, raw)
    if found is not None:
        return found
    if raw[:1] in {"4", "8"} and len(raw) in (95, 106):
        if not _monero(raw):
            raise FraudValueError(gettext("%(text)r is not a valid Monero address (checksum is wrong)", text=text))
        return Value(raw, raw)
    if raw.lower().startswith(("tb1", "bcrt1")) or raw[:1] in {"m", "n", "2"} and _B58.match(raw):
        raise FraudValueError(gettext("%(text)r: test-network addresses are not accepted; give a main-network "
                                      "address", text=text))
    raise FraudValueError(gettext("%(text)r is not a wallet address this platform knows: expected Bitcoin (1…, 3…, "
                                  "bc1…), Ethereum (0x + 40 hex digits) or Monero (4…/8…)", text=text))


def _ethereum(text: str, raw: str) -> Value:
    hex_part = raw[2:]
    checksummed = eip55(hex_part)
    # All lower or all upper case carries no checksum (EIP-55); mixed case must match it.
    if hex_part not in (hex_part.lower(), hex_part.upper()) and raw != checksummed:
        raise FraudValueError(gettext("%(text)r is not a valid Ethereum address (its EIP-55 mixed-case checksum "
                                      "does not match: a character was mistyped)", text=text))
    return Value("0x" + hex_part.lower(), checksummed)


def _bitcoin(text: str, raw: str) -> Value | None:
    lower = raw.lower()
    if lower.startswith("bc1"):
        if raw not in (lower, raw.upper()):
            raise FraudValueError(gettext("%(text)r is not a valid Bitcoin address (bech32 addresses are not "
                                          "mixed-case)", text=text))
        try:
            bech32m.decode("bc", lower)
        except (bech32m.DecodeError, ValueError):
            raise FraudValueError(gettext("%(text)r is not a valid Bitcoin address (bech32/bech32m checksum or "
                                          "length is wrong)", text=text)) from None
        return Value(lower, lower)
    if raw[:1] in {"1", "3"} and 25 <= len(raw) <= 35 and _B58.match(raw):
        try:
            payload = base58.b58decode_check(raw)
        except ValueError:
            raise FraudValueError(gettext("%(text)r is not a valid Bitcoin address (base58check checksum is wrong)",
                                          text=text)) from None
        if len(payload) != 21 or payload[0] not in (0x00, 0x05):
            raise FraudValueError(gettext("%(text)r is not a valid Bitcoin address (unknown version byte)",
                                          text=text))
        return Value(raw, raw)
    return None


# -- recognition of pasted lines --------------------------------------------------------------------

def guess(text: str) -> str | None:
    """The fraud type a pasted line looks like, or None (then it is one of the network types)."""
    raw = ascii_digits(text).strip()
    lower = raw.lower()
    upper_compact = re.sub(r"[\s\-]", "", raw.upper())
    card = re.sub(r"[\s\-]", "", raw)
    if looks_like_full_card(card):
        return "payment-card"  # refused by payment_card(), without repeating it
    if lower.startswith("tel:") or re.match(r"^(\+|00)[0-9\s\-().]{6,}$", raw):
        return "phone-number"
    if lower.startswith(("bitcoin:", "ethereum:", "monero:", "bc1", "tb1")) or _ETH.match(raw):
        return "cryptocurrency-wallet"
    if raw[:1] in {"1", "3"} and 25 <= len(raw) <= 35 and _B58.match(raw) and not raw.isdigit():
        return "cryptocurrency-wallet"
    if raw[:1] in {"4", "8"} and len(raw) in (95, 106) and _B58.match(raw):
        return "cryptocurrency-wallet"
    if upper_compact.startswith("IBAN") or _IBAN_SHAPE.match(upper_compact) and not raw.isdigit():
        return "bank-account"
    if _BIC_ACCOUNT.match(raw.upper()) and re.search(r"[0-9]", raw.split()[-1] if raw.split() else ""):
        return "bank-account"
    if _MASKED_CARD.match(card):
        return "payment-card"
    if re.match(r"^0[0-9\s\-().]{7,}$", raw):
        return "phone-number"  # a national number: needs PHONE_DEFAULT_REGION
    return None
