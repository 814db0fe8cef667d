"""/admin/partners: the partner CERT directory (CERT admins), the page twin of
``cert-share partner set|list|key``: every partner with its fields, its OpenPGP key (fingerprint
and expiry), an edit form of its own and a key upload (services/partner_mail.register_partner_key)
or removal.

Each partner's form carries a prefix of its own, so the fields of many forms on one page keep
distinct ids; the rules are services/partners.set_partner's, refusals shown beside the field.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from .. import i18n
from ..clock import utcnow
from ..errors import CertShareError
from ..extensions import db
from ..limits import MAX_PGP_KEY
from ..mail.encryption import key_expired
from ..models import Organization
from ..services import partner_mail, partners
from . import bp
from .actor import current_actor
from .roles import cert_admin_required
from .staff_forms import ConfirmForm, PartnerForm, PartnerKeyForm


def _prefix(org: Organization) -> str:
    return f"partner{org.id}"


def _form_for(org: Organization) -> PartnerForm:
    """The partner's form, filled with what is stored."""
    return PartnerForm(formdata=None, prefix=_prefix(org), country=org.country or "",
                       contact=org.duty_email or org.contact_email or "", taxii_url=org.taxii_url or "",
                       username_env=org.taxii_username_env or "", password_env=org.taxii_password_env or "",
                       languages=", ".join(org.languages or []))


def _key_prefix(org: Organization) -> str:
    return f"partnerkey{org.id}"


def _page(edited: Organization | None = None, edited_form: PartnerForm | None = None, status: int = 200,
          key_form: PartnerKeyForm | None = None):
    rows, now = [], utcnow()
    for org in partners.list_partners(db.session):
        mine = edited is not None and org.id == edited.id
        form = edited_form if mine and edited_form is not None else _form_for(org)
        rows.append({"org": org, "form": form,
                     "key_form": key_form if mine and key_form is not None
                     else PartnerKeyForm(formdata=None, prefix=_key_prefix(org)),
                     "remove_form": ConfirmForm(formdata=None, prefix=f"partnerkeyremove{org.id}"),
                     "key_expired": key_expired(org, now),
                     "username_set": partners.credential_is_set(org.taxii_username_env),
                     "password_set": partners.credential_is_set(org.taxii_password_env)})
    return render_template("admin/partners.html", rows=rows), status


@bp.get("/admin/partners")
@cert_admin_required
def admin_partners():
    return _page()


def _partner_or_none(slug: str) -> Organization | None:
    return next((o for o in partners.list_partners(db.session) if o.slug == slug), None)


def _no_partner(slug: str):
    flash(_("There is no partner CERT %(slug)r.", slug=slug[:64]), "error")
    return _page(status=404)


@bp.post("/admin/partners/<slug>")
@cert_admin_required
def admin_partner(slug: str):
    """Save one partner's form; a refusal is said beside its field, and nothing is saved."""
    org = _partner_or_none(slug)
    if org is None:
        return _no_partner(slug)
    form = PartnerForm(prefix=_prefix(org))
    if form.validate():
        try:
            changes = partners.set_partner(
                db.session, org.slug, country=form.country.data, contact=form.contact.data,
                taxii_url=form.taxii_url.data, username_env=form.username_env.data,
                password_env=form.password_env.data, languages=form.languages.data, actor=current_actor())
            flash(_("%(org)s: %(fields)s changed.", org=org.name, fields=", ".join(sorted(changes)))
                  if changes else _("%(org)s: nothing changed.", org=org.name), "success")
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


@bp.post("/admin/partners/<slug>/key")
@cert_admin_required
def admin_partner_key(slug: str):
    """Register the partner's OpenPGP key from an uploaded file; a refused key is said beside the
    field (mail.pgp.inspect_key's reason) and the key kept before stays."""
    org = _partner_or_none(slug)
    if org is None:
        return _no_partner(slug)
    form = PartnerKeyForm(prefix=_key_prefix(org))
    if form.validate():
        upload = form.key.data
        data = upload.read(MAX_PGP_KEY + 1) if upload is not None and hasattr(upload, "read") else b""
        if not data:
            form.key.errors = [*form.key.errors, _("Choose the key file (.asc or .gpg) to upload.")]
        elif len(data) > MAX_PGP_KEY:
            form.key.errors = [*form.key.errors, _("The key file is larger than %(size)s KiB: export the public "
                                                   "key alone (gpg --export --armor FINGERPRINT).",
                                                   size=MAX_PGP_KEY // 1024)]
        else:
            try:
                info = partner_mail.register_partner_key(db.session, org, data, current_actor())
                if info.expires_at:
                    flash(_("%(org)s: OpenPGP key %(fingerprint)s, valid until %(day)s registered.", org=org.name,
                            fingerprint=info.fingerprint, day=i18n.format_date(info.expires_at)), "success")
                else:
                    flash(_("%(org)s: OpenPGP key %(fingerprint)s registered.", org=org.name,
                            fingerprint=info.fingerprint), "success")
                return redirect(url_for("web.admin_partners") + f"#partner-{org.slug}")
            except CertShareError as exc:
                db.session.rollback()
                form.key.errors = [*form.key.errors, exc.message]
                db.session.refresh(org)
    return _page(org, key_form=form, status=400)


@bp.post("/admin/partners/<slug>/key/remove")
@cert_admin_required
def admin_partner_key_remove(slug: str):
    """Forget the partner's key: mail that must be encrypted is refused for it again."""
    org = _partner_or_none(slug)
    if org is None:
        return _no_partner(slug)
    form = ConfirmForm(prefix=f"partnerkeyremove{org.id}")
    if not form.validate():
        flash(_("The form expired; try again."), "error")
        return _page(status=400)
    removed = partner_mail.remove_partner_key(db.session, org, current_actor())
    flash(_("%(org)s: OpenPGP key removed.", org=org.name) if removed
          else _("%(org)s had no OpenPGP key.", org=org.name), "success")
    return redirect(url_for("web.admin_partners") + f"#partner-{org.slug}")
