"""A group's one-on-one visit length and its plan's "no pull-outs" steps, set by coordinators."""

import html
from datetime import date, time, timedelta

from sqlalchemy import select

from groupvisits.groups.models import VisitGroup
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from tests.functional.test_groups_and_sessions_pages import group_form


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_a_new_group_books_ten_minute_visits_unless_told(db, coordinator_client, site):
    coordinator_client.post_form("/groups/new", group_form(site))
    coordinator_client.post_form("/groups/new", group_form(site, name="Eights", slot_minutes="8"))

    groups = db.session.scalars(select(VisitGroup).order_by(VisitGroup.id)).all()
    assert [g.slot_minutes for g in groups] == [10, 8]


def test_a_visit_length_outside_five_to_thirty_minutes_is_refused(db, coordinator_client, site):
    for minutes in ("4", "31", "ten"):
        response = coordinator_client.post_form(
            "/groups/new", group_form(site, slot_minutes=minutes)
        )
        assert response.status_code == 422
        assert "Length of a one-on-one visit" in _text(response)
    assert db.session.scalar(select(VisitGroup)) is None


def _plan(*rows) -> dict:
    data = {}
    for i, (kind, name, minutes, no_pull_outs) in enumerate(rows):
        data |= {
            f"segments-{i}-kind": kind,
            f"segments-{i}-name": name,
            f"segments-{i}-minutes": str(minutes),
        }
        if no_pull_outs:
            data[f"segments-{i}-no_pull_outs"] = "y"
    return data


def test_a_step_marked_no_pull_outs_is_kept_and_copied_to_new_sessions(
    db, coordinator_client, create_group, site
):
    group = create_group(site, rule=None)
    response = coordinator_client.post_form(
        f"/groups/{group.id}/plan",
        _plan(
            ("arrival", "Arrival", 15, False),
            ("group", "Talking together", 45, False),
            ("meal", "Meal", 20, True),
            ("one_on_one", "One-on-ones", 40, False),
        ),
    )
    assert response.status_code == 302
    db.session.expire_all()
    group = db.session.get(VisitGroup, group.id)
    assert [s.no_pull_outs for s in group.plan] == [False, False, True, False]
    page = _text(coordinator_client.get(f"/groups/{group.id}/plan"))
    assert page.count("checked") == 1

    group.recurrence_rule = "FREQ=WEEKLY;BYDAY=MO"
    group.schedule_start_date, group.schedule_start_time = date.today(), time(17, 0)
    schedule.generate_sessions(group, until=date.today() + timedelta(days=14))
    db.session.commit()
    group_session = db.session.scalar(select(GroupSession).where(GroupSession.group_id == group.id))
    assert [s.no_pull_outs for s in group_session.segments] == [False, False, True, False]


def test_one_session_can_be_marked_on_its_own(db, coordinator_client, create_group, site):
    group = create_group(site)
    group_session = db.session.scalar(select(GroupSession).where(GroupSession.group_id == group.id))
    rows = [(s.kind, s.name, s.minutes, s.kind == "group") for s in group_session.segments]

    response = coordinator_client.post_form(f"/sessions/{group_session.id}/plan", _plan(*rows))

    assert response.status_code == 302
    db.session.expire_all()
    session_steps = db.session.get(GroupSession, group_session.id).segments
    assert [s.no_pull_outs for s in session_steps] == [s.kind == "group" for s in session_steps]
    assert not any(s.no_pull_outs for s in db.session.get(VisitGroup, group.id).plan)
