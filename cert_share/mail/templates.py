"""Jinja templates for mail bodies: ``<name>.txt`` and ``<name>.html`` side by side.

Rendered with jinja2 directly (no request context needed: jobs run outside requests), in the
language set around the call (``i18n.language(i18n.person_locale(recipient))``).
HTML templates autoescape; the plain-text ones do not (they are not markup).
"""
from __future__ import annotations

import os
from functools import lru_cache

from flask_babel import pgettext
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from .. import i18n

TEMPLATE_DIR = os.path.join(os.path.dirname(__file__), "templates")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,  # a missing variable is a bug, not an empty line in a mail
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # {% trans %} and _() speak the language set around the rendering (i18n.language: the recipient's).
    i18n.install_gettext(env)
    env.filters["code"] = code
    env.globals["pgettext"] = pgettext  # a word pages use in another sense ("To": a date, here an address)
    env.filters["underlined"] = underlined
    return env


def code(value) -> Markup:
    """A command, request or identifier inside a translated HTML sentence: ``<code>value</code>``
    (escaped), passed to ``_()`` as a parameter so that the sentence's msgid has no markup of it."""
    return Markup("<code>{}</code>").format(value)


def underlined(heading: str, rule: str = "-") -> str:
    """A plain-text heading and its rule, as long as the heading in the language it is written in."""
    return f"{heading}\n{rule * len(heading)}"


def render(name: str, **context) -> tuple[str, str]:
    """Render ``name.txt`` and ``name.html`` with the same context; returns (text, html)."""
    env = environment()
    return env.get_template(f"{name}.txt").render(**context), env.get_template(f"{name}.html").render(**context)


def render_text_as_html(subject: str, text: str) -> str:
    """An HTML part for a message queued with text only (the text, escaped, in the layout)."""
    return environment().get_template("plain.html").render(subject=subject, text=text)
