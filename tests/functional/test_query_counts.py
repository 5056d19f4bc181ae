"""No page's cost grows with the data: the same queries on the demo and on network size.

Every page a signed-in person can open (the benchmark's main pages and all the
others) runs as many queries on network-sized data as on the small demo, and
on SQLite none of those queries reads a whole table of people, sessions,
memberships, attendance or audit rows.
"""

import re
import sqlite3

import pytest
from sqlalchemy import event

from benchmarks.pages import busiest_group, main_pages, other_pages
from groupvisits.accounts.models import User
from groupvisits.demo_scale import load_large
from tests.conftest import FormClient

#: Every table but the sites grows with the clinic: pages reach its rows through an index.
SMALL_TABLES = {"sites", "alembic_version"}
WHOLE_TABLE = re.compile(r"^SCAN (\w+)(?! USING INTEGER PRIMARY KEY)")


def signed_in(app, email: str) -> FormClient:
    client = app.test_client()
    if email:
        response = client.post_form("/login", {"email": email, "password": "demo-password-1"})
        assert response.status_code == 302
    return client


def page_statements(app, db, group) -> dict[str, list[tuple[str, object]]]:
    """The SQL statements (with their parameters) each page runs, by page name."""
    statements_of = {}
    clients: dict[str, FormClient] = {}
    for page in main_pages(group) + other_pages(group):
        client = clients.get(page.user) or clients.setdefault(page.user, signed_in(app, page.user))
        if page.search:
            client.post_form(*page.search)
        client.get(page.url)  # first visit: one-off work such as creating a feed address
        if page.search:
            client.post_form(*page.search)
        statements = []

        def capture(conn, cursor, statement, parameters, context, many, statements=statements):
            statements.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            response = client.get(page.url)
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        assert response.status_code == 200, page
        statements_of[page.name] = statements
    return statements_of


def whole_table_reads(connection, statements) -> set[str]:
    """The growing tables a SQLite query plan reads from end to end."""
    tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    read = set()
    for statement, parameters in statements:
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        plan = connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
        for *_, detail in plan:
            match = WHOLE_TABLE.match(detail)
            # Plans name a table by its alias ("users_1"); subqueries ("anon_1") are not tables.
            table = match and re.sub(r"_\d+$", "", match.group(1))
            if table in tables - SMALL_TABLES:
                read.add(f"{detail} in {statement[:300]!r}")
    return read


@pytest.mark.slow
def test_no_page_grows_with_the_data(app, db, runner, database_url):
    result = runner.invoke(args=["groupvisits", "seed-demo"])
    assert result.exit_code == 0, result.output
    group = busiest_group()
    small = {name: len(s) for name, s in page_statements(app, db, group).items()}

    coordinator = db.session.scalar(
        db.select(User).where(User.email == "coordinator@riverside.example.org")
    )
    load_large(password_hash=coordinator.password_hash)
    db.session.commit()
    large_statements = page_statements(app, db, group)
    large = {name: len(s) for name, s in large_statements.items()}

    assert large == small
    assert small["roster search"] > small["roster"], "the search found nobody"
    assert small["attendance search"] > small["attendance"], "the search found nobody"
    assert max(small.values()) <= 25
    if db.engine.dialect.name == "sqlite":  # PostgreSQL plans depend on table statistics
        connection = db.engine.raw_connection()
        try:
            scans = {
                name: reads
                for name, statements in large_statements.items()
                if (reads := whole_table_reads(connection.driver_connection, statements))
            }
        finally:
            connection.close()
        assert scans == {}, "\n".join(f"{n}: {r}" for n, reads in scans.items() for r in reads)


def test_the_plan_check_sees_a_whole_table_read():
    """The check above notices a query that reads every row of a growing table."""
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, given_name TEXT)")
    connection.execute("CREATE TABLE sites (id INTEGER PRIMARY KEY, name TEXT)")
    by_name = "SELECT id FROM users WHERE lower(given_name) = ?"
    assert whole_table_reads(connection, [(by_name, ("ana",))])
    assert not whole_table_reads(connection, [("SELECT id FROM users WHERE id = ?", (1,))])
    assert not whole_table_reads(connection, [("SELECT id FROM sites", ())])
    assert not whole_table_reads(connection, [("DELETE FROM users", ())])


def queries_for(count_queries, client, url: str) -> int:
    client.get(url)  # first visit: one-off work
    with count_queries() as counter:
        assert client.get(url).status_code == 200
    return counter.count


def test_a_patients_home_costs_the_same_with_more_groups_waitlist_places_and_offers(
    db, create_group, create_user, coordinator, sign_in_as, count_queries
):
    from datetime import date, timedelta

    from groupvisits.accounts.models import PATIENT
    from groupvisits.roster import services as roster

    patient = create_user(PATIENT)
    start = date.today() + timedelta(days=3)
    roster.enrol(create_group(start=start), patient, actor=coordinator)
    db.session.commit()
    client = sign_in_as(patient)
    few = queries_for(count_queries, client, "/")

    for _ in range(3):
        full = create_group(start=start, min_members=1, target_members=1, max_members=1)
        leaving = roster.enrol(full, create_user(PATIENT), actor=coordinator)
        roster.enrol(full, patient, actor=coordinator)
        roster.enrol(full, create_user(PATIENT), actor=coordinator)
        roster.end_membership(leaving, "Moved away", actor=coordinator)  # an offer for them
        waiting = create_group(start=start, min_members=1, target_members=1, max_members=1)
        roster.enrol(waiting, create_user(PATIENT), actor=coordinator)
        roster.enrol(waiting, patient, actor=coordinator)
        roster.enrol(create_group(start=start), patient, actor=coordinator)
    db.session.commit()
    many = queries_for(count_queries, client, "/")

    page = client.get("/").get_data(as_text=True)
    assert page.count("A place is open for you in") == 3
    assert page.count("you are waiting for a place") == 3
    assert many == few


def test_the_coordinator_dashboard_costs_the_same_with_more_sessions_and_answers(
    db, create_group, create_user, coordinator, coordinator_client, count_queries
):
    from datetime import date, timedelta

    from groupvisits.accounts.models import PATIENT
    from groupvisits.roster import attendance as rules
    from groupvisits.roster import services as roster
    from groupvisits.schedule import services as schedule

    start = date.today() + timedelta(days=3)
    create_group(start=start)
    few = queries_for(count_queries, coordinator_client, "/")

    for _ in range(4):
        group = create_group(start=start, rule="FREQ=WEEKLY;BYDAY=MO,WE")
        member = create_user(PATIENT)
        roster.enrol(group, member, actor=coordinator)
        next_session = schedule.next_sessions([group.id], schedule.utcnow())[group.id]
        rules.answer_rsvp(next_session, member, "yes", actor=member)
    db.session.commit()
    many = queries_for(count_queries, coordinator_client, "/")

    assert "Expected 1 of minimum 8" in coordinator_client.get("/").get_data(as_text=True)
    assert many == few


def test_the_coordinators_week_costs_the_same_with_more_sessions_requests_and_offers(
    db, create_group, create_user, coordinator, coordinator_client, count_queries
):
    from datetime import date, timedelta

    from groupvisits.accounts.models import PATIENT
    from groupvisits.roster import services as roster

    def add(n: int) -> None:
        """n sessions in the next two weeks, n join requests and n offers out."""
        start = date.today() + timedelta(days=1)
        sessions = create_group(
            rule="FREQ=DAILY",
            start=start,
            until=start + timedelta(days=n - 1),
            min_members=1,
            target_members=1,
            max_members=2,
        )
        roster.enrol(sessions, create_user(PATIENT), actor=coordinator)
        for hours in range(n):
            roster.request_to_join(create_group(rule=None), create_user(PATIENT))
            full = create_group(
                rule=None,
                min_members=1,
                target_members=1,
                max_members=1,
                offer_hold_hours=12 + 24 * hours,
            )
            leaving = roster.enrol(full, create_user(PATIENT), actor=coordinator)
            roster.enrol(full, create_user(PATIENT), actor=coordinator)
            roster.end_membership(leaving, "Moved away", actor=coordinator)
        db.session.commit()

    add(3)
    few = queries_for(count_queries, coordinator_client, "/")
    add(10)
    many = queries_for(count_queries, coordinator_client, "/")

    page = coordinator_client.get("/").get_data(as_text=True)
    assert page.count("1 person asks to join") == 13
    coming_up = page[page.index('id="coming-up"') : page.index('id="offers-out"')]
    assert coming_up.count("1 member still to answer") == 13
    assert page.count("held until") == 13
    assert many == few


def _queries_of(count_queries, client, url: str) -> int:
    client.get(url)
    with count_queries() as counter:
        assert client.get(url).status_code == 200
    return counter.count


def test_the_session_page_costs_the_same_with_more_people_to_call(
    db, create_group, create_user, coordinator, coordinator_client, count_queries
):
    from datetime import date, timedelta

    from groupvisits.accounts.models import PATIENT
    from groupvisits.roster import services as roster
    from groupvisits.schedule import services as schedule

    group = create_group(
        start=date.today() + timedelta(days=3), min_members=1, target_members=1, max_members=7
    )
    roster.publish_agreement(group, "What is said here stays here.", actor=coordinator)
    url = f"/sessions/{schedule.next_sessions([group.id], schedule.utcnow())[group.id].id}"
    roster.enrol(group, create_user(PATIENT, email=None, phone="555-0142"), actor=coordinator)
    db.session.commit()
    few = _queries_of(count_queries, coordinator_client, url)

    for _ in range(5):
        by_phone = create_user(PATIENT, email=None, phone="555-0142", password=None)
        roster.enrol(group, by_phone, actor=coordinator)
    leaving = roster.enrol(group, create_user(PATIENT), actor=coordinator)
    db.session.commit()
    roster.enrol(group, create_user(PATIENT, email=None, phone="555-0143"), actor=coordinator)
    roster.end_membership(leaving, "Moved away", actor=coordinator)  # an offer to call about
    db.session.commit()
    many = _queries_of(count_queries, coordinator_client, url)

    assert "To call (7)" in coordinator_client.get(url).get_data(as_text=True)
    assert many == few


def test_a_patients_page_costs_the_same_with_more_groups(
    db, create_group, create_user, coordinator, coordinator_client, count_queries
):
    from groupvisits.accounts.models import PATIENT
    from groupvisits.roster import services as roster

    patient = create_user(PATIENT)
    roster.enrol(create_group(rule=None), patient, actor=coordinator)
    db.session.commit()
    few = _queries_of(count_queries, coordinator_client, f"/people/{patient.id}")

    for _ in range(4):
        roster.enrol(create_group(rule=None), patient, actor=coordinator)
    db.session.commit()
    many = _queries_of(count_queries, coordinator_client, f"/people/{patient.id}")

    assert many == few


def test_a_clinicians_schedule_and_home_cost_the_same_with_more_sessions_and_time_off(
    db, create_group, clinician, coordinator, clinician_client, count_queries
):
    from datetime import timedelta

    from groupvisits.schedule.models import GroupSession
    from groupvisits.team import services as team
    from groupvisits.team.models import DOCUMENTER, PROVIDER
    from groupvisits.timeutil import utcnow

    group = create_group(rule="FREQ=WEEKLY;BYDAY=TU")
    sessions = db.session.scalars(
        db.select(GroupSession)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at > utcnow())
        .order_by(GroupSession.starts_at)
    ).all()

    def add(group_session) -> None:
        team.assign_staff(group_session, clinician, PROVIDER, actor=coordinator)
        team.assign_staff(group_session, clinician, DOCUMENTER, actor=coordinator)
        start = group_session.starts_at - timedelta(hours=1)
        team.add_time_off(clinician, start, start + timedelta(hours=4), "Away", actor=clinician)
        db.session.commit()

    add(sessions[0])
    few = [_queries_of(count_queries, clinician_client, url) for url in ("/my/schedule", "/")]
    for group_session in sessions[1:6]:
        add(group_session)
    many = [_queries_of(count_queries, clinician_client, url) for url in ("/my/schedule", "/")]

    assert many == few


def test_the_people_list_costs_the_same_on_every_page_and_counts_everyone(
    db, create_user, coordinator_client, count_queries
):
    from groupvisits.accounts.models import PATIENT
    from groupvisits.people.views import PAGE_SIZE

    for _ in range(PAGE_SIZE + 3):
        create_user(PATIENT)
    first = _queries_of(count_queries, coordinator_client, "/people/?role=patient")
    second = _queries_of(count_queries, coordinator_client, "/people/?role=patient&page=2")

    # The page and the total come in one query: the total is everyone's, on every page.
    total = PAGE_SIZE + 3
    page_one = coordinator_client.get("/people/?role=patient").get_data(as_text=True)
    page_two = coordinator_client.get("/people/?role=patient&page=2").get_data(as_text=True)
    assert f"{total} people, page 1 of 2." in page_one
    assert f"{total} people, page 2 of 2." in page_two
    assert page_two.count('data-label="Name"') == 3
    # Past the last page nobody is listed, and the total still is.
    past_the_end = coordinator_client.get("/people/?role=patient&page=3").get_data(as_text=True)
    assert f"{total} people, page 3 of 2." in past_the_end
    assert second == first
