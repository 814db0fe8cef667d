"""Administration pages: organizations (create, edit, deactivate) and assets, users and roles,
tokens, the audit log (CERT admins); a member-admin's own organization's accounts
(``/organization/users``) and tokens (``/tokens``). Password resets and disabling an account
(``/users/<id>/...``) serve both: the service answers 404 for an account the caller does not manage."""
from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import policy
from ..errors import CertShareError, InputError
from ..extensions import db
from ..models import Organization
from ..models.organization import ORG_KIND_LABELS, ORG_KINDS
from ..models.user import ROLE_LABELS, roles_for_kind
from ..params import int_arg
from ..services import administration, organizations, tokens, totp, users
from . import bp
from .actor import current_actor
from .roles import cert_admin_required, token_admin_required, user_admin_required
from .staff_forms import (
    AssetForm,
    ConfirmForm,
    DutyEmailForm,
    MemberUserForm,
    OrganizationEditForm,
    OrganizationForm,
    RoleForm,
    TokenForm,
    UserForm,
    country_choices,
    role_choices,
)


def _flash_error(exc: CertShareError) -> None:
    db.session.rollback()
    flash(exc.message, "error")


# A service names the field it refuses; where the form calls it otherwise.
_FORM_FIELD = {"asset": "assets"}


def _field_error(form, exc: CertShareError) -> None:
    """The service's refusal next to the field it names, when the form has that field; else a flash."""
    db.session.rollback()
    field = getattr(form, _FORM_FIELD.get(exc.field or "", exc.field or ""), None) if exc.field else None
    if field is None:
        flash(exc.message, "error")
    else:
        field.errors = [*field.errors, exc.message]


# ---- organizations and assets --------------------------------------------------------------

def _details(form: OrganizationEditForm) -> dict:
    return {"name": form.name.data, "sector": form.sector.data, "country": form.country.data or None,
            "contact_email": form.contact_email.data or None, "regime": form.regime.data or None}


@bp.route("/admin/organizations", methods=["GET", "POST"])
@cert_admin_required
def admin_organizations():
    form = OrganizationForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                org = organizations.create_organization(
                    db.session, kind=form.kind.data, **_details(form),
                    assets=[line.strip() for line in (form.assets.data or "").splitlines() if line.strip()],
                    actor=current_actor())
                flash(_("Organization %(org)s (%(slug)s) created.", org=org.name, slug=org.slug), "success")
                return redirect(url_for("web.admin_organizations"))
            except CertShareError as exc:
                _field_error(form, exc)
        status = 400
    return render_template("admin/organizations.html", form=form, countries=country_choices(),
                           orgs=administration.organizations(db.session, with_assets=True)), status


@bp.route("/admin/organizations/<slug>", methods=["GET", "POST"])
@cert_admin_required
def admin_organization(slug: str):
    """Edit one organization; what deactivating it would stop is stated beside the button."""
    org = organizations.get_by_slug(db.session, slug)
    if request.method == "GET":
        return _organization_page(org)
    form = OrganizationEditForm()
    if form.validate():
        try:
            changes = organizations.update_organization(db.session, org, **_details(form), actor=current_actor())
            flash(_("%(org)s: %(fields)s changed.", org=org.name, fields=", ".join(changes))
                  if changes else _("%(org)s: nothing changed.", org=org.name), "success")
            return redirect(url_for("web.admin_organization", slug=org.slug))
        except CertShareError as exc:
            _field_error(form, exc)
            db.session.refresh(org)
    return _organization_page(org, form=form, status=400)


@bp.post("/admin/organizations/<slug>/duty")
@cert_admin_required
def admin_organization_duty(slug: str):
    """Name or remove the organization's duty address; a refused address is said beside the field."""
    org = organizations.get_by_slug(db.session, slug)
    form = DutyEmailForm()
    if form.validate():
        try:
            address = organizations.set_duty_email(db.session, org, form.duty_email.data, actor=current_actor())
            flash(_("%(org)s: duty address %(address)s.", org=org.name, address=address) if address
                  else _("%(org)s: no duty address.", org=org.name), "success")
            return redirect(url_for("web.admin_organization", slug=org.slug) + "#duty")
        except CertShareError as exc:
            _field_error(form, exc)
    return _organization_page(org, duty_form=form, status=400)


def _organization_page(org: Organization, *, form: OrganizationEditForm | None = None,
                       asset_form: AssetForm | None = None, duty_form: DutyEmailForm | None = None,
                       status: int = 200):
    if form is None:
        form = OrganizationEditForm(formdata=None, obj=org)
        form.regime.data, form.country.data = org.regime or "", org.country or ""
    return render_template("admin/organization.html", org=org, form=form, countries=country_choices(),
                           asset_form=asset_form or AssetForm(formdata=None),
                           duty_form=duty_form or DutyEmailForm(formdata=None, duty_email=org.duty_email),
                           effects=organizations.deactivation_effects(db.session, org),
                           confirm=ConfirmForm()), status


def _set_org_active(slug: str, active: bool):
    if not ConfirmForm().validate():
        raise InputError(_("the form expired; reload the page and try again"))
    org = organizations.get_by_slug(db.session, slug)
    try:
        effects = organizations.set_active(db.session, org, active, actor=current_actor())
    except CertShareError as exc:
        _flash_error(exc)
        return redirect(url_for("web.admin_organization", slug=slug))
    if active:
        flash(_("%(org)s is active again: its people can sign in and its unrevoked tokens work.", org=org.name),
              "success")
    else:
        flash(_("%(org)s is deactivated: %(users)s user(s) can no longer sign in and their sessions have ended; "
                "%(tokens)s token(s) stop working. Its reports are kept.",
                org=org.name, users=effects.users, tokens=effects.tokens), "success")
    return redirect(url_for("web.admin_organization", slug=slug))


@bp.post("/admin/organizations/<slug>/deactivate")
@cert_admin_required
def admin_organization_deactivate(slug: str):
    return _set_org_active(slug, False)


@bp.post("/admin/organizations/<slug>/reactivate")
@cert_admin_required
def admin_organization_reactivate(slug: str):
    return _set_org_active(slug, True)


@bp.post("/admin/organizations/<slug>/assets")
@cert_admin_required
def admin_add_asset(slug: str):
    """Register an asset from the organization's page; a value that is not one is refused there,
    beside the field."""
    org = organizations.get_by_slug(db.session, slug)
    form = AssetForm()
    if form.validate():
        try:
            asset = organizations.add_asset(db.session, org, form.value.data, actor=current_actor())
            flash(_("%(kind)s %(asset)s added to %(org)s.", kind=asset.kind, asset=asset.value, org=org.name),
                  "success")
            return redirect(url_for("web.admin_organization", slug=org.slug) + "#assets")
        except CertShareError as exc:
            db.session.rollback()
            form.value.errors = [*form.value.errors, exc.message]
    return _organization_page(org, asset_form=form, status=400)


@bp.post("/admin/organizations/<slug>/assets/<int:asset_id>/remove")
@cert_admin_required
def admin_remove_asset(slug: str, asset_id: int):
    if not ConfirmForm().validate():
        raise InputError(_("the form expired; reload the page and try again"))
    try:
        org = organizations.get_by_slug(db.session, slug)
        organizations.remove_asset(db.session, org, asset_id, actor=current_actor())
        flash(_("Asset removed."), "success")
    except CertShareError as exc:
        _flash_error(exc)
    return redirect(url_for("web.admin_organization", slug=slug) + "#assets")


# ---- users and roles -----------------------------------------------------------------------

def _org_choices():
    return [(o.slug, f"{o.name} ({_(ORG_KIND_LABELS[o.kind])})") for o in administration.organizations(db.session)]


def _kinds_label(kinds: list[str]) -> str:
    """The kinds of organization a group of roles is for, as a person reads them ("Member and Partner CERT")."""
    labels = [_(ORG_KIND_LABELS[kind]) for kind in kinds]
    if len(labels) == 1:
        return labels[0]
    return _("%(kinds)s and %(last)s", kinds=", ".join(labels[:-1]), last=labels[-1])


def _role_groups() -> list[tuple[str, tuple[str, ...], list]]:
    """The create form's roles, grouped by the kinds of organization whose people may have them
    (models.user.roles_for_kind): (group label, kinds, role choices), in the reader's language."""
    kinds_by_roles: dict[tuple[str, ...], list[str]] = {}
    for kind in ORG_KINDS:
        kinds_by_roles.setdefault(roles_for_kind(kind), []).append(kind)
    return [(_kinds_label(kinds), tuple(kinds), role_choices(tuple(kinds))[1:]) for kinds in kinds_by_roles.values()]


@bp.route("/admin/users", methods=["GET", "POST"])
@cert_admin_required
def admin_users():
    form = UserForm()
    orgs = [o for o in administration.organizations(db.session) if o.active]
    form.org.choices = [("", _("— choose —"))] + [(o.slug, o.name) for o in orgs]
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                org = organizations.get_by_slug(db.session, form.org.data)
                user = users.create_user(db.session, email=form.email.data, org=org, role=form.role.data,
                                         password=form.password.data, name=form.name.data or None,
                                         actor=current_actor(), must_change_password=True)
                flash(_("User %(email)s (%(role)s) created: they choose their own password at first sign-in.",
                        email=user.email, role=_(ROLE_LABELS[user.role])), "success")
                return redirect(url_for("web.admin_users"))
            except CertShareError as exc:
                _field_error(form, exc)
        status = 400
    form.password.data = ""
    people = administration.users(db.session)
    role_forms = {}
    for person in people:
        rf = RoleForm(formdata=None, prefix=f"u{person.id}")
        rf.role.choices = role_choices((person.organization.kind,))[1:]
        rf.role.data, rf.active.data = person.role, person.active
        role_forms[person.id] = rf
    return render_template("admin/users.html", form=form, people=people, role_forms=role_forms,
                           org_kinds={o.slug: o.kind for o in orgs}, role_groups=_role_groups(),
                           confirm=ConfirmForm()), status



@bp.post("/admin/users/<int:user_id>/role")
@cert_admin_required
def admin_user_role(user_id: int):
    form = RoleForm(prefix=f"u{user_id}")
    if not form.validate():
        raise InputError(_("the form expired; reload the page and try again"))
    try:
        user = administration.set_role(db.session, user_id, role=form.role.data, active=form.active.data,
                                       actor=current_actor())
        role = _(ROLE_LABELS[user.role])
        flash(_("%(email)s: role %(role)s, active.", email=user.email, role=role) if user.active
              else _("%(email)s: role %(role)s, deactivated.", email=user.email, role=role), "success")
    except CertShareError as exc:
        _flash_error(exc)
    return redirect(url_for("web.admin_users"))


# ---- one organization's accounts (member-admins), and what both kinds of administrator do ------

@bp.route("/organization/users", methods=["GET", "POST"])
@user_admin_required
def org_users():
    """The signed-in administrator's own organization's accounts."""
    org = current_user.organization
    form = MemberUserForm()
    form.role.choices = role_choices((org.kind,))
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                user = users.create_user(db.session, email=form.email.data, org=org, role=form.role.data,
                                         password=form.password.data, name=form.name.data or None,
                                         actor=current_actor(), must_change_password=True)
                flash(_("User %(email)s created: they choose their own password at first sign-in.",
                        email=user.email), "success")
                return redirect(url_for("web.org_users"))
            except CertShareError as exc:
                _field_error(form, exc)
        status = 400
    form.password.data = ""
    return render_template("admin/org_users.html", form=form, org=org,
                           people=administration.users_of(db.session, org.id), confirm=ConfirmForm()), status


def _users_page() -> str:
    return url_for("web.admin_users" if policy.is_cert_admin(current_actor()) else "web.org_users")


@bp.post("/users/<int:user_id>/password-reset")
@user_admin_required
def user_password_reset(user_id: int):
    """A temporary password, shown once in this answer (never stored in clear, nor in the cookie)."""
    if not ConfirmForm().validate():
        raise InputError(_("the form expired; reload the page and try again"))
    try:
        user, temporary = administration.reset_password(db.session, user_id, actor=current_actor())
    except InputError as exc:
        _flash_error(exc)
        return redirect(_users_page())
    return render_template("admin/password_reset.html", user=user, temporary=temporary, back=_users_page())


def _set_user_active(user_id: int, active: bool):
    if not ConfirmForm().validate():
        raise InputError(_("the form expired; reload the page and try again"))
    try:
        user = administration.set_user_active(db.session, user_id, active, actor=current_actor())
        flash(_("%(email)s is enabled.", email=user.email) if active
              else _("%(email)s is disabled: they cannot sign in, and their sessions ended.", email=user.email),
              "success")
    except InputError as exc:
        _flash_error(exc)
    return redirect(_users_page())


@bp.post("/users/<int:user_id>/disable")
@user_admin_required
def user_disable(user_id: int):
    return _set_user_active(user_id, False)


@bp.post("/users/<int:user_id>/enable")
@user_admin_required
def user_enable(user_id: int):
    return _set_user_active(user_id, True)


@bp.post("/admin/users/<int:user_id>/totp-reset")
@cert_admin_required
def admin_user_totp_reset(user_id: int):
    if not ConfirmForm().validate():
        raise InputError(_("the form expired; reload the page and try again"))
    user = totp.reset_user(db.session, user_id, actor=current_actor())
    flash(_("Two-factor sign-in reset for %(email)s: they enrol again at their next sign-in.", email=user.email),
          "success")
    return redirect(url_for("web.admin_users"))


# ---- tokens --------------------------------------------------------------------------------

def _token_org_for_request(form: TokenForm) -> Organization:
    """CERT admins issue for any organization; member-admins only for their own."""
    if policy.is_cert_admin(current_actor()):
        return organizations.get_by_slug(db.session, form.org.data)
    return current_user.organization


def _tokens_view(template_org_id: int | None):
    form = TokenForm()
    choices = _org_choices() if policy.is_cert_admin(current_actor()) else \
        [(current_user.organization.slug, current_user.organization.name)]
    form.org.choices = choices
    status = 200
    new_token = None
    if request.method == "POST":
        if form.validate():
            try:
                org = _token_org_for_request(form)
                row, secret = tokens.issue_token(db.session, org, form.name.data, actor=current_actor())
                # The secret is shown once, in the answer to this POST: it is never stored in
                # clear, not even in the (signed but readable) session cookie.
                new_token = {"id": row.id, "secret": secret, "slug": org.slug}
                form = TokenForm(formdata=None)
                form.org.choices = choices
            except CertShareError as exc:
                _flash_error(exc)
                status = 400
        else:
            status = 400
    rows = administration.tokens_for(db.session, template_org_id)
    return render_template("admin/tokens.html", form=form, tokens=rows, new_token=new_token,
                           confirm=ConfirmForm(), all_orgs=template_org_id is None,
                           base_url=current_app.config["BASE_URL"]), status


@bp.route("/admin/tokens", methods=["GET", "POST"])
@cert_admin_required
def admin_tokens():
    return _tokens_view(None)


@bp.route("/tokens", methods=["GET", "POST"])
@token_admin_required
def tokens_page():
    return _tokens_view(current_user.org_id)


@bp.post("/tokens/<int:token_id>/revoke")
@token_admin_required
def token_revoke(token_id: int):
    if not ConfirmForm().validate():
        raise InputError(_("the form expired; reload the page and try again"))
    tokens.revoke_token_by_id(db.session, token_id, actor=current_actor())
    flash(_("Token %(id)s revoked.", id=token_id), "success")
    return redirect(url_for("web.admin_tokens" if policy.is_cert_admin(current_actor()) else "web.tokens_page"))


# ---- audit log -----------------------------------------------------------------------------

@bp.get("/admin/audit")
@cert_admin_required
def admin_audit():
    filters = administration.AuditFilters.from_args(request.args)
    rows, more = administration.audit_page(db.session, filters, before=int_arg(request.args, "before"))
    return render_template("admin/audit.html", rows=rows, more=more, filters=filters,
                           actions=administration.audit_actions(db.session), args=filters.as_args())


@bp.post("/admin/audit.csv")
@cert_admin_required
def admin_audit_csv():
    """Exporting the log is itself an auditable act, so it is a POST (with CSRF): a GET writes nothing."""
    if not ConfirmForm().validate():
        raise InputError(_("the form expired; reload the page and try again"))
    filters = administration.AuditFilters.from_args(request.form)
    administration.record_audit_export(db.session, filters, actor=current_actor())
    body = stream_with_context(administration.audit_csv(db.session, filters))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="cert-share-audit.csv"'})
