"""OpenPGP for mail (RFC 3156 PGP/MIME), through GnuPG (python-gnupg drives Debian's ``gpg``).

    inspect_key      a person's public key as registered: one key, not expired, not revoked, able
                     to encrypt, with a user id naming their address; InputError otherwise
    sign             wrap a message in multipart/signed with the platform's key (MAIL_GPG_HOME)
    encrypt          wrap a (signed) message in multipart/encrypted to one person's key

    PgpError         gpg failed at send time
    └── SigningError the platform's own key: a set-up problem, every message would meet it

Members' keys are never imported into the platform's GnuPG home: each inspection and each
encryption imports the one key into a throwaway home that is deleted afterwards, so a member's
upload can neither shadow the signing key nor make the platform trust anything.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy as email_policy
from email.message import EmailMessage, MIMEPart
from email.utils import parseaddr

import gnupg
from flask_babel import gettext

from ..errors import InputError
from ..limits import MAX_PGP_KEY

# OpenPGP hash algorithm ids (RFC 4880 9.4) as RFC 3156's micalg names them.
_MICALG = {"1": "pgp-md5", "2": "pgp-sha1", "3": "pgp-ripemd160", "8": "pgp-sha256", "9": "pgp-sha384",
           "10": "pgp-sha512", "11": "pgp-sha224"}

# What is signed must reach the reader byte for byte: 7-bit transfer encodings only (a relay may
# recode 8-bit text), CRLF line ends (RFC 3156 5: the canonical form that is signed).
SIGNED_POLICY = email_policy.SMTP.clone(max_line_length=998, cte_type="7bit")


class PgpError(Exception):
    """gpg could not sign or encrypt."""


class SigningError(PgpError):
    """The platform's signing key could not be used (MAIL_GPG_HOME, MAIL_SIGNING_KEY)."""


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    expires_at: datetime | None
    armored: str  # as gpg exports it: only the one key, whatever else the upload held


@contextmanager
def _scratch_home() -> Iterator[gnupg.GPG]:
    """A GnuPG home that lives for one operation."""
    home = tempfile.mkdtemp(prefix="cert-share-gpg-")
    try:
        yield gnupg.GPG(gnupghome=home)
    finally:
        if any(name.startswith("S.") for name in os.listdir(home)):  # gpg started an agent here
            subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


def _when(epoch: str | None) -> datetime | None:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc) if epoch else None


def _uid_address(uid: str) -> str:
    return parseaddr(uid)[1].strip().lower()


def inspect_key(data: str | bytes, email: str, *, now: datetime) -> KeyInfo:
    """Check an uploaded public key (armored or binary) for ``email``; InputError names what is wrong."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    if not raw.strip():
        raise InputError(gettext("the key is empty: paste your public key (gpg --armor --export you@example.org)"),
                         field="key")
    if len(raw) > MAX_PGP_KEY:
        raise InputError(gettext("the key is larger than %(count)s KiB: export it with gpg --armor --export-options "
                                 "export-minimal --export you@example.org", count=MAX_PGP_KEY // 1024), field="key")
    private = InputError(gettext("that is a private key: never share it. Upload the public key "
                                 "(gpg --armor --export you@example.org)"), field="key")
    if b"PRIVATE KEY BLOCK" in raw:
        raise private
    with _scratch_home() as gpg:
        imported = gpg.import_keys(raw)
        if int(imported.sec_read or 0):  # a binary export has no armor line to tell it by
            raise private
        keys = gpg.list_keys()
        if not keys or not imported.fingerprints:
            raise InputError(gettext("this is not an OpenPGP public key: paste the whole block from -----BEGIN PGP "
                                     "PUBLIC KEY BLOCK----- to its END line"), field="key")
        if len(keys) > 1:
            raise InputError(gettext("the upload holds %(count)s keys: upload only your own",
                                     count=len(keys)), field="key")
        key = keys[0]
        _check_usable(key, gpg.list_keys().uid_map, email, now)
        fingerprint = key["fingerprint"]
        armored = str(gpg.export_keys(fingerprint, minimal=False))
    return KeyInfo(fingerprint=fingerprint, expires_at=_expiry(key), armored=armored)


def _check_usable(key: dict, uid_map: dict, email: str, now: datetime) -> None:
    expires = _when(key.get("expires"))
    if key.get("trust") == "r":
        raise InputError(gettext("this key is revoked: upload your current key"), field="key")
    if key.get("trust") == "e" or (expires is not None and expires <= now):
        if expires:
            raise InputError(gettext("this key expired on %(day)s: extend it (gpg --quick-set-expire) or upload a "
                                     "new one", day=expires.strftime("%Y-%m-%d")), field="key")
        raise InputError(gettext("this key expired: extend it (gpg --quick-set-expire) or upload a new one"),
                         field="key")
    valid_uids = [uid for uid in key["uids"] if uid_map.get(uid, {}).get("trust") not in ("r", "e")]
    if email.lower() not in {_uid_address(uid) for uid in valid_uids}:
        named = ", ".join(_uid_address(uid) or uid for uid in key["uids"]) or gettext("no address")
        raise InputError(gettext("no user id of this key is %(email)s: it names %(named)s. Add a user id for "
                                 "%(email)s (gpg --quick-add-uid) or upload the key made for it",
                                 email=email, named=named), field="key")
    if "E" not in key.get("cap", ""):
        raise InputError(gettext("this key has no usable encryption subkey (all expired or revoked?): add one (gpg "
                                 "--quick-add-key FINGERPRINT cv25519 encr) and upload it again"), field="key")


def _expiry(key: dict) -> datetime | None:
    """When the key stops working for encryption: its own expiry, or that of its last valid
    encryption subkey, whichever comes first."""
    primary = _when(key.get("expires"))
    subkeys = [info for info in key.get("subkey_info", {}).values()
               if "e" in info.get("cap", "") and info.get("trust") not in ("r", "e")]
    last_subkey: datetime | None = None
    if subkeys and all(info.get("expires") for info in subkeys):
        last_subkey = max(_when(info["expires"]) for info in subkeys)  # type: ignore[type-var]  # all set, checked
    ends = [when for when in (primary, last_subkey) if when is not None]
    return min(ends) if ends else None


def _canonical(part: MIMEPart | EmailMessage) -> bytes:
    return part.as_bytes(policy=SIGNED_POLICY)


def sign(message: EmailMessage, *, gpg_home: str, key: str) -> EmailMessage:
    """The same message as RFC 3156 multipart/signed: its body part, then a detached signature."""
    body = _reencoded(message)
    gpg = gnupg.GPG(gnupghome=gpg_home)
    # --local-user, not python-gnupg's keyid (--default-key): gpg falls back to another secret key
    # when the default one is missing, and the platform would sign with a key nobody published.
    result = gpg.sign(_canonical(body), detach=True, binary=False, extra_args=["--local-user", key])
    if not result or not result.data or key.upper() not in {str(result.fingerprint).upper(), str(result.key_id)}:
        raise SigningError(f"gpg could not sign with MAIL_SIGNING_KEY {key} in MAIL_GPG_HOME {gpg_home}: "
                           f"{result.status or 'no signature made'}")
    signature = MIMEPart(policy=SIGNED_POLICY)
    signature.set_content(result.data, maintype="application", subtype="pgp-signature", cte="7bit",
                          disposition="attachment", filename="signature.asc")
    signature["Content-Description"] = "OpenPGP digital signature"
    micalg = _MICALG.get(str(result.hash_algo), "pgp-sha256")
    return _wrap(message, [body, signature], "signed", protocol="application/pgp-signature", micalg=micalg)


def encrypt(message: EmailMessage, armored_key: str, fingerprint: str, *, subject: str) -> EmailMessage:
    """The message (signed first, if it is) as RFC 3156 multipart/encrypted to one key.

    Its subject goes inside, as a protected header; the outside says only ``subject``."""
    inner = _entity(message)
    inner["Subject"] = str(message["Subject"])
    inner.set_param("protected-headers", "v1")
    with _scratch_home() as gpg:
        imported = gpg.import_keys(armored_key)
        if fingerprint not in imported.fingerprints:
            raise PgpError(f"the key {fingerprint} could not be read again")
        result = gpg.encrypt(_canonical(inner), fingerprint, always_trust=True, armor=True)
    if not result.ok:
        raise PgpError(f"gpg could not encrypt to {fingerprint}: {result.status}")
    control = MIMEPart(policy=SIGNED_POLICY)
    control.set_content(b"Version: 1\r\n", maintype="application", subtype="pgp-encrypted", cte="7bit")
    control["Content-Description"] = "PGP/MIME version identification"
    payload = MIMEPart(policy=SIGNED_POLICY)
    payload.set_content(result.data, maintype="application", subtype="octet-stream", cte="7bit",
                        disposition="inline", filename="encrypted.asc")
    payload["Content-Description"] = "OpenPGP encrypted message"
    encrypted = _wrap(message, [control, payload], "encrypted", protocol="application/pgp-encrypted")
    encrypted.replace_header("Subject", subject)
    return encrypted


_CONTENT_HEADERS = re.compile(r"^content-", re.IGNORECASE)


def _entity(message: EmailMessage) -> MIMEPart:
    """The message's body as a MIME entity of its own, parts unchanged (a signature over them holds)."""
    part = MIMEPart(policy=SIGNED_POLICY)
    for name, value in message.items():
        if _CONTENT_HEADERS.match(name):
            part[name] = value
    part.set_payload(message.get_payload())
    return part


def _reencoded(part) -> MIMEPart:
    """A copy of a message's body in 7-bit transfer encodings (quoted-printable text), so that
    relays leave it as it was signed."""
    copy = MIMEPart(policy=SIGNED_POLICY)
    if part.is_multipart():
        copy["Content-Type"] = part["Content-Type"]
        for sub in part.iter_parts():
            copy.attach(_reencoded(sub))
        copy.set_boundary(part.get_boundary() or _boundary())
        return copy
    content = part.get_content()
    # An attachment stays one: its disposition and file name go with it.
    kept = {"disposition": part.get_content_disposition(), "filename": part.get_filename()}
    if isinstance(content, str):
        copy.set_content(content, subtype=part.get_content_subtype(), cte="quoted-printable", **kept)
    else:
        copy.set_content(content, maintype=part.get_content_maintype(), subtype=part.get_content_subtype(),
                         cte="base64", **kept)
    return copy


def _boundary() -> str:
    return "=_cert-share_" + os.urandom(12).hex()


def _wrap(message: EmailMessage, parts: list[MIMEPart], subtype: str, **params: str) -> EmailMessage:
    """A new message with ``message``'s envelope headers and a multipart/``subtype`` body of ``parts``."""
    wrapped = EmailMessage(policy=SIGNED_POLICY)  # the policy the signed part was written with
    for name, value in message.items():
        if not _CONTENT_HEADERS.match(name) and name.lower() != "mime-version":
            wrapped[name] = value
    wrapped["MIME-Version"] = "1.0"
    wrapped["Content-Type"] = f"multipart/{subtype}"
    for name, value in params.items():
        wrapped.set_param(name, value)
    wrapped.set_payload(list(parts))
    wrapped.set_boundary(_boundary())
    return wrapped
