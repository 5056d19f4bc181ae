"""Forty requests at once for the last places never overbook, on SQLite and PostgreSQL.

Each thread has its own test client, and each request its own app context and
so its own database connection, as under a threaded server.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from groupvisits.accounts.models import COORDINATOR, PATIENT
from groupvisits.roster import services as roster
from groupvisits.roster.models import ACTIVE, WAITLISTED, Attendance, Membership
from groupvisits.schedule import services as schedule
from groupvisits.timeutil import utcnow
from tests.conftest import sign_in

REQUESTS = 40


def run_at_once(app, user, posts):
    """Sign in one client per request, then fire every POST at the same moment."""
    clients = [sign_in(app.test_client(), user) for _ in posts]
    tokens = [client.csrf_token() for client in clients]
    barrier = threading.Barrier(len(posts))

    def fire(index):
        url, data = posts[index]
        barrier.wait()
        response = clients[index].post(url, data={**data, "csrf_token": tokens[index]})
        follow = clients[index].get(response.headers.get("Location", "/"))
        return response.status_code, follow.get_data(as_text=True)

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        return list(pool.map(fire, range(len(posts))))


def test_forty_enrolments_for_the_last_two_places_take_two_and_waitlist_the_rest(
    app, db, site, create_user, create_group
):
    group = create_group(site, max_members=15)
    coordinator = create_user(COORDINATOR)
    for _ in range(13):
        roster.enrol(group, create_user(PATIENT), actor=None)
    db.session.commit()
    hopefuls = [create_user(PATIENT) for _ in range(REQUESTS)]

    results = run_at_once(
        app,
        coordinator,
        [(f"/groups/{group.id}/enrol", {"patient_id": str(p.id)}) for p in hopefuls],
    )

    assert [status for status, _ in results] == [302] * REQUESTS
    pages = [page for _, page in results]
    assert sum("is now a member" in page for page in pages) == 2
    assert sum("The group is full" in page for page in pages) == REQUESTS - 2
    db.session.expire_all()
    statuses = dict(
        db.session.execute(
            select(Membership.status, func.count())
            .where(Membership.group_id == group.id)
            .group_by(Membership.status)
        ).all()
    )
    assert statuses == {ACTIVE: 15, WAITLISTED: REQUESTS - 2}
    positions = sorted(
        db.session.scalars(
            select(Membership.waitlist_position).where(
                Membership.group_id == group.id, Membership.status == WAITLISTED
            )
        )
    )
    assert positions == list(range(1, REQUESTS - 1))


def test_forty_drop_ins_for_the_last_three_seats_take_three_and_refuse_the_rest(
    app, db, site, create_user, create_group
):
    group = create_group(site, max_members=15)
    coordinator = create_user(COORDINATOR)
    group_session = schedule.next_sessions([group.id], utcnow())[group.id]
    for _ in range(12):
        member = create_user(PATIENT)
        roster.enrol(group, member, actor=None)
        db.session.add(Attendance(session_id=group_session.id, patient_id=member.id, rsvp="yes"))
    db.session.commit()
    walk_ins = [create_user(PATIENT) for _ in range(REQUESTS)]

    results = run_at_once(
        app,
        coordinator,
        [(f"/sessions/{group_session.id}/drop-ins", {"patient_id": str(p.id)}) for p in walk_ins],
    )

    assert [status for status, _ in results] == [302] * REQUESTS
    pages = [page for _, page in results]
    assert sum("is added as a drop-in" in page for page in pages) == 3
    assert sum("this session is full" in page for page in pages) == REQUESTS - 3
    db.session.expire_all()
    seats = db.session.scalar(
        select(func.count())
        .select_from(Attendance)
        .where(Attendance.session_id == group_session.id, Attendance.rsvp == "yes")
    )
    assert seats == 15
