"""``flask --app wsgi groupvisits ...`` commands: demo data, accounts, mail, backups."""

import click
from flask import Blueprint, current_app
from sqlalchemy import func, select

from groupvisits.accounts import services as accounts
from groupvisits.accounts.models import DISCIPLINES, ROLES, User
from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.mail import services as mail
from groupvisits.sites.models import Site

bp = Blueprint("groupvisits", __name__, cli_group="groupvisits")


@bp.cli.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing if the database has any account.")
@click.option(
    "--scale",
    type=click.Choice(["small", "large"]),
    default="small",
    show_default=True,
    help="large: 5 sites, 60 groups, 900 patients and 3 years of sessions.",
)
@click.option(
    "--password",
    default="demo-password-1",
    show_default=True,
    help="Password of every demo account.",
)
def seed_demo(if_empty: bool, scale: str, password: str) -> None:
    """Load a demo clinic and print the demo logins."""
    from groupvisits.demo import DEMO_DOMAIN, load_demo

    if db.session.scalar(select(func.count()).select_from(User)):
        if if_empty:
            click.echo("The database already has accounts; demo data not loaded.")
            _print_logins(password, DEMO_DOMAIN)
            return
        if db.session.scalar(select(Site).where(Site.name == "Riverside Community Clinic")):
            raise click.ClickException("The demo data is already loaded.")
    site = load_demo(password=password)
    if scale == "large":
        from groupvisits.demo_scale import load_large

        coordinator = db.session.scalar(
            select(User).where(User.email == f"coordinator@{DEMO_DOMAIN}")
        )
        counts = load_large(password_hash=coordinator.password_hash)
        click.echo(
            "Network-sized data: {sessions} more sessions, {memberships} more memberships, "
            "{attendances} more attendance rows, {staff_assignments} team assignments, "
            "{encounter_notes} encounter notes, {patient_goals} goals.".format(**counts)
        )
    db.session.commit()
    click.echo(f"Demo data loaded ({site.name} and its groups).")
    _print_logins(password, DEMO_DOMAIN)


def _print_logins(password: str, domain: str) -> None:
    click.echo(f"Demo logins (password for all: {password}):")
    for role, email in (
        ("coordinator", f"coordinator@{domain}"),
        ("attending", f"attending@{domain}"),
        ("resident", f"resident1@{domain}"),
        ("patient", f"patient01@{domain}"),
    ):
        click.echo(f"  {role:<12} {email}")


@bp.cli.command("create-user")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--given-name", required=True)
@click.option("--family-name", required=True)
@click.option(
    "--site",
    "site_names",
    multiple=True,
    required=True,
    help="Site name; repeat for several. A new site needs --timezone.",
)
@click.option("--timezone", default=None, help="IANA time zone for a site that does not exist.")
@click.option("--discipline", type=click.Choice(sorted(DISCIPLINES)), default=None)
@click.option("--training-year", type=click.IntRange(1, 8), default=None)
@click.option(
    "--password", default=None, help="Set a password now (otherwise an invitation is queued)."
)
def create_user(
    email, role, given_name, family_name, site_names, timezone, discipline, training_year, password
) -> None:
    """Create an account from the command line (the first coordinator, say)."""
    from groupvisits.sites.services import create_site

    sites = []
    try:
        for name in site_names:
            site = db.session.scalar(select(Site).where(Site.name == name))
            if site is None:
                if not timezone:
                    raise click.UsageError(
                        f"No site called {name!r}; give --timezone to create it."
                    )
                site = create_site(name, timezone, actor=None)
                click.echo(f"Created site {name} ({timezone}).")
            sites.append(site)
        minimum = current_app.config["PASSWORD_MIN_LENGTH"]
        if password is not None and len(password) < minimum:
            raise click.UsageError(f"The password needs at least {minimum} characters.")
        user = accounts.create_user(
            email=email,
            role=role,
            given_name=given_name,
            family_name=family_name,
            sites=sites,
            actor=None,
            discipline=discipline,
            training_year=training_year,
            password=password,
        )
        link = None if password else accounts.invite(user, actor=None)
    except GroupVisitsError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created {role} {user.email} (id {user.id}).")
    if link:
        click.echo(f"Invitation queued. Link (works once): {link}")


@bp.cli.command("extend-schedules")
@click.option(
    "--days",
    type=click.IntRange(1, 1000),
    default=None,
    help="How far ahead (default SCHEDULE_HORIZON_DAYS, about 6 months).",
)
def extend_schedules(days: int | None) -> None:
    """Create the sessions of every open group up to the horizon (safe to run daily)."""
    from groupvisits.schedule.services import extend_all

    created = extend_all(days=days)
    db.session.commit()
    click.echo(f"Created {created} sessions.")


@bp.cli.command("expire-offers")
def expire_offers() -> None:
    """Pass on waitlist offers whose hold time is over (run every few minutes)."""
    from groupvisits.roster.services import expire_offers as expire

    lapsed = expire()
    db.session.commit()
    sent, _failed = mail.deliver_pending()
    click.echo(f"{lapsed} offers lapsed; {sent} messages sent.")


@bp.cli.command("send-mail")
def send_mail() -> None:
    """Answer "forgot password" requests, then send the outbox (safe to run every minute)."""
    accounts.answer_reset_requests()
    db.session.commit()
    sent, failed = mail.deliver_pending()
    click.echo(f"Sent {sent}, failed {failed}.")


@bp.cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def backup(path: str) -> None:
    """Write a consistent copy of the whole database to PATH (safe while the app runs)."""
    from groupvisits.backup import BackupError, backup_database

    try:
        counts = backup_database(db.engine.url, path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Backed up {len(counts)} tables, {sum(counts.values())} rows, to {path}.")
    _print_counts(counts)


@bp.cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Restore even if the database holds data (it is lost).")
def restore(path: str, yes: bool) -> None:
    """Replace the database with the backup at PATH; refuses a database with data unless --yes."""
    from groupvisits.backup import BackupError, restore_database

    db.session.remove()
    db.engine.dispose()  # hold no connection into the database being replaced
    try:
        counts = restore_database(db.engine.url, path, replace=yes)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.engine.dispose()
    click.echo(f"Restored {len(counts)} tables, {sum(counts.values())} rows, from {path}.")
    _print_counts(counts)


def _print_counts(counts: dict[str, int]) -> None:
    width = max((len(table) for table in counts), default=0)
    for table, rows in counts.items():
        click.echo(f"  {table:<{width}} {rows:>8}")


# Commands that belong to an area, on the same group.
from groupvisits.agenda.cli import publish_agendas  # noqa: E402

bp.cli.add_command(publish_agendas)
