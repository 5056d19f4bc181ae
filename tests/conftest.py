"""Fixtures: the app on SQLite and PostgreSQL, clients per role, factories, query counts.

Every test that uses ``app`` runs twice: on a SQLite file and on the
PostgreSQL database named by ``TEST_DATABASE_URL``. Without that variable the
PostgreSQL run is skipped, unless ``REQUIRE_ALL_SERVICES=1`` (as in CI), where
a missing service fails the run instead.
"""

import itertools
import os
import re
from contextlib import contextmanager
from datetime import date, time, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, text

from groupvisits import create_app
from groupvisits.accounts import services as accounts
from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.extensions import db as _db
from groupvisits.extensions import limiter
from groupvisits.sites.models import Site

DEFAULT_PASSWORD = "correct horse battery"
REQUIRE_ALL_SERVICES = os.environ.get("REQUIRE_ALL_SERVICES") == "1"


def service_missing(reason: str) -> None:
    """Skip locally; fail where every service is required (CI)."""
    if REQUIRE_ALL_SERVICES:
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


class FormClient(FlaskClient):
    """A test client that sends the CSRF token with forms, as a browser would.

    Each request runs in an app context of its own, as in production, so that
    ``g`` (the signed-in user, the CSRF token) never leaks from the test's own
    context or from another client's request, and so that each request's
    context ends (its teardown runs) before the next one, redirects included.
    """

    def run_wsgi_app(self, environ, buffered=False):
        with self.application.app_context():
            return super().run_wsgi_app(environ, buffered=buffered)

    def csrf_token(self) -> str:
        with self.session_transaction() as flask_session:
            signed_in = "_user_id" in flask_session
        page = self.get("/account/password" if signed_in else "/login")
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
        if not match:
            raise AssertionError("no CSRF token on the page")
        return match.group(1)

    def post_form(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """The database every test of this run talks to."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        service_missing("TEST_DATABASE_URL does not name a PostgreSQL database")
    return url


@pytest.fixture(scope="session")
def _schema(database_url):
    """Create the schema once per database and session."""
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        _drop_everything()
        _db.create_all()
    yield
    with app.app_context():
        _drop_everything()
        _db.engine.dispose()


def _drop_everything() -> None:
    _db.drop_all()
    with _db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _empty_tables() -> None:
    tables = list(reversed(_db.metadata.sorted_tables))
    with _db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                if table.name == "agenda_topics":
                    # A merged topic points at the one it was merged into, and SQLite checks
                    # that RESTRICT row by row: delete topics nobody points at, until none.
                    while connection.execute(
                        text(
                            "DELETE FROM agenda_topics WHERE id NOT IN (SELECT merged_into_id "
                            "FROM agenda_topics WHERE merged_into_id IS NOT NULL)"
                        )
                    ).rowcount:
                        pass
                connection.execute(table.delete())


@pytest.fixture
def app(database_url, _schema):
    """A fresh app over an empty database."""
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": database_url})
    app.test_client_class = FormClient
    with app.app_context():
        _empty_tables()
        limiter.reset()
        yield app
        _db.session.remove()
        _empty_tables()
        _db.engine.dispose()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app) -> FormClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# Factories


_counter = itertools.count(1)


@pytest.fixture
def create_site(app):
    """Make a site: ``create_site(name=..., timezone=...)``."""

    def make(name: str | None = None, timezone: str = "America/New_York", **fields) -> Site:
        site = Site(name=name or f"Clinic {next(_counter)}", timezone=timezone, **fields)
        _db.session.add(site)
        _db.session.commit()
        return site

    return make


@pytest.fixture
def site(create_site):
    return create_site(name="Eastside Clinic")


@pytest.fixture
def other_site(create_site):
    return create_site(name="Westside Clinic", timezone="America/Los_Angeles")


@pytest.fixture
def create_user(app, site):
    """Make a person with a password: ``create_user(role, sites=[...], **fields)``."""

    def make(role: str = PATIENT, *, sites=None, password: str | None = DEFAULT_PASSWORD, **fields):
        n = next(_counter)
        fields.setdefault("email", f"{role}{n}@clinic.example.org")
        fields.setdefault("given_name", f"{role.title()}{n}")
        fields.setdefault("family_name", f"Tester{n}")
        if role == CLINICIAN:
            fields.setdefault("discipline", "attending")
        if role == PATIENT:
            fields.setdefault("date_of_birth", date(1960, 5, 17))
            fields.setdefault("dietary_needs", "vegetarian")
        user = accounts.create_user(
            role=role, sites=sites or [site], actor=None, password=password, **fields
        )
        _db.session.commit()
        return user

    return make


@pytest.fixture
def create_group(app, site):
    """Make an active group: ``create_group(site, rule=..., start=..., at=..., **fields)``.

    With ``rule`` (an RRULE body such as "FREQ=MONTHLY;BYDAY=2TU") the group gets
    a schedule starting at ``start`` (default today) at local time ``at``
    (default 17:00), and sessions up to ``until`` (default 6 months ahead).
    """

    def make(
        group_site=None,
        *,
        rule: str | None = "FREQ=MONTHLY;BYDAY=2TU",
        start=None,
        at=time(17, 0),
        until=None,
        since=None,
        **fields,
    ):
        from groupvisits.groups import services as groups
        from groupvisits.schedule import services as schedule

        values = {
            "name": f"Evening group {next(_counter)}",
            "calendar_name": "Group visit",
            "focus": "type 2 diabetes",
            "modality": "in_person",
            "location": "Community room",
            "length_minutes": 120,
            "min_members": 8,
            "target_members": 12,
            "max_members": 15,
            "census_warning_days": 14,
        }
        values.update(fields)
        status = values.pop("status", "active")
        group = groups.create_group(group_site or site, values, actor=None)
        group.status = status
        if rule:
            group.recurrence_rule = rule
            group.schedule_start_date = start or date.today()
            group.schedule_start_time = at
            schedule.generate_sessions(
                group,
                until=until or date.today() + timedelta(days=183),
                since=since or group.schedule_start_date,
            )
        _db.session.commit()
        return group

    return make


@pytest.fixture
def willing_mentor(app):
    """Make a patient an active member of a group who has agreed to be a peer mentor."""
    from groupvisits.roster.models import ACTIVE, Membership
    from groupvisits.timeutil import utcnow

    def make(group, patient):
        membership = _db.session.query(Membership).filter_by(
            group_id=group.id, patient_id=patient.id, status=ACTIVE
        ).one_or_none() or Membership(
            group_id=group.id, patient_id=patient.id, status=ACTIVE, joined_at=utcnow()
        )
        membership.peer_mentor_since = utcnow()
        _db.session.add(membership)
        _db.session.flush()
        return membership

    return make


@pytest.fixture
def coordinator(create_user):
    return create_user(COORDINATOR, given_name="Cora", family_name="Ordinator")


@pytest.fixture
def clinician(create_user):
    return create_user(CLINICIAN, given_name="Clara", family_name="Nician")


@pytest.fixture
def patient(create_user):
    return create_user(PATIENT, given_name="Pat", family_name="Ient")


def sign_in(client: FormClient, user, password: str = DEFAULT_PASSWORD):
    """Sign ``client`` in as ``user`` through the real sign-in form."""
    response = client.post_form("/login", {"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def sign_in_as(app):
    """A new client signed in as the given user."""

    def make(user, password: str = DEFAULT_PASSWORD) -> FormClient:
        return sign_in(app.test_client(), user, password)

    return make


@pytest.fixture
def coordinator_client(sign_in_as, coordinator):
    return sign_in_as(coordinator)


@pytest.fixture
def clinician_client(sign_in_as, clinician):
    return sign_in_as(clinician)


@pytest.fixture
def patient_client(sign_in_as, patient):
    return sign_in_as(patient)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counter: ...``; then ``counter.count`` statements ran."""

    class Counter:
        count = 0
        statements: list[str]

    @contextmanager
    def counting():
        counter = Counter()
        counter.statements = []

        def before_cursor_execute(conn, cursor, statement, *args):
            counter.count += 1
            counter.statements.append(statement)

        event.listen(_db.engine, "before_cursor_execute", before_cursor_execute)
        try:
            yield counter
        finally:
            event.remove(_db.engine, "before_cursor_execute", before_cursor_execute)

    return counting
