"""The ``cert-share`` command group. Command names and options are a contract with operators."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import NoReturn

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext
from sqlalchemy.exc import OperationalError, ProgrammingError

from . import config, create_app
from .actor import CLI
from .early_warning.rehash import rehash_warnings
from .errors import CertShareError
from .extensions import db
from .i18n import language_name
from .limits import MAX_PGP_KEY
from .models.user import ROLES
from .services.account_recovery import reset_totp, unlock
from .services.administration import reset_password, set_user_active
from .services.demo import load_demo
from .services.importer import import_file
from .services.mail_keys import register_key, user_by_email
from .services.organizations import add_assets, all_by_slug, create_organization, get_by_slug, set_duty_email
from .services.organizations import set_active as set_org_active
from .services.partner_mail import register_partner_key
from .services.partners import credential_is_set, list_partners, set_partner
from .services.tokens import issue_token, revoke_token, tokens_of
from .services.users import create_user
from .stix.keyed_hash import keys


def _fail(exc: CertShareError) -> None:
    click.echo(f"Error: {exc.message}", err=True)
    sys.exit(1 if exc.status >= 500 else 2)


def _fail_settings(exc: config.SettingError) -> NoReturn:
    for line in str(exc).splitlines():
        click.echo(f"Error: {line}", err=True)
    sys.exit(2)


@click.group("org", help="Organizations of the constituency.")
def org_group():
    pass


@org_group.command("add")
@click.option("--name", required=True, help="Display name.")
@click.option("--sector", required=True, help="STIX industry sector, e.g. financial-services.")
@click.option("--country", default=None, help="ISO 3166-1 alpha-2 code.")
@click.option("--kind", type=click.Choice(["member", "cert", "partner"]), default="member", show_default=True)
@click.option("--asset", "assets", multiple=True, help="CIDR range, AS number (AS64500) or domain; repeatable.")
@click.option("--email", "contact_email", default=None, help="Contact address of the organization.")
@with_appcontext
def org_add(name, sector, country, kind, assets, contact_email):
    """Add an organization; prints its slug as the last line."""
    try:
        org = create_organization(db.session, name=name, sector=sector, country=country, kind=kind,
                                  assets=list(assets), contact_email=contact_email)
    except CertShareError as exc:
        _fail(exc)
    click.echo(f"Created {org.kind} organization {org.name!r} ({org.sector}) with {len(assets)} asset(s).")
    click.echo(org.slug)


@org_group.command("list")
@with_appcontext
def org_list():
    for org in all_by_slug(db.session):
        click.echo(f"{org.slug}\t{org.kind}\t{org.sector}\t{org.country or '-'}\t{org.name}")


@org_group.command("asset")
@click.option("--org", "slug", required=True)
@click.argument("values", nargs=-1, required=True)
@with_appcontext
def org_asset(slug, values):
    """Register assets (CIDR, AS number, domain) for an organization: all of them, or none if one
    is not an asset."""
    try:
        assets = add_assets(db.session, get_by_slug(db.session, slug), values)
    except CertShareError as exc:
        _fail(exc)
    for asset in assets:
        click.echo(f"{asset.kind}\t{asset.value}")


@org_group.command("set-duty")
@click.option("--org", "slug", required=True)
@click.argument("email", required=False, default="")
@with_appcontext
def org_set_duty(slug, email):
    """Name the organization's duty address (a shared mailbox, e.g. the 24/7 contact): it gets the
    immediate alert mail meant for the organization. Without EMAIL, the duty address is removed."""
    try:
        address = set_duty_email(db.session, get_by_slug(db.session, slug), email, actor=CLI)
    except CertShareError as exc:
        _fail(exc)
    click.echo(f"{slug}: duty address {address}" if address else f"{slug}: no duty address")


def _set_org_active(slug: str, active: bool) -> None:
    try:
        org = get_by_slug(db.session, slug)
        effects = set_org_active(db.session, org, active, actor=CLI)
    except CertShareError as exc:
        _fail(exc)
    if active:
        click.echo(f"{org.slug} is active: {effects.users} user(s) may sign in, {effects.tokens} token(s) work.")
    else:
        click.echo(f"{org.slug} is deactivated: {effects.users} user(s) can no longer sign in, "
                   f"{effects.tokens} token(s) stop working; its reports are kept.")


@org_group.command("deactivate")
@click.option("--org", "slug", required=True)
@with_appcontext
def org_deactivate(slug):
    """Deactivate an organization: its users cannot sign in (their sessions end), its tokens are
    refused; its reports are kept. Undone by `org reactivate`."""
    _set_org_active(slug, False)


@org_group.command("reactivate")
@click.option("--org", "slug", required=True)
@with_appcontext
def org_reactivate(slug):
    """Bring a deactivated organization back: its users and unrevoked tokens work again."""
    _set_org_active(slug, True)


@click.group("partner", help="Partner CERTs: where they are, how they are reached, their languages.")
def partner_group():
    pass


@partner_group.command("set")
@click.argument("slug")
@click.option("--country", default=None, help="ISO 3166-1 alpha-2 code.")
@click.option("--contact", default=None, help="The 24/7 contact address (requests go there without TAXII).")
@click.option("--taxii-url", default=None, help="The TAXII 2.1 collection URL of the partner's intake.")
@click.option("--username-env", default=None, help="NAME of the environment variable holding the TAXII username.")
@click.option("--password-env", default=None, help="NAME of the environment variable holding the TAXII password.")
@click.option("--language", "languages", multiple=True, help="ISO 639-1 code; repeatable; --language '' clears.")
@with_appcontext
def partner_set(slug, country, contact, taxii_url, username_env, password_env, languages):
    """Change what is given of a partner CERT's directory entry; an empty value clears a field."""
    try:
        changes = set_partner(db.session, slug, country=country, contact=contact, taxii_url=taxii_url,
                              username_env=username_env, password_env=password_env,
                              languages=list(languages) if languages else None, actor=CLI)
    except CertShareError as exc:
        _fail(exc)
    click.echo(f"{slug}: changed {', '.join(sorted(changes))}." if changes else f"{slug}: nothing changed.")


@partner_group.command("list")
@with_appcontext
def partner_list():
    """Partner CERTs, one a line: slug, country, contact, TAXII URL, whether the username and
    password variables are set in this environment, languages, active, the OpenPGP key's
    fingerprint and its expiry date (- when none)."""
    click.echo("slug\tcountry\tcontact\ttaxii_url\tusername_set\tpassword_set\tlanguages\tactive"
               "\tkey_fingerprint\tkey_expires")
    for org in list_partners(db.session):
        click.echo("\t".join([
            org.slug, org.country or "-", org.duty_email or org.contact_email or "-", org.taxii_url or "-",
            _yes_no(credential_is_set(org.taxii_username_env)), _yes_no(credential_is_set(org.taxii_password_env)),
            ",".join(org.languages or []) or "-", _yes_no(org.active),
            (org.pgp_fingerprint or "-") if org.pgp_key else "-",
            f"{org.pgp_expires_at:%Y-%m-%d}" if org.pgp_key and org.pgp_expires_at else "-"]))


@partner_group.command("key")
@click.argument("first", metavar="SLUG")
@click.argument("second", metavar="FILE", required=False)
@click.option("--partner", "option_slug", default=None, hidden=True,
              help="The partner CERT's slug (older form: partner key --partner SLUG FILE).")
@click.pass_context
@with_appcontext
def partner_key(ctx, first, second, option_slug):
    """Register the OpenPGP public key (armored or binary) of partner SLUG's 24/7 contact address
    (a user id of the key must name it) from FILE ("-" reads standard input): requests by mail go
    encrypted to it."""
    if option_slug is not None:  # the older form: --partner SLUG FILE
        if second is not None:
            raise click.UsageError("give the partner's slug once: partner key SLUG FILE")
        slug, path = option_slug, first
    elif second is None:
        raise click.UsageError("missing FILE: partner key SLUG FILE")
    else:
        slug, path = first, second
    key_file = click.File("rb").convert(path, None, ctx)
    data = key_file.read(MAX_PGP_KEY + 1)
    try:
        info = register_partner_key(db.session, get_by_slug(db.session, slug), data, actor=CLI)
    except CertShareError as exc:
        _fail(exc)
    until = f", valid until {info.expires_at:%Y-%m-%d}" if info.expires_at else ""
    click.echo(f"{slug}: OpenPGP key {info.fingerprint}{until}.")


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


@click.group("user", help="People who sign in to the web workspace.")
def user_group():
    pass


@user_group.command("add")
@click.option("--email", required=True)
@click.option("--org", "slug", required=True, help="Slug of the user's organization.")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", default=None)
@with_appcontext
def user_add(email, slug, role, name):
    """Add a user. The password comes from CERT_SHARE_PASSWORD, else a prompt."""
    password = os.environ.get("CERT_SHARE_PASSWORD")
    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        org = get_by_slug(db.session, slug)
        user = create_user(db.session, email=email, org=org, role=role, password=password, name=name)
    except CertShareError as exc:
        _fail(exc)
    click.echo(f"Created {user.role} {user.email} in {org.slug}.")


@user_group.command("key")
@click.option("--email", required=True, help="The user's e-mail address (a user id of the key must name it).")
@click.argument("key_file", metavar="FILE", type=click.File("rb"))
@with_appcontext
def user_key(email, key_file):
    """Register the user's OpenPGP public key (armored or binary) from FILE ("-" reads standard
    input): their TLP:AMBER mail goes encrypted to it."""
    data = key_file.read(MAX_PGP_KEY + 1)
    try:
        info = register_key(db.session, user_by_email(db.session, email), data, actor=CLI)
    except CertShareError as exc:
        _fail(exc)
    until = f", valid until {info.expires_at:%Y-%m-%d}" if info.expires_at else ""
    click.echo(f"{email}: OpenPGP key {info.fingerprint}{until}.")


def _user(email: str):
    try:
        return user_by_email(db.session, email)
    except CertShareError as exc:
        _fail(exc)


@user_group.command("reset-password")
@click.option("--email", required=True)
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the temporary password from the first line of standard input instead of making one.")
@with_appcontext
def user_reset_password(email, from_stdin):
    """Give the user a temporary password: a random one, printed as the last line, or one read
    from standard input. Their sessions end; at the next sign-in they must choose their own."""
    user = _user(email)
    chosen = sys.stdin.readline().rstrip("\r\n") if from_stdin else None
    try:
        user, temporary = reset_password(db.session, user.id, actor=CLI, temporary=chosen)
    except CertShareError as exc:
        _fail(exc)
    click.echo(f"{user.email}: password reset, every session ended; the next sign-in must choose a new password.")
    if not from_stdin:
        click.echo("Temporary password (shown once; hand it over by a separate channel):")
        click.echo(temporary)


@user_group.command("unlock")
@click.option("--email", required=True)
@with_appcontext
def user_unlock(email):
    """Let the user sign in again at once: forget their failed sign-ins (from every address) and
    the wait after wrong two-factor codes."""
    user = _user(email)
    result = unlock(db.session, user, actor=CLI)
    codes = "; two-factor codes are accepted again" if result.codes_were_blocked else ""
    click.echo(f"{user.email}: failed sign-ins from {result.addresses} address(es) forgotten{codes}.")


@user_group.command("reset-totp")
@click.option("--email", required=True)
@with_appcontext
def user_reset_totp(email):
    """Forget the user's authenticator (a lost or replaced phone): their sessions end, and the
    next sign-in sets up a new one (required for CERT staff, offered to members)."""
    user = _user(email)
    reset_totp(db.session, user, actor=CLI)
    click.echo(f"{user.email}: two-factor sign-in reset, every session ended; the next sign-in sets it up again.")


def _set_user_active(email: str, active: bool) -> None:
    user = _user(email)
    try:
        user = set_user_active(db.session, user.id, active, actor=CLI)
    except CertShareError as exc:
        _fail(exc)
    if active:
        org = "" if user.organization.active else f" (but organization {user.organization.slug} is deactivated)"
        click.echo(f"{user.email} is enabled: they may sign in again{org}.")
    else:
        click.echo(f"{user.email} is disabled: they cannot sign in, and every session of theirs has ended.")


@user_group.command("disable")
@click.option("--email", required=True)
@with_appcontext
def user_disable(email):
    """Disable the account: it cannot sign in and its sessions end. Undone by `user enable`."""
    _set_user_active(email, False)


@user_group.command("enable")
@click.option("--email", required=True)
@with_appcontext
def user_enable(email):
    """Enable a disabled account again."""
    _set_user_active(email, True)


@click.group("token", help="API and TAXII tokens of organizations.")
def token_group():
    pass


@token_group.command("add")
@click.option("--org", "slug", required=True)
@click.option("--name", default="default", show_default=True)
@with_appcontext
def token_add(slug, name):
    """Issue a token; prints it as the last line. It is shown only this once."""
    try:
        org = get_by_slug(db.session, slug)
        row, secret = issue_token(db.session, org, name)
    except CertShareError as exc:
        _fail(exc)
    click.echo(f"Token {row.name!r} (id {row.id}) for {org.slug}; store it now, it is not shown again:")
    click.echo(secret)


@token_group.command("list")
@click.option("--org", "slug", required=True)
@with_appcontext
def token_list(slug):
    try:
        rows = tokens_of(db.session, get_by_slug(db.session, slug))
    except CertShareError as exc:
        _fail(exc)
    for row in rows:
        state = "revoked" if row.revoked_at else "active"
        click.echo(f"{row.id}\t{row.name}\t{row.prefix}…\t{state}\tlast used {row.last_used_at or 'never'}")


@token_group.command("revoke")
@click.option("--org", "slug", required=True)
@click.argument("token_id", type=int)
@with_appcontext
def token_revoke(slug, token_id):
    try:
        revoke_token(db.session, get_by_slug(db.session, slug), token_id, actor=CLI)
    except CertShareError as exc:
        _fail(exc)
    click.echo(f"Token {token_id} revoked.")


def _refuse_without_base_url() -> None:
    """A command that may queue mail (the demo's critical reports, an imported one) refuses to
    start without the BASE_URL its links need, before it has changed anything."""
    try:
        config.base_url()
    except config.SettingError as exc:
        _fail_settings(exc)


@click.command("demo")
@with_appcontext
def demo_command():
    """Load demo organizations, users and reports (idempotent); print the logins."""
    _refuse_without_base_url()
    logins = load_demo(db.session)
    click.echo("Demo logins (password for all: %s):" % logins["password"])
    for email, role, org, locale in logins["users"]:
        language = f"  (reads {language_name(locale)})" if locale else ""
        click.echo(f"  {email:32} {role:14} {org}{language}")


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--org", "slug", required=True, help="Organization the report(s) belong to.")
@with_appcontext
def import_command(path, slug):
    """Import a STIX 2.1 bundle or a MISP event (JSON) as the organization's report(s)."""
    _refuse_without_base_url()
    try:
        org = get_by_slug(db.session, slug)
        result = import_file(db.session, path, org=org)
    except CertShareError as exc:
        _fail(exc)
    click.echo(result.summary())


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, envvar="PORT", show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@with_appcontext
def serve_command(host, port, workers):
    """Serve with gunicorn, and run the scheduler beside it unless SCHEDULER_ENABLED=0."""
    try:
        config.check(current_app.config, serving=True)
    except config.SettingError as exc:
        _fail_settings(exc)
    # The workers and the scheduler read their settings from this environment: BASE_URL's
    # default (the links in mail) must name the port served, however it was given.
    env = {**os.environ, "PORT": str(port)}
    procs = [subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:cert_share.gunicorn_conf",
                               "--workers", str(workers), "--bind",
                               f"{host}:{port}", "--access-logfile", "-", "cert_share:worker_app()"], env=env)]
    if current_app.config["SCHEDULER_ENABLED"] and "scheduler" in current_app.cli.commands:
        procs.append(subprocess.Popen([sys.executable, "-m", "cert_share.cli", "scheduler", "run"], env=env))
    elif not current_app.config["SCHEDULER_ENABLED"]:
        click.echo("scheduler disabled (SCHEDULER_ENABLED=0)")

    def _stop(*_args):
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()

    signal.signal(signal.SIGTERM, _stop)
    try:
        while all(proc.poll() is None for proc in procs):
            try:
                procs[0].wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
    except KeyboardInterrupt:
        pass
    finally:
        _stop()
        for proc in procs:
            proc.wait(timeout=30)


@click.group("warnings", help="Early warnings.")
def warnings_group():
    pass


@warnings_group.command("rehash")
@with_appcontext
def warnings_rehash():
    """After putting a new key first in OBSERVABLE_HASH_KEYS: give every published warning about a
    phone number, bank account or card that carries an older key's hash a new version under the
    new key (sent by the next publish-warnings run). Safe to run again."""
    count = rehash_warnings(db.session, CLI)
    click.echo(f"{count} published warning(s) get a new version hashed with key {keys()[0][0]}; "
               "the next publish-warnings run sends them.")


COMMANDS = [serve_command, org_group, partner_group, user_group, token_group, warnings_group, demo_command,
            import_command]


def _create_app() -> Flask:
    try:
        return create_app(serving=False)
    except config.SettingError as exc:
        _fail_settings(exc)


def main() -> None:
    # Flask's `run` is left out: it would serve without `serve`'s SECRET_KEY check.
    cli = FlaskGroup(create_app=_create_app, add_default_commands=False,
                     help="cert-share: incident sharing and early warning.")
    cli.add_command(shell_command)
    cli.add_command(routes_command)
    try:
        cli.main(prog_name="cert-share")
    except config.SettingError as exc:  # met after start-up: a mail link without BASE_URL (config.base_url)
        _fail_settings(exc)
    except (OperationalError, ProgrammingError) as exc:
        # An unreachable server, a wrong URL or a database without the schema: an operator's setting.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        click.echo(f"Error: the database cannot be used ({reason}): check DATABASE_URL; a new database "
                   "needs `cert-share db upgrade` first", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
