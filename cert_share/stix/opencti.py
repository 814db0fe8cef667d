"""OpenCTI's cyber observable types for fraud identifiers: bank-account, phone-number,
cryptocurrency-wallet and payment-card, as OpenCTI publishes them, so that OpenCTI ingests what
this platform emits as it is.

OpenCTI's definitions (cited in tests/fixtures/opencti/README.md, checked by
tests/unit/test_opencti_compat.py):

- pycti ``pycti/utils/constants.py``: ``CustomObservableBankAccount`` (value, iban, bic,
  account_number; id from iban), ``CustomObservablePhoneNumber`` and
  ``CustomObservableCryptocurrencyWallet`` (value; id from value), ``CustomObservablePaymentCard``
  (value, card_number, expiration_date, cvv, holder_name; id from card_number);
- the platform's ``opencti-graphql/src/schema/identifier.js`` (the same id-contributing
  properties, UUIDv5 in the OASIS namespace over the canonical JSON, as STIX 2.1 section 2.9) and
  its STIX converter, which marks each with ``{"extension_type": "new-sco"}`` under
  ``STIX_EXT_OCTI_SCO`` (:data:`EXTENSION_ID`).

OpenCTI publishes no extension-definition object for that id. ``data/opencti-sco-extension.json``
ships one written by cert-share, with OpenCTI's id, describing it; :func:`definitions_for` gives
what a bundle or collection holding such objects must carry (build.bundle and
build.incident_objects add it).

One known difference: OpenCTI requires ``iban`` on a bank-account (pycti marks it required, and
the platform refuses to create one without it). A national account (BIC and account number, no
IBAN) keeps OpenCTI's property names (value, bic, account_number) and a deterministic id over
bic and account_number, but an OpenCTI instance refuses it.

stix2 does not know these types: :func:`register_with_stix2` registers them (the first call
imports stix2, a slow import), after which ``stix2.parse`` builds them as observables instead of
returning a plain dict that looks like a custom domain object without ``created``.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

from .fraud import FRAUD_TYPES
from .observables import OPENCTI_SCO_EXTENSION

EXTENSION_ID = OPENCTI_SCO_EXTENSION
TYPES = FRAUD_TYPES
# OpenCTI's properties per type (pycti's CustomObservable definitions), STIX common ones aside.
PROPERTIES: dict[str, tuple[str, ...]] = {
    "bank-account": ("value", "iban", "bic", "account_number"),
    "phone-number": ("value",),
    "cryptocurrency-wallet": ("value",),
    "payment-card": ("value", "card_number", "expiration_date", "cvv", "holder_name"),
}
# The properties OpenCTI derives each type's id from (pycti id_contrib_props, platform identifier.js).
ID_CONTRIBUTING: dict[str, tuple[str, ...]] = {
    "bank-account": ("iban",), "phone-number": ("value",), "cryptocurrency-wallet": ("value",),
    "payment-card": ("card_number",),
}


@lru_cache(maxsize=1)
def _shipped() -> tuple[dict, ...]:
    text = resources.files(__package__).joinpath("data/opencti-sco-extension.json").read_text(encoding="utf-8")
    return tuple(json.loads(text))


def extension_objects() -> list[dict]:
    """The extension-definition and its author's identity, as shipped (fresh copies)."""
    return [json.loads(json.dumps(obj)) for obj in _shipped()]


def uses_extension(obj: dict) -> bool:
    extensions = obj.get("extensions")
    return isinstance(extensions, dict) and EXTENSION_ID in extensions


def definitions_for(objects: Iterable[dict], present: Iterable[str] = ()) -> list[dict]:
    """The shipped objects that ``objects`` need and that neither they nor ``present`` (ids)
    already hold: the extension-definition and its author when any object references the
    extension, else nothing."""
    objects = list(objects)
    if not any(uses_extension(o) for o in objects):
        return []
    have = {o.get("id") for o in objects} | set(present)
    return [o for o in extension_objects() if o["id"] not in have]


@lru_cache(maxsize=1)
def register_with_stix2() -> None:
    """Register the four types with stix2 (once), with OpenCTI's properties and its extension.

    No property is required here: pycti requires ``value`` (and ``iban``, ``card_number``), but
    the platform's own exports of a bank-account or payment-card have no ``value``, and a national
    account has no ``iban``. stix2's registry is global: once registered, every ``stix2.parse``
    in the process sees these types, so they must refuse nothing the unregistered path accepts
    (stix/validate.py treats them as custom SCOs)."""
    import stix2.v21
    from stix2.properties import StringProperty

    for index, (type_, names) in enumerate(PROPERTIES.items()):
        props = [(name, StringProperty()) for name in names]
        # stix2 registers the extension itself with the first type; the others name it the way
        # stix2's extension_name does (it would refuse to register the extension twice).
        cls = type(f"OpenCTI{type_.title().replace('-', '')}", (), {"with_extension": EXTENSION_ID})
        stix2.v21.CustomObservable(type_, props, list(ID_CONTRIBUTING[type_]),
                                   extension_name=EXTENSION_ID if index == 0 else None)(cls)


def parse(obj: dict) -> Any:
    """``obj`` as a stix2 object (stix2.exceptions.STIXError when it is not valid)."""
    import stix2

    register_with_stix2()
    return stix2.parse(obj, allow_custom=True, version="2.1")


__all__ = ["EXTENSION_ID", "ID_CONTRIBUTING", "PROPERTIES", "TYPES", "definitions_for", "extension_objects",
           "parse", "register_with_stix2", "uses_extension"]
