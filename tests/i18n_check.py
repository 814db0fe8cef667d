"""Finding text a person reads that is not marked for translation, in a Jinja template.

Used by tests/unit/test_i18n_catalogs.py, and by hand while marking:
``.venv/bin/python tests/i18n_check.py cert_share/web/templates/home.html`` lists what is left.

A template is lexed by Jinja: text inside ``{% trans %}`` blocks, expressions (``{{ _("...") }}``)
and tags are marked or code; the rest is HTML, whose text nodes and human-read attributes (title,
placeholder, aria-label, alt, a button's value) must hold no words. Plain-text templates (mail)
are text throughout. A template whose reader never has a language choice (mail to a partner CERT,
always English) says so in a comment holding ``Always English, never translated`` and is skipped.
"""
from __future__ import annotations

import re
import sys
from html.parser import HTMLParser

from jinja2 import Environment

# Words that read the same in every language: names of products, standards and formats, codes.
UNTRANSLATED_WORDS = {
    "cert-share", "CERT", "CERTs", "TLP", "STIX", "TAXII", "API", "JSON", "CSV", "HTML", "SVG", "PDF", "UTC",
    "RSIT", "ENISA", "NIS2", "DORA", "TOTP", "OpenPGP", "PGP", "IPv4", "IPv6", "URL", "URLs", "MD5", "SHA-1",
    "SHA-256", "SHA-512", "IBAN", "BIC", "ASN", "AS", "CIDR", "SMTP", "ID", "IDs", "OK", "SOC", "MISP",
    "CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED", "ATT&CK", "MITRE", "ICS", "XML", "ISO",
}
_WORD = re.compile(r"[^\W\d_][\w+&.:'-]*", re.UNICODE)
_HUMAN_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "label", "summary"}
_PLACEHOLDER = "\x00"


def _words(text: str) -> list[str]:
    text = re.sub(r"&[a-zA-Z]+;|&#\d+;", " ", text.replace(_PLACEHOLDER, " "))
    found = []
    for word in _WORD.findall(text):
        word = word.strip(".:'-")
        if not word or word in UNTRANSLATED_WORDS or word.startswith(("TLP:", "http", "www.")):
            continue
        if re.fullmatch(r"[A-Z]{1,3}\d*", word):  # units, codes: "s", "ms" excluded below; "Q1"
            continue
        found.append(word)
    return found


def _unmarked_source(source: str) -> list[tuple[int, str]]:
    """(line, text) of every stretch of template data outside trans blocks; code as placeholders."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    pieces: list[tuple[int, str]] = []
    in_trans = 0
    pending_block: list[str] = []
    in_block = False
    for lineno, kind, value in env.lex(source):
        if kind == "block_begin":
            in_block, pending_block = True, []
            continue
        if in_block:
            if kind == "block_end":
                in_block = False
                name = pending_block[0] if pending_block else ""
                if name == "trans":
                    in_trans += 1
                elif name == "endtrans":
                    in_trans -= 1
                pieces.append((lineno, _PLACEHOLDER))
            elif kind == "name" and not pending_block:
                pending_block.append(value)
            elif kind != "whitespace":
                pending_block.append(value)
            continue
        if kind == "data" and not in_trans:
            pieces.append((lineno, value))
        elif kind in ("variable_end", "comment_end"):
            pieces.append((lineno, _PLACEHOLDER))
    return pieces


class _Texts(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.found: list[tuple[int, str]] = []
        self.skip = 0
        self.line_of = lambda offset: 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        attrs_d = dict(attrs)
        for name, value in attrs:
            human = name in _HUMAN_ATTRIBUTES or (
                name == "value" and tag in ("input", "button") and attrs_d.get("type") in ("submit", "button", "reset"))
            if human and value and _words(value):
                self.found.append((self.getpos()[0], f'{name}="{value}"'))

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and _words(data):
            self.found.append((self.getpos()[0], data.strip().replace(_PLACEHOLDER, "…")))


def unmarked(path: str) -> list[tuple[int, str]]:
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    if re.search(r"\{#-?\s*Always English, never translated", source):
        return []
    pieces = _unmarked_source(source)
    if path.endswith(".txt"):
        out = []
        for line, text in pieces:
            if _words(text):
                out.append((line, text.strip().replace(_PLACEHOLDER, "…")))
        return out
    parser = _Texts()
    # Feed the stitched document; lines are the parser's (placeholders keep the lines of the source).
    parser.feed("".join(text for _, text in pieces))
    parser.close()
    return parser.found


if __name__ == "__main__":
    bad = 0
    for name in sys.argv[1:]:
        for line, text in unmarked(name):
            bad += 1
            print(f"{name}:{line}: {text[:100]!r}")
    sys.exit(1 if bad else 0)
