"""/admin/partners: the partner CERT directory (CERT admins), the page twin of
``cert-share partner set|list``: every partner with its fields and an edit form of its own.

Each partner's form carries a prefix of its own, so the fields of many forms on one page keep
distinct ids; the rules are services/partners.set_partner's, refusals shown beside the field.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from ..errors import CertShareError
from ..extensions import db
from ..models import Organization
from ..services import partners
from . import bp
from .actor import current_actor
from .roles import cert_admin_required
from .staff_forms import PartnerForm


def _prefix(org: Organization) -> str:
    return f"partner{org.id}"


def _form_for(org: Organization) -> PartnerForm:
    """The partner's form, filled with what is stored."""
    return PartnerForm(formdata=None, prefix=_prefix(org), country=org.country or "",
                       contact=org.duty_email or org.contact_email or "", taxii_url=org.taxii_url or "",
                       username_env=org.taxii_username_env or "", password_env=org.taxii_password_env or "",
                       languages=", ".join(org.languages or []))


def _page(edited: Organization | None = None, edited_form: PartnerForm | None = None, status: int = 200):
    rows = []
    for org in partners.list_partners(db.session):
        form = edited_form if edited is not None and org.id == edited.id else _form_for(org)
        rows.append({"org": org, "form": form,
                     "username_set": partners.credential_is_set(org.taxii_username_env),
                     "password_set": partners.credential_is_set(org.taxii_password_env)})
    return render_template("admin/partners.html", rows=rows), status


@bp.get("/admin/partners")
@cert_admin_required
def admin_partners():
    return _page()


@bp.post("/admin/partners/<slug>")
@cert_admin_required
def admin_partner(slug: str):
    """Save one partner's form; a refusal is said beside its field, and nothing is saved."""
    org = next((o for o in partners.list_partners(db.session) if o.slug == slug), None)
    if org is None:
        flash(f"There is no partner CERT {slug[:64]!r}.", "error")
        return _page(status=404)
    form = PartnerForm(prefix=_prefix(org))
    if form.validate():
        try:
            changes = partners.set_partner(
                db.session, org.slug, country=form.country.data, contact=form.contact.data,
                taxii_url=form.taxii_url.data, username_env=form.username_env.data,
                password_env=form.password_env.data, languages=form.languages.data, actor=current_actor())
            flash(f"{org.name}: {', '.join(sorted(changes)) or 'nothing'} changed.", "success")
            return redirect(url_for("web.admin_partners") + f"#partner-{org.slug}")
        except CertShareError as exc:
            db.session.rollback()
            field = getattr(form, exc.field or "", None) if exc.field else None
            if field is None:
                flash(exc.message, "error")
            else:
                field.errors = [*field.errors, exc.message]
            db.session.refresh(org)
    return _page(org, form, status=400)
