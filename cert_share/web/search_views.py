"""``/search``: the header's search box. One query (an address, a CIDR range, a domain, a URL, an
e-mail address, a hash, an AS number or words) answered in groups: the reports the signed-in
person may read, the warnings they may read, and for CERT staff who reported it."""
from __future__ import annotations

from flask import render_template, request
from flask_login import login_required

from .. import policy
from ..errors import InputError
from ..extensions import db
from ..services import observable_search
from . import bp
from .actor import current_actor


@bp.get("/search")
@login_required
def search_page():
    text = request.args.get("q", "")
    actor = current_actor()
    staff = policy.is_cert_staff(actor)
    if not text.strip():
        return render_template("search.html", result=None, error=None, search_text="", staff=staff)
    try:
        query = observable_search.parse_query(text)
    except InputError as exc:
        # A full card number is never echoed, not even into the box it was typed in.
        shown = "" if isinstance(exc, observable_search.FullCardQuery) else text
        return render_template("search.html", result=None, error=exc.message, search_text=shown, staff=staff), 400
    result = observable_search.search(db.session, actor, query)
    return render_template("search.html", result=result, error=None, search_text=text, staff=staff)
