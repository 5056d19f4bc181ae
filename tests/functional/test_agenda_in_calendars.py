"""A session's published agenda in calendar descriptions: titles only, and only for those
who may read the group's topics."""

from datetime import date, timedelta

from sqlalchemy import select

from groupvisits.agenda.models import AgendaItem, AgendaTopic
from groupvisits.roster.models import Membership
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow
from tests.functional.test_calendar_feeds import fetch, subscribe

TITLE = "Eating out; family parties, take-away"
DETAILS = "Private words Rosa wrote"


def _published_agenda(db, group, patient, *, publish=True) -> GroupSession:
    group_session = db.session.scalar(
        select(GroupSession)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at > utcnow())
        .order_by(GroupSession.starts_at)
        .limit(1)
    )
    topic = AgendaTopic(
        group_id=group.id, title=TITLE, details=DETAILS, proposer_id=patient.id, status="accepted"
    )
    hostile = AgendaTopic(
        group_id=group.id,
        title="<b>Sleep</b>\nEND:VEVENT",
        proposer_id=patient.id,
        status="accepted",
    )
    db.session.add_all([topic, hostile])
    db.session.flush()
    db.session.add_all(
        [
            AgendaItem(session_id=group_session.id, topic_id=topic.id, minutes=20, position=0),
            AgendaItem(session_id=group_session.id, topic_id=hostile.id, minutes=10, position=1),
        ]
    )
    if publish:
        group_session.agenda_published_at = utcnow()
    db.session.commit()
    return group_session


def _member(db, group, patient, status="active"):
    db.session.add(Membership(group=group, patient=patient, status=status, share_name=True))
    db.session.commit()


def test_a_members_feed_lists_the_published_agenda_titles_and_nothing_else(
    app, db, create_group, site, patient, patient_client, coordinator
):
    from groupvisits.roster import services as roster

    group = create_group(site, rule="FREQ=WEEKLY;BYDAY=MO", start=date.today() + timedelta(days=1))
    _member(db, group, patient)
    agreement = roster.publish_agreement(group, "Stays in the group.", actor=coordinator)
    roster.accept_agreement(agreement, patient, actor=patient)
    db.session.commit()
    _published_agenda(db, group, patient)

    body = fetch(app, subscribe(patient_client)).get_data(as_text=True)

    unfolded = body.replace("\r\n ", "")
    assert (
        "Agenda:\\n- Eating out\\; family parties\\, take-away\\n- <b>Sleep</b>\\nEND:VEVENT"
        in (unfolded)
    )
    # The title's line break and "END:VEVENT" stay text inside the description.
    lines = unfolded.split("\r\n")
    assert lines.count("END:VEVENT") == lines.count("BEGIN:VEVENT")
    assert DETAILS not in unfolded and patient.family_name not in unfolded


def test_no_titles_before_publishing_nor_for_the_waitlisted(
    app, db, create_group, site, patient, patient_client
):
    group = create_group(site, rule="FREQ=WEEKLY;BYDAY=MO", start=date.today() + timedelta(days=1))
    _member(db, group, patient, status="waitlisted")
    _published_agenda(db, group, patient)

    body = fetch(app, subscribe(patient_client)).get_data(as_text=True).replace("\r\n ", "")

    assert "Agenda:" not in body and "Eating out" not in body


def test_an_unpublished_agenda_stays_out_of_the_group_feed(
    app, db, create_group, site, patient, coordinator_client
):
    group = create_group(site, rule="FREQ=WEEKLY;BYDAY=MO", start=date.today() + timedelta(days=1))
    _member(db, group, patient)
    group_session = _published_agenda(db, group, patient, publish=False)
    token = subscribe(coordinator_client).rsplit("/", 1)[-1].removesuffix(".ics")

    body = fetch(app, f"/feeds/{token}/groups/{group.id}.ics").get_data(as_text=True)
    assert "Eating out" not in body.replace("\r\n ", "")

    group_session.agenda_published_at = utcnow()
    db.session.commit()
    body = fetch(app, f"/feeds/{token}/groups/{group.id}.ics").get_data(as_text=True)
    assert "Eating out" in body.replace("\r\n ", "")
