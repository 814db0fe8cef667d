"""Every message a person reads that the web package writes in Python is marked for translation:
a flash() message, a form field's label and description, a choice's label, a placeholder, a
validator's message. The check reads the source (ast) of every cert_share/web/*.py and names
file:line for each bare English literal, so that a new one cannot slip past `make i18n` (whose
extraction only sees what is wrapped in _(), gettext, ngettext, _l, lazy_gettext or N_).

What is not text (an empty label, "—", an acronym such as "TLP") is left alone, and so is a
placeholder that is an example of a code rather than words ("FI, LV", "duty@cert.example",
"soc-pipeline"); so is a line that says it reads the same in every language with a
``# same in every language`` comment (a product name, a code)."""
from __future__ import annotations

import ast
import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WEB = os.path.join(ROOT, "cert_share", "web")
MARKERS = {"_", "gettext", "ngettext", "_l", "lazy_gettext", "lazy_ngettext", "N_", "pgettext", "npgettext"}
EXEMPT = "# same in every language"
VALIDATORS = {"DataRequired", "InputRequired", "Length", "Email", "Regexp", "NumberRange", "Optional", "EqualTo",
              "AnyOf", "NoneOf", "URL", "IPAddress", "UUID", "MacAddress"}
READ_KEYS = {"placeholder", "title", "aria-label", "alt"}


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _is_text(value: str) -> bool:
    """Words to translate: not an empty label, "—", or an acronym that reads the same everywhere ("TLP")."""
    return any(ch.isalpha() for ch in value) and not re.fullmatch(r"[A-Z][A-Z0-9.:+-]*", value.strip())


def bare_text(node: ast.expr | None) -> bool:
    """A literal a person would read, not wrapped in a translation call: a string constant with
    letters, an f-string, or a concatenation / %-formatting / conditional holding one."""
    if node is None:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and _is_text(node.value)
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and _is_text(str(v.value)) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return bare_text(node.left) or (isinstance(node.op, ast.Add) and bare_text(node.right))
    if isinstance(node, ast.IfExp):
        return bare_text(node.body) or bare_text(node.orelse)
    return False


def _words(node: ast.expr) -> bool:
    """A placeholder or title that is words (a space between lowercase words, or a capitalised
    word), not an example value such as a code, an address or a name."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return bare_text(node)
    text = node.value
    return bool(re.search(r"[a-z]{3,}", text)) and (bool(re.search(r"\s", text))
                                                      or bool(re.match(r"[A-Z][a-z]", text)))


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _choice_tuples(node: ast.expr) -> list[ast.Tuple]:
    """The (value, label) tuples written out in a choices expression."""
    if isinstance(node, (ast.List, ast.Tuple)) and not _is_pair(node):
        found = []
        for elt in node.elts:
            found.extend(_choice_tuples(elt.value if isinstance(elt, ast.Starred) else elt))
        return found
    if _is_pair(node):
        return [node]  # type: ignore[list-item]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _choice_tuples(node.left) + _choice_tuples(node.right)
    if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
        return _choice_tuples(node.elt)
    return []


def _is_pair(node: ast.expr) -> bool:
    return isinstance(node, ast.Tuple) and len(node.elts) in (2, 3) and not any(
        isinstance(e, (ast.Tuple, ast.List, ast.Starred)) for e in node.elts)


def _choice_problems(node: ast.expr) -> list[tuple[int, str]]:
    return [(t.lineno, "choice label") for t in _choice_tuples(node) if bare_text(t.elts[1])]


def _field_problems(call: ast.Call) -> list[tuple[int, str]]:
    found = []
    first = call.args[0] if call.args else None
    if bare_text(first) or bare_text(_kw(call, "label")):
        found.append((call.lineno, "field label"))
    if bare_text(_kw(call, "description")):
        found.append((call.lineno, "field description"))
    render_kw = _kw(call, "render_kw")
    if isinstance(render_kw, ast.Dict):
        found.extend((call.lineno, f"field {k.value}") for k, v in zip(render_kw.keys, render_kw.values, strict=True)
                     if isinstance(k, ast.Constant) and k.value in READ_KEYS and _words(v))
    return found


def _call_problems(call: ast.Call) -> list[tuple[int, str]]:
    name = _name(call.func)
    first = call.args[0] if call.args else None
    found = []
    if name == "flash" and bare_text(first or _kw(call, "message")):
        found.append((call.lineno, "flash() message"))
    elif name in MARKERS and isinstance(first, (ast.JoinedStr, ast.BinOp)):
        found.append((call.lineno, f"{name}() of a text built at run time (use named %(…)s parameters)"))
    elif name.endswith("Field"):
        found.extend(_field_problems(call))
    elif name in VALIDATORS and bare_text(_kw(call, "message") or (first if name == "Optional" else None)):
        found.append((call.lineno, "validator message"))
    choices = _kw(call, "choices")
    if choices is not None:
        found.extend(_choice_problems(choices))
    return found


def _names_choices(target: ast.expr) -> bool:
    """``form.x.choices = …``, or a module's ``…_CHOICES`` / ``CHOOSE``."""
    if isinstance(target, ast.Attribute):
        return target.attr == "choices"
    return isinstance(target, ast.Name) and target.id.isupper() and (
        target.id.endswith("CHOICES") or target.id == "CHOOSE")


def problems_in(source: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            found.extend(_call_problems(node))
        elif isinstance(node, ast.Assign) and any(_names_choices(t) for t in node.targets):
            found.extend(_choice_problems(node.value))
    lines = source.splitlines()
    return sorted({(line, what) for line, what in found if EXEMPT not in lines[line - 1]})


def test_the_check_finds_what_it_should():
    source = '''
flash("Saved.", "success")
flash(f"Report #{n} saved.")
flash("Cross-border " + ("recorded." if x else "cleared."))
flash(_("Saved."), "success")
flash(exc.message, "error")
f = StringField("Title")
g = StringField(_l("Title"), description="Say it", render_kw={"placeholder": "e.g. a name"})
k = StringField(_l("Country"), render_kw={"placeholder": "FI, LV", "title": "soc-pipeline"})
h = SelectField(_l("Kind"), choices=[("", "— choose —"), ("a", "Alpha")], validators=[Length(max=3, message="long")])
form.kind.choices = [("", "—"), *((str(e.id), f"[EXERCISE] {e.name}") for e in rows)]
OK_CHOICES = [("a", _l("Alpha")), ("b", tlp_label("b"))]
BAD_CHOICES = [("a", "Alpha")]
x = _(f"Report {n}")
y = StringField("TAXII version")  # same in every language
z = SelectField("TLP", choices=[("a", "TLP:AMBER")])
'''
    assert [line for line, _ in problems_in(source)] == [2, 3, 4, 7, 8, 8, 10, 10, 11, 13, 14]


def test_every_web_message_is_marked_for_translation():
    modules = sorted(glob.glob(os.path.join(WEB, "*.py")))
    assert modules
    problems = []
    for path in modules:
        with open(path, encoding="utf-8") as fh:
            for line, what in problems_in(fh.read()):
                problems.append(f"{os.path.relpath(path, ROOT)}:{line}: {what} not marked for translation")
    assert not problems, "\n".join(problems)
