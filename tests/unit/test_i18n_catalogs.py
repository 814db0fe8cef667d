"""The catalogs are complete and current: every string a person reads is marked, extracted into
the template catalog, translated in every shipped language (no empty or fuzzy entry), and
compiled into the .mo the package serves. A failure names what to do (usually `make i18n`, then
translate what it lists)."""
from __future__ import annotations

import glob
import io
import os
import re

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from cert_share import config, i18n
from tests.i18n_check import unmarked

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(ROOT, "cert_share")
TRANSLATIONS = os.path.join(PACKAGE, "translations")
# The same keywords as `make i18n` (Makefile, I18N_KEYWORDS).
KEYWORDS = dict(DEFAULT_KEYWORDS, _l=None, lazy_gettext=None, lazy_ngettext=(1, 2), N_=None)
TRANSLATED = [code for code in config.LOCALES if code != i18n.SOURCE_LOCALE]
PLACEHOLDER = re.compile(r"%\(\w+\)[sdrif]|%[sdrif]")


def _msgid(message_id) -> str:
    return message_id[0] if isinstance(message_id, (tuple, list)) else message_id


@pytest.fixture(scope="module")
def extracted() -> set[tuple[str | None, str]]:
    """What `make i18n` would extract from the source as it is now: (context, msgid)."""
    with open(os.path.join(ROOT, "babel.cfg"), encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = set()
    for _, _, message, _, context in extract_from_dir(ROOT, method_map, options_map, keywords=KEYWORDS):
        if _msgid(message):
            found.add((context, _msgid(message)))
    return found


def _entry(message) -> tuple:
    def frozen(value):
        return tuple(value) if isinstance(value, (tuple, list)) else value

    return message.context, frozen(message.id), frozen(message.string)


def _catalog(locale: str):
    with open(os.path.join(TRANSLATIONS, locale, "LC_MESSAGES", "messages.po"), "rb") as fh:
        return read_po(fh, locale=locale)


def test_every_template_string_is_marked_for_translation():
    templates = sorted(glob.glob(os.path.join(PACKAGE, "**", "templates", "**", "*.html"), recursive=True)
                       + glob.glob(os.path.join(PACKAGE, "**", "templates", "**", "*.txt"), recursive=True))
    assert templates
    problems = [f"{os.path.relpath(path, ROOT)}:{line}: {text[:80]!r}"
                for path in templates for line, text in unmarked(path)]
    assert not problems, "text not marked for translation ({% trans %} or _()):\n" + "\n".join(problems)


def test_templates_translate_variables_with_the_escaping_filter():
    """``_(variable)`` is marked safe by Jinja: a value missing from the catalog (anything typed)
    would reach the page unescaped. Variables go through ``|t``; ``_()`` takes literals only."""
    dynamic = re.compile(r"(?<![\w.])_\((?![\"'])")
    found = []
    for path in glob.glob(os.path.join(PACKAGE, "**", "templates", "**", "*.*"), recursive=True):
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if dynamic.search(line):
                    found.append(f"{os.path.relpath(path, ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "\n".join(found)


def test_the_template_catalog_is_current(extracted):
    with open(os.path.join(TRANSLATIONS, "messages.pot"), "rb") as fh:
        template = {(m.context, _msgid(m.id)) for m in read_po(fh) if m.id}
    assert extracted - template == set(), "strings not yet in messages.pot: run `make i18n`"
    assert template - extracted == set(), "messages.pot holds strings the source no longer has: run `make i18n`"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_string_is_translated_and_none_is_fuzzy(locale, extracted):
    catalog = _catalog(locale)
    entries = {(m.context, _msgid(m.id)): m for m in catalog if m.id}
    missing = sorted(extracted - entries.keys())
    assert not missing, f"not in the {locale} catalog (run `make i18n`): {missing[:20]}"
    untranslated = sorted(key for key, m in entries.items()
                          if not (all(m.string) if isinstance(m.string, tuple) else m.string))
    assert not untranslated, f"{len(untranslated)} untranslated {locale} entries: {untranslated[:20]}"
    fuzzy = sorted(key for key, m in entries.items() if m.fuzzy)
    assert not fuzzy, f"fuzzy {locale} entries (check and clear the flag): {fuzzy[:20]}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_every_placeholder(locale):
    """A translation that drops or renames %(name)s would fail (or lie) when the page is drawn."""
    wrong = []
    for message in _catalog(locale):
        if not message.id:
            continue
        source = _msgid(message.id)
        targets = message.string if isinstance(message.string, tuple) else (message.string,)
        for target in targets:
            if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(target)):
                wrong.append((source, target))
    assert not wrong, wrong[:10]


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_compiled_catalog_matches_its_source(locale):
    """The .mo the package serves is the .po compiled (`make i18n` compiles)."""
    catalog = _catalog(locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    expected = {_entry(m) for m in read_mo(compiled) if m.id}
    with open(os.path.join(TRANSLATIONS, locale, "LC_MESSAGES", "messages.mo"), "rb") as fh:
        shipped = {_entry(m) for m in read_mo(fh) if m.id}
    assert shipped == expected, "messages.mo is older than messages.po: run `make i18n`"


def test_every_configured_language_ships_a_catalog():
    for code in TRANSLATED:
        assert os.path.isfile(os.path.join(TRANSLATIONS, code, "LC_MESSAGES", "messages.mo")), code
    on_disk = {name for name in os.listdir(TRANSLATIONS) if os.path.isdir(os.path.join(TRANSLATIONS, name))}
    assert on_disk == set(TRANSLATED), "a catalog without its code in config.LOCALES (or the reverse)"
