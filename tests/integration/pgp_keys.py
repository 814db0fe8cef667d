"""OpenPGP keys for the mail tests, made with the real gpg (ed25519 + cv25519: fast), and the
checks a reader's mail client would make: gpg --verify of a PGP/MIME signature, decryption with
the recipient's private key."""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path


def gpg(home: Path, *args: str, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["gpg", "--homedir", str(home), "--batch", "--yes", "--pinentry-mode", "loopback",
                           "--passphrase", "", *args], input=stdin, capture_output=True, check=check)


@dataclass(frozen=True)
class Keyring:
    """One person's GnuPG home (their private key) and what they would upload (the public key)."""
    home: Path
    email: str
    fingerprint: str
    public: str

    def decrypt(self, data: bytes) -> bytes:
        return gpg(self.home, "--decrypt", stdin=data).stdout


def make_key(root: Path, name: str, email: str, *, expire: str = "2y", faked_time: str | None = None,
             revoked: bool = False) -> Keyring:
    """A new key in its own home under ``root``; ``faked_time`` (e.g. 20200101T000000) makes it
    then, so a short ``expire`` has long run out; ``revoked`` applies its revocation certificate."""
    home = root / name
    home.mkdir(mode=0o700)
    when = ["--faked-system-time", faked_time] if faked_time else []
    gpg(home, *when, "--quick-gen-key", f"{name} <{email}>", "future-default", "default", expire)
    fingerprint = _fingerprint(home)
    if revoked:
        certificate = (home / "openpgp-revocs.d" / f"{fingerprint}.rev").read_text()
        gpg(home, "--import", stdin=certificate.replace(":-----BEGIN", "-----BEGIN").encode())
    public = gpg(home, "--armor", "--export", fingerprint).stdout.decode()
    return Keyring(home=home, email=email, fingerprint=fingerprint, public=public)


def _fingerprint(home: Path) -> str:
    listing = gpg(home, "--with-colons", "--list-keys").stdout.decode()
    return re.search(r"^fpr:+([0-9A-F]{40}):", listing, re.MULTILINE).group(1)


def signed_parts(raw: bytes) -> tuple[bytes, bytes]:
    """A multipart/signed message as received: (the signed part's bytes in canonical CRLF form,
    the detached signature), cut out of the raw message as RFC 3156 5 says a reader does."""
    message = message_from_bytes(raw, policy=email_policy.default)
    assert message.get_content_type() == "multipart/signed", message.get_content_type()
    boundary = message.get_boundary().encode()
    canonical = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    delimiter = b"\r\n--" + boundary
    first = canonical.index(b"--" + boundary + b"\r\n") + len(boundary) + 4
    end = canonical.index(delimiter, first)
    signature = message.get_payload()[1].get_content()
    return canonical[first:end], signature.encode() if isinstance(signature, str) else signature


def verify(home: Path, data: bytes, signature: bytes) -> subprocess.CompletedProcess:
    """gpg --verify of a detached signature, with the signer's public key in ``home``."""
    sig_path, data_path = home / "received.sig", home / "received.data"
    sig_path.write_bytes(signature)
    data_path.write_bytes(data)
    try:
        return gpg(home, "--status-fd", "1", "--verify", str(sig_path), str(data_path), check=False)
    finally:
        os.unlink(sig_path)
        os.unlink(data_path)
