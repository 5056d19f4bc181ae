"""Filling staffing gaps from the coverage page, peer mentors who said yes, and teams that
follow their session when it is cancelled, restored or moved."""

import html
import itertools
import re
from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.audit import AuditEvent
from groupvisits.mail.models import OutboxMessage
from groupvisits.roster import services as roster
from groupvisits.roster.models import WAITLISTED, WITHDRAWN, Membership, MembershipEvent
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.team import services as team
from groupvisits.team.coverage import NOTICE_SUBJECT
from groupvisits.team.models import (
    FACILITATOR,
    PEER_MENTOR,
    PRECEPTOR,
    PROVIDER,
    SUPPORT,
    CoreTeamMember,
    StaffAssignment,
)
from groupvisits.timeutil import utcnow

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MENTOR_KINDS = ("willing to mentor", "no longer mentors")


def _day(days_ahead: int) -> date:
    return date.today() + timedelta(days=days_ahead)


def _text(response) -> str:
    """The page as a reader sees it (apostrophes and ampersands unescaped)."""
    return html.unescape(response.get_data(as_text=True))


def _coverage_url(site) -> str:
    return f"/sites/{site.id}/coverage"


def _assign_url(site) -> str:
    return f"/sites/{site.id}/coverage/assign"


def _row(page: str, group_session) -> str:
    """The coverage page's line for one session."""
    start = page.index(f'<tr id="session-{group_session.id}"')
    return page[start : page.index("</tr>", start)]


def _offered(page: str, group_session, role: str) -> list[int] | None:
    """Ids of the people the gap form of a session's role offers; None if it has no form."""
    match = re.search(
        rf'<select id="fill-{group_session.id}-{role}"[^>]*>(.*?)</select>', page, re.S
    )
    if match is None:
        return None
    return [int(value) for value in re.findall(r'<option value="(\d+)"', match.group(1))]


def _assignments(db, **where) -> list[StaffAssignment]:
    db.session.expire_all()
    return list(
        db.session.scalars(select(StaffAssignment).filter_by(**where).order_by(StaffAssignment.id))
    )


def _count(db, model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _outbox(db) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _coming(group, days: int = 56) -> list[GroupSession]:
    return [
        s
        for s in schedule.upcoming_sessions({group.id}, now=utcnow(), days=days)
        if not s.is_cancelled
    ]


@pytest.fixture
def staff(create_user):
    """A clinician of the site (or of ``sites``): ``staff("Nora", "Nurse", "registered_nurse")``."""

    def make(given: str = "", family: str = "", discipline: str = "attending", **fields):
        if given:
            fields["given_name"] = given
        if family:
            fields["family_name"] = family
        if discipline == "resident":
            fields.setdefault("training_year", 2)
        return create_user(CLINICIAN, discipline=discipline, **fields)

    return make


@pytest.fixture
def one_session(create_group, site, db):
    """A group whose only session is on ``day`` at ``at`` local time (17:00 by default)."""
    rooms = itertools.count(101)

    def make(name: str, day: date, *, group_site=None, at=time(17, 0), **fields) -> GroupSession:
        fields.setdefault("location", f"Room {next(rooms)}")  # never two groups in one room
        group = create_group(
            group_site or site,
            name=name,
            rule=f"FREQ=WEEKLY;BYDAY={WEEKDAYS[day.weekday()]}",
            start=day,
            until=day,
            at=at,
            **fields,
        )
        sessions = db.session.scalars(
            select(GroupSession).where(GroupSession.group_id == group.id)
        ).all()
        assert len(sessions) == 1, sessions
        return sessions[0]

    return make


# The gap forms list exactly who is free and allowed


def test_the_gap_forms_offer_exactly_the_free_staff_the_roles_allow(
    db, site, other_site, one_session, staff, create_user, coordinator, coordinator_client
):
    day = _day(4)
    here = one_session("Thursday heart group", day)  # 5:00-7:00 PM in New York
    # In Los Angeles: 2:00 PM there is 5:00 PM here (overlaps), 4:00 PM is 7:00 PM (right after).
    overlapping = one_session("Westside walkers", day, group_site=other_site, at=time(14, 0))
    right_after = one_session("Westside cooks", day, group_site=other_site, at=time(16, 0))
    group = here.group
    team.set_staffing_rule(group, PROVIDER, count=2, actor=coordinator)
    team.set_staffing_rule(group, FACILITATOR, actor=coordinator)
    both_sites = [site, other_site]

    free = staff("Faye", "Free")
    in_role = staff("Anna", "Already")
    busy_elsewhere = staff("Bea", "Busy", sites=both_sites)
    back_to_back = staff("Lena", "Later", sites=both_sites)
    away = staff("Tom", "Timeoff")
    away_that_morning = staff("Tim", "Morning")
    nurse = staff("Nora", "Nurse", "registered_nurse")
    only_other_site = staff("Wes", "West", sites=[other_site])
    gone = staff("Dee", "Activated")
    gone.active = False
    patient = create_user(PATIENT, given_name="Pat", family_name="Patient")

    team.assign_staff(here, in_role, PROVIDER, actor=coordinator)
    team.assign_staff(overlapping, busy_elsewhere, SUPPORT, actor=None)
    team.assign_staff(right_after, back_to_back, SUPPORT, actor=None)
    team.add_time_off(
        away, here.starts_at - timedelta(hours=2), here.starts_at + timedelta(minutes=1), actor=away
    )
    team.add_time_off(
        away_that_morning,
        here.starts_at - timedelta(hours=8),
        here.starts_at,
        actor=away_that_morning,
    )
    db.session.commit()

    page = _text(coordinator_client.get(_coverage_url(site)))

    providers = _offered(page, here, PROVIDER)
    facilitators = _offered(page, here, FACILITATOR)
    assert set(providers) == {free.id, back_to_back.id, away_that_morning.id}
    assert set(facilitators) == {nurse.id}
    for nobody in (in_role, busy_elsewhere, away, only_other_site, gone, patient, coordinator):
        assert nobody.id not in providers + facilitators
    # Listed by family name, with their discipline.
    assert providers == [free.id, back_to_back.id, away_that_morning.id]
    assert "Faye Free, Attending physician" in _row(page, here)
    # Roles already filled get no form.
    assert _offered(page, here, PRECEPTOR) is None


def test_a_resident_provider_without_a_preceptor_opens_a_gap_for_attendings_only(
    db, site, one_session, staff, coordinator, coordinator_client
):
    here = one_session("Thursday heart group", _day(4))
    resident = staff("Ravi", "Resident", "resident")
    attending = staff("Faye", "Free")
    nurse_practitioner = staff("Nina", "Practitioner", "nurse_practitioner")
    other_resident = staff("Rosa", "Resident", "resident")
    team.assign_staff(here, resident, PROVIDER, actor=coordinator)
    db.session.commit()

    page = _text(coordinator_client.get(_coverage_url(site)))

    assert "Precepting attending: who is free" in page
    assert _offered(page, here, PRECEPTOR) == [attending.id]
    assert nurse_practitioner.id not in _offered(page, here, PRECEPTOR)
    assert other_resident.id not in _offered(page, here, PRECEPTOR)


def test_a_template_that_allows_anyone_as_preceptor_still_offers_and_takes_attendings_only(
    db, site, one_session, staff, coordinator, coordinator_client
):
    here = one_session("Thursday heart group", _day(4))
    team.set_staffing_rule(here.group, PRECEPTOR, disciplines=[], actor=coordinator)
    resident = staff("Ravi", "Resident", "resident")
    attending = staff("Faye", "Free")
    nurse = staff("Nora", "Nurse", "registered_nurse")
    team.assign_staff(here, resident, PROVIDER, actor=coordinator)
    db.session.commit()

    page = _text(coordinator_client.get(_coverage_url(site)))
    assert _offered(page, here, PRECEPTOR) == [attending.id]

    refused = coordinator_client.post_form(
        _assign_url(site), {"session_id": here.id, "role": PRECEPTOR, "user_id": nurse.id}
    )
    assert refused.status_code == 422
    assert _assignments(db, session_id=here.id, role=PRECEPTOR) == []


def test_a_peer_mentor_gap_offers_the_willing_members_not_the_staff(
    db, site, one_session, staff, create_user, coordinator, coordinator_client, willing_mentor
):
    here = one_session("Thursday heart group", _day(4))
    team.set_staffing_rule(here.group, PEER_MENTOR, actor=coordinator)
    nurse = staff("Nora", "Nurse", "registered_nurse")
    mona = create_user(PATIENT, given_name="Mona", family_name="Okafor")
    willing_mentor(here.group, mona)
    db.session.commit()

    page = _text(coordinator_client.get(_coverage_url(site)))

    # Staff cannot be peer mentors (assign_staff refuses them): they must not be offered.
    assert nurse.id not in (_offered(page, here, PEER_MENTOR) or [])
    assert _offered(page, here, PEER_MENTOR) == [mona.id]


# Filling a gap from the page


def test_filling_a_gap_from_the_page_puts_the_person_on_and_covers_the_line(
    db, site, one_session, staff, coordinator, coordinator_client
):
    here = one_session("Thursday heart group", _day(4), calendar_name="Thursday group")
    team.set_staffing_rule(here.group, FACILITATOR, actor=coordinator)
    nurse = staff("Nora", "Nurse", "registered_nurse", email="nora@clinic.example.org")
    db.session.commit()
    page = _text(coordinator_client.get(_coverage_url(site)))
    assert "1 session of 1 needs attention." in page
    assert _offered(page, here, FACILITATOR) == [nurse.id]

    response = coordinator_client.post_form(
        _assign_url(site), {"session_id": here.id, "role": FACILITATOR, "user_id": nurse.id}
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{_coverage_url(site)}#session-{here.id}")
    [assignment] = _assignments(db, session_id=here.id)
    assert (assignment.user_id, assignment.role) == (nurse.id, FACILITATOR)
    page = _text(coordinator_client.get(response.headers["Location"]))
    assert (
        f"Nora Nurse is on the team of Thursday heart group on {site.when(here.starts_at)} "
        "as facilitator." in page
    )
    row = _row(page, here)
    assert "Facilitator: Nora Nurse" in row
    assert '<span class="badge badge--ok">Covered</span>' in row
    assert _offered(page, here, FACILITATOR) is None
    assert "All 1 session is covered." in page
    # The session is four days away: Nora is told.
    [notice] = _outbox(db)
    assert notice.to_address == "nora@clinic.example.org"
    assert "put you on the team" in notice.body


@pytest.fixture
def gap(db, site, other_site, one_session, staff, create_user, coordinator):
    """A session of the site needing a facilitator, and people who must not fill it."""

    class Gap:
        pass

    gap = Gap()
    gap.session = one_session("Thursday heart group", _day(4))
    team.set_staffing_rule(gap.session.group, FACILITATOR, actor=coordinator)
    gap.elsewhere = one_session("Westside walkers", _day(4), group_site=other_site, at=time(14, 0))
    gap.nurse = staff("Nora", "Nurse", "registered_nurse")
    gap.busy = staff("Bea", "Busy", "registered_nurse", sites=[site, other_site])
    team.assign_staff(gap.elsewhere, gap.busy, SUPPORT, actor=None)
    gap.cancelled = one_session("Friday heart group", _day(5))
    schedule.cancel_session(gap.cancelled, "Clinic closed", actor=coordinator)
    gap.attending = staff("Faye", "Free")
    gap.patient = create_user(PATIENT, given_name="Pat", family_name="Patient")
    db.session.commit()
    return gap


BAD_INPUT = {
    "a session of another clinic": (
        lambda g: {"session_id": g.elsewhere.id, "role": FACILITATOR, "user_id": g.nurse.id},
        422,
        lambda g: "Choose a session of this clinic and a person.",
    ),
    "a session that does not exist": (
        lambda g: {"session_id": 999999, "role": FACILITATOR, "user_id": g.nurse.id},
        422,
        lambda g: "Choose a session of this clinic and a person.",
    ),
    "a cancelled session": (
        lambda g: {"session_id": g.cancelled.id, "role": SUPPORT, "user_id": g.nurse.id},
        422,
        lambda g: "This session is cancelled.",
    ),
    "someone busy at another clinic then": (
        lambda g: {"session_id": g.session.id, "role": FACILITATOR, "user_id": g.busy.id},
        409,
        lambda g: (
            "Bea Busy is already on the team of a session at another clinic on "
            f"{g.elsewhere.group.site.when(g.elsewhere.starts_at)}, which overlaps this session."
        ),
    ),
    "a discipline the role does not allow": (
        lambda g: {"session_id": g.session.id, "role": FACILITATOR, "user_id": g.attending.id},
        422,
        lambda g: (
            "Faye Free (attending physician) cannot be facilitator in this group: the "
            "role needs registered nurse or behavioural health clinician."
        ),
    ),
    "nobody chosen": (
        lambda g: {"session_id": g.session.id, "role": FACILITATOR, "user_id": ""},
        422,
        lambda g: "Choose a person.",
    ),
    "a person who does not exist": (
        lambda g: {"session_id": g.session.id, "role": FACILITATOR, "user_id": 999999},
        422,
        lambda g: "Choose a session of this clinic and a person.",
    ),
    "a patient": (
        lambda g: {"session_id": g.session.id, "role": FACILITATOR, "user_id": g.patient.id},
        422,
        lambda g: "Pat Patient is not on the staff of Eastside Clinic.",
    ),
    "an unknown role": (
        lambda g: {"session_id": g.session.id, "role": "chef", "user_id": g.nurse.id},
        422,
        lambda g: "Not a valid choice",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_to_the_gap_form_is_answered_with_a_message_and_saves_nothing(
    db, site, gap, coordinator_client, case
):
    data, status, message = BAD_INPUT[case]
    assignments, notices = _count(db, StaffAssignment), len(_outbox(db))

    response = coordinator_client.post_form(_assign_url(site), data(gap))

    assert response.status_code == status
    page = _text(response)
    assert message(gap) in page
    assert "Team coverage at Eastside Clinic" in page  # the page again, to choose anew
    assert "Westside walkers" not in page  # another clinic's group is never named
    assert _count(db, StaffAssignment) == assignments
    assert len(_outbox(db)) == notices


def test_clinicians_see_the_gaps_but_no_forms_and_may_not_fill_them(
    db, site, gap, coordinator_client, clinician_client
):
    assert _offered(_text(coordinator_client.get(_coverage_url(site))), gap.session, FACILITATOR)

    page = _text(clinician_client.get(_coverage_url(site)))
    assert "Needs 1 facilitator" in page
    assert _offered(page, gap.session, FACILITATOR) is None
    assert 'class="fill-gap"' not in page and "who is free" not in page
    refused = clinician_client.post_form(
        _assign_url(site),
        {"session_id": gap.session.id, "role": FACILITATOR, "user_id": gap.nurse.id},
    )
    assert refused.status_code == 403
    assert _assignments(db, session_id=gap.session.id) == []


def test_coordinators_of_another_clinic_and_patients_cannot_fill_its_gaps(
    db, site, other_site, gap, create_user, sign_in_as, patient_client
):
    stranger = sign_in_as(create_user(COORDINATOR, sites=[other_site]))
    data = {"session_id": gap.session.id, "role": FACILITATOR, "user_id": gap.nurse.id}

    assert stranger.get(_coverage_url(site)).status_code == 404
    assert stranger.post_form(_assign_url(site), data).status_code == 404
    # Nor through their own clinic's address.
    assert stranger.post_form(_assign_url(other_site), data).status_code == 422
    assert patient_client.post_form(_assign_url(site), data).status_code == 403
    assert _assignments(db, session_id=gap.session.id) == []


# Constant queries


def _queries(count_queries, client, url: str) -> int:
    client.get(url)  # first visit: one-off work
    with count_queries() as counter:
        assert client.get(url).status_code == 200
    return counter.count


def _crowd(db, site, other_site, create_group, staff, coordinator) -> None:
    """Three weekly groups with gaps of several roles, many staff, time off, clashes."""
    elsewhere = create_group(
        other_site, start=_day(3), rule="FREQ=WEEKLY", at=time(11, 0), location="West hall"
    )
    for n in range(3):
        group = create_group(
            site, start=_day(3), rule="FREQ=WEEKLY", at=time(8 + 3 * n, 0), location=f"Room {n}"
        )
        team.set_staffing_rule(group, FACILITATOR, actor=coordinator)
        team.set_staffing_rule(group, PROVIDER, count=2, actor=coordinator)
        sessions = _coming(group)
        nurse = staff(discipline="registered_nurse")
        resident = staff(discipline="resident")
        attending = staff()
        wanderer = staff(discipline="pharmacist", sites=[site, other_site])
        staff(discipline="behavioural_health")
        staff(discipline="nurse_practitioner")
        for group_session in sessions[:3]:
            team.assign_staff(group_session, nurse, FACILITATOR, actor=coordinator)
            team.assign_staff(group_session, resident, PROVIDER, actor=coordinator)
        team.add_time_off(nurse, sessions[0].starts_at, sessions[0].ends_at, actor=nurse)
        team.add_time_off(
            attending,
            sessions[3].starts_at - timedelta(hours=1),
            sessions[4].ends_at,
            actor=attending,
        )
        team.assign_staff(_coming(elsewhere)[n], wanderer, SUPPORT, actor=None)
    db.session.commit()


def test_the_coverage_page_with_gap_forms_costs_the_same_with_more_sessions_staff_and_time_off(
    db,
    site,
    other_site,
    one_session,
    create_group,
    staff,
    create_user,
    coordinator,
    coordinator_client,
    count_queries,
    willing_mentor,
):
    here = one_session("Thursday heart group", _day(4))
    team.set_staffing_rule(here.group, FACILITATOR, actor=coordinator)
    staff(discipline="registered_nurse")
    mentor = create_user(PATIENT)
    willing_mentor(here.group, mentor)
    team.assign_staff(here, mentor, PEER_MENTOR, actor=coordinator)
    db.session.commit()
    few = _queries(count_queries, coordinator_client, _coverage_url(site))
    assert _offered(_text(coordinator_client.get(_coverage_url(site))), here, FACILITATOR)

    _crowd(db, site, other_site, create_group, staff, coordinator)
    many = _queries(count_queries, coordinator_client, _coverage_url(site))

    page = _text(coordinator_client.get(_coverage_url(site)))
    assert page.count('class="fill-gap"') > 25
    assert "Precepting attending: who is free" in page
    assert many == few
    # The person signed in, the sessions, their teams with the rules, everyone free for
    # every gap, and the audit rows of the peer mentors shown and offered.
    assert few <= 6


# Peer mentors: saying yes, and taking it back


def _mentor_events(db, membership) -> list[tuple[str, int]]:
    db.session.expire_all()
    return [
        (event.kind, event.actor_id)
        for event in db.session.scalars(
            select(MembershipEvent)
            .where(
                MembershipEvent.membership_id == membership.id,
                MembershipEvent.kind.in_(MENTOR_KINDS),
            )
            .order_by(MembershipEvent.id)
        )
    ]


def _audit(db, patient, object_type: str, action: str = "update") -> list[tuple[int, int]]:
    """(actor id, object id) of a patient's audit rows of one kind, in order."""
    db.session.expire_all()
    return [
        (event.actor_id, event.object_id)
        for event in db.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.patient_id == patient.id,
                AuditEvent.object_type == object_type,
                AuditEvent.action == action,
            )
            .order_by(AuditEvent.id)
        )
    ]


def test_a_member_offers_to_mentor_and_takes_it_back_on_my_groups(
    db, create_group, patient, sign_in_as
):
    group = create_group(start=_day(10))
    membership = roster.enrol(group, patient, actor=None)
    db.session.commit()
    audits_before = len(_audit(db, patient, "membership"))
    client = sign_in_as(patient)
    page = _text(client.get("/my/groups"))
    assert "I’m willing to be a peer mentor" in page
    assert f'action="/memberships/{membership.id}/peer-mentor"' in page

    offered = client.post_form(f"/memberships/{membership.id}/peer-mentor", follow_redirects=True)

    thanks = "Thank you. The coordinator may ask you to be peer mentor at a session."
    assert thanks in _text(offered)
    db.session.refresh(membership)
    assert membership.peer_mentor_since is not None
    page = _text(client.get("/my/groups"))
    assert "You are willing to be a peer mentor" in page
    assert "I no longer want to be a peer mentor" in page
    assert _mentor_events(db, membership) == [("willing to mentor", patient.id)]
    assert _audit(db, patient, "membership")[audits_before:] == [(patient.id, membership.id)]

    # Saying it twice changes nothing.
    client.post_form(f"/memberships/{membership.id}/peer-mentor")
    assert len(_mentor_events(db, membership)) == 1

    stopped = client.post_form(
        f"/memberships/{membership.id}/peer-mentor/stop", follow_redirects=True
    )

    assert "Saved. You are no longer a peer mentor in this group." in _text(stopped)
    db.session.refresh(membership)
    assert membership.peer_mentor_since is None
    assert _mentor_events(db, membership) == [
        ("willing to mentor", patient.id),
        ("no longer mentors", patient.id),
    ]
    assert len(_audit(db, patient, "membership")) == audits_before + 2
    assert "I’m willing to be a peer mentor" in _text(client.get("/my/groups"))


@pytest.mark.parametrize("status", [WAITLISTED, WITHDRAWN])
def test_only_a_member_with_a_place_may_offer_to_mentor(
    db, create_group, patient, create_user, sign_in_as, coordinator_client, status
):
    group = create_group(start=_day(10))
    membership = roster.enrol(group, patient, actor=None)
    outsider = create_user(PATIENT, sites=[group.site])
    waiting = Membership(
        group_id=group.id,
        patient_id=outsider.id,
        status=status,
        waitlist_position=1 if status == WAITLISTED else None,
        ended_at=utcnow() if status == WITHDRAWN else None,
    )
    db.session.add(waiting)
    db.session.commit()
    outsider_client = sign_in_as(outsider)

    # Someone else's membership: not theirs to see, nor the coordinator's to say.
    offer_url = f"/memberships/{membership.id}/peer-mentor"
    assert outsider_client.post_form(offer_url).status_code == 404
    assert coordinator_client.post_form(offer_url).status_code == 403
    # Their own, without a place in the group.
    answer = outsider_client.post_form(
        f"/memberships/{waiting.id}/peer-mentor", follow_redirects=True
    )
    assert "Only members of the group can be peer mentors." in _text(answer)

    db.session.expire_all()
    assert membership.peer_mentor_since is None and waiting.peer_mentor_since is None
    assert _mentor_events(db, membership) == [] and _mentor_events(db, waiting) == []
    assert _audit(db, outsider, "membership") == []


def test_a_member_is_made_peer_mentor_only_after_saying_yes(
    db, one_session, create_user, coordinator_client, sign_in_as
):
    here = one_session("Thursday heart group", _day(4))
    group = here.group
    mona = create_user(PATIENT, given_name="Mona", family_name="Okafor")
    membership = roster.enrol(group, mona, actor=None)
    db.session.commit()
    choice = {"user_id": mona.id, "role": PEER_MENTOR}

    page = _text(coordinator_client.get(f"/sessions/{here.id}"))
    assert "Members of this group (peer mentor only)" not in page
    assert "Mona Okafor" not in page
    for url in (f"/sessions/{here.id}/team", f"/groups/{group.id}/team/core"):
        refused = coordinator_client.post_form(url, choice)
        assert refused.status_code == 422
        assert (
            "Mona Okafor has not said they are willing to be a peer mentor in this group"
            in _text(refused)
        )
    assert _assignments(db, user_id=mona.id) == []
    assert _count(db, CoreTeamMember) == 0

    sign_in_as(mona).post_form(f"/memberships/{membership.id}/peer-mentor")

    page = _text(coordinator_client.get(f"/sessions/{here.id}"))
    assert "Members of this group (peer mentor only)" in page
    assert f'<option value="{mona.id}">Mona Okafor</option>' in page  # under that heading
    assert coordinator_client.post_form(f"/sessions/{here.id}/team", choice).status_code == 302
    assert coordinator_client.post_form(f"/groups/{group.id}/team/core", choice).status_code == 302
    assert [a.role for a in _assignments(db, user_id=mona.id)] == [PEER_MENTOR]
    assert _count(db, CoreTeamMember) == 1


def _stop(membership, mentor, sign_in_as, coordinator_client):
    return sign_in_as(mentor).post_form(f"/memberships/{membership.id}/peer-mentor/stop")


def _withdraw(membership, mentor, sign_in_as, coordinator_client):
    return sign_in_as(mentor).post_form(f"/memberships/{membership.id}/withdraw")


def _end(membership, mentor, sign_in_as, coordinator_client):
    return coordinator_client.post_form(
        f"/memberships/{membership.id}/end", {"reason": "Moved to another clinic"}
    )


@pytest.mark.parametrize(
    "leave, by_coordinator",
    [(_stop, False), (_withdraw, False), (_end, True)],
    ids=["takes it back", "withdraws", "is ended"],
)
def test_a_mentor_who_stops_leaves_the_core_team_and_coming_sessions_but_not_past_ones(
    db,
    create_group,
    staff,
    create_user,
    coordinator,
    coordinator_client,
    sign_in_as,
    willing_mentor,
    leave,
    by_coordinator,
):
    start = date.today() - timedelta(days=21)
    group = create_group(start=start, rule="FREQ=WEEKLY", since=start)
    sessions = db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == group.id)
        .order_by(GroupSession.starts_at)
    ).all()
    past = [s for s in sessions if s.ends_at < utcnow()][-1]
    coming = [s for s in sessions if s.starts_at > utcnow()][:2]
    mentor = create_user(PATIENT, given_name="Mona", family_name="Okafor")
    membership = willing_mentor(group, mentor)
    nurse = staff(discipline="registered_nurse")
    team.add_core_member(group, mentor, PEER_MENTOR, actor=coordinator)
    team.add_core_member(group, nurse, FACILITATOR, actor=coordinator)
    kept = team.assign_staff(past, mentor, PEER_MENTOR, actor=coordinator)
    dropped = [team.assign_staff(s, mentor, PEER_MENTOR, actor=coordinator) for s in coming]
    nurse_on = team.assign_staff(coming[0], nurse, FACILITATOR, actor=coordinator)
    core_id = db.session.scalar(select(CoreTeamMember.id).filter_by(user_id=mentor.id))
    db.session.commit()
    kept_id, dropped_ids, nurse_on_id = kept.id, [a.id for a in dropped], nurse_on.id

    assert leave(membership, mentor, sign_in_as, coordinator_client).status_code == 302

    db.session.expire_all()
    assert membership.peer_mentor_since is None
    assert [a.id for a in _assignments(db, user_id=mentor.id)] == [kept_id]
    assert [a.id for a in _assignments(db, user_id=nurse.id)] == [nurse_on_id]
    assert [(m.user_id, m.role) for m in db.session.scalars(select(CoreTeamMember))] == [
        (nurse.id, FACILITATOR)
    ]
    actor_id = coordinator.id if by_coordinator else mentor.id
    assert _audit(db, mentor, "core_team_member") == [(actor_id, core_id)]
    assert _audit(db, mentor, "staff_assignment") == [(actor_id, i) for i in dropped_ids]


# What a peer mentor sees


@pytest.fixture
def mentored(db, one_session, staff, create_user, coordinator, willing_mentor):
    """A session in three days with a facilitator, a peer mentor, a member to phone and a gap."""

    class Mentored:
        pass

    m = Mentored()
    m.session = one_session("Thursday heart group", _day(3), calendar_name="Thursday group")
    m.group = m.session.group
    team.set_staffing_rule(m.group, PROVIDER, actor=coordinator)  # unfilled: a problem
    m.nurse = staff("Nora", "Nurse", "registered_nurse")
    m.mentor = create_user(PATIENT, given_name="Mona", family_name="Okafor")
    m.phone_only = create_user(
        PATIENT,
        given_name="Phil",
        family_name="Phoneonly",
        email=None,
        password=None,
        phone="555-0100",
    )
    m.member = create_user(PATIENT, given_name="Otto", family_name="Member")
    for patient in (m.mentor, m.phone_only, m.member):
        roster.enrol(m.group, patient, actor=None)
    willing_mentor(m.group, m.mentor)
    team.assign_staff(m.session, m.nurse, FACILITATOR, actor=coordinator)
    team.assign_staff(m.session, m.mentor, PEER_MENTOR, actor=coordinator)
    db.session.commit()
    return m


def _mentor_box(page: str) -> str:
    start = page.index("You are peer mentor at this session.")
    return page[start : page.index("</div>", start)]


def test_the_peer_mentor_sees_their_part_of_the_plan_and_nobody_elses_data(
    mentored, site, coordinator_client, sign_in_as
):
    url = f"/sessions/{mentored.session.id}"
    # Staff see the call list, the census and the team's problems.
    staff_page = _text(coordinator_client.get(url))
    for shown in ("To call (1)", "Phil Phoneonly", 'class="census', "Needs the coordinator"):
        assert shown in staff_page
    mentor = sign_in_as(mentored.mentor)

    page = _text(mentor.get(url))

    box = _mentor_box(page)
    assert "with Nora" in box
    assert "Group conversation" in box and "Wrap-up and goals" in box
    assert "Shared meal" not in box and "One-on-one visits" not in box
    for hidden in (
        "To call",
        "Phil",
        "Otto",
        'class="census',
        "Needs the coordinator",
        "Needs 1 provider",
        "Nora Nurse",
    ):
        assert hidden not in page
    for staff_only in (
        f"{url}/attendance",
        f"{url}/check-in",
        f"{url}/sign-in-sheet",
        f"/groups/{mentored.group.id}/roster",
        f"/groups/{mentored.group.id}/roster.csv",
        f"/groups/{mentored.group.id}/team",
        _coverage_url(site),
    ):
        assert mentor.get(staff_only).status_code in (403, 404), staff_only


def test_other_members_see_the_mentors_first_name_as_peer_mentor(mentored, sign_in_as):
    page = _text(sign_in_as(mentored.member).get(f"/sessions/{mentored.session.id}"))

    assert "<li>Mona, peer mentor</li>" in page
    assert "<li>Nora, registered nurse</li>" in page
    assert "Okafor" not in page
    assert "You are peer mentor at this session." not in page


def test_a_mentor_of_a_cancelled_session_is_not_told_to_lead_it(
    db, mentored, coordinator_client, sign_in_as
):
    url = f"/sessions/{mentored.session.id}"
    cancelled = coordinator_client.post_form(f"{url}/cancel", {"reason": "Clinic closed"})
    assert cancelled.status_code == 302

    page = _text(sign_in_as(mentored.mentor).get(url))

    assert "Cancelled." in page
    assert "You are peer mentor at this session." not in page


# Cancelling, restoring and moving a session


def test_after_a_cancellation_its_team_may_staff_an_overlapping_session_of_another_group(
    db, one_session, staff, coordinator, coordinator_client
):
    first = one_session("Thursday heart group", _day(4))
    second = one_session("Thursday lung group", _day(4), at=time(17, 30))
    nurse = staff("Nora", "Nurse", "registered_nurse")
    team.assign_staff(first, nurse, FACILITATOR, actor=coordinator)
    db.session.commit()
    choice = {"user_id": nurse.id, "role": FACILITATOR}

    refused = coordinator_client.post_form(f"/sessions/{second.id}/team", choice)
    assert refused.status_code == 409
    assert "Nora Nurse is already on the team of Thursday heart group on" in _text(refused)

    cancelled = coordinator_client.post_form(f"/sessions/{first.id}/cancel", {"reason": "Flood"})
    assert cancelled.status_code == 302
    assert _assignments(db, session_id=first.id) == []

    assert coordinator_client.post_form(f"/sessions/{second.id}/team", choice).status_code == 302
    assert [a.session_id for a in _assignments(db, user_id=nurse.id)] == [second.id]


def test_cancelling_within_14_days_tells_each_person_on_the_team_once(
    db, one_session, staff, create_user, coordinator, coordinator_client, willing_mentor
):
    here = one_session(
        "Tuesday diabetes group", _day(4), calendar_name="Tuesday group", focus="type 2 diabetes"
    )
    group = here.group
    nurse = staff("Nora", "Nurse", "registered_nurse", email="nora@clinic.example.org")
    attending = staff("Faye", "Free", email="faye@clinic.example.org")
    mentor = create_user(PATIENT, given_name="Mona", email="mona@home.example.org")
    phone_only = create_user(PATIENT, email=None, password=None, phone="555-0100")
    team.assign_staff(here, nurse, FACILITATOR, actor=coordinator)
    team.assign_staff(here, nurse, SUPPORT, actor=coordinator)
    team.assign_staff(here, attending, PROVIDER, actor=coordinator)
    mentoring = {}
    for member in (mentor, phone_only):
        willing_mentor(group, member)
        mentoring[member] = team.assign_staff(here, member, PEER_MENTOR, actor=coordinator).id
    db.session.commit()
    before = len(_outbox(db))

    response = coordinator_client.post_form(f"/sessions/{here.id}/cancel", {"reason": "Flood"})

    assert response.status_code == 302
    notices = _outbox(db)[before:]
    assert sorted(n.to_address for n in notices) == [
        "faye@clinic.example.org",
        "mona@home.example.org",
        "nora@clinic.example.org",
    ]
    for notice in notices:
        assert notice.subject == NOTICE_SUBJECT
        assert "has cancelled a group visit you were on the team of" in notice.body
        assert '"Tuesday group"' in notice.body
        assert group.site.when(here.starts_at) in notice.body
        assert coordinator.full_name in notice.body
        assert group.name not in notice.body and "diabetes" not in notice.body
    assert _assignments(db, session_id=here.id) == []
    # The peer mentors taken off are in their audit trail.
    for member, assignment_id in mentoring.items():
        assert _audit(db, member, "staff_assignment") == [(coordinator.id, assignment_id)]


def test_cancelling_further_ahead_frees_the_team_and_tells_nobody(
    db, one_session, staff, coordinator, coordinator_client
):
    later = one_session("Thursday heart group", _day(20))
    team.assign_staff(later, staff(discipline="registered_nurse"), FACILITATOR, actor=coordinator)
    db.session.commit()
    assert _outbox(db) == []

    coordinator_client.post_form(f"/sessions/{later.id}/cancel", {"reason": "Holiday"})

    assert _assignments(db, session_id=later.id) == []
    assert _outbox(db) == []


def test_restoring_a_session_puts_the_core_team_back_where_free(
    db, one_session, staff, create_user, coordinator, coordinator_client, willing_mentor
):
    here = one_session("Thursday heart group", _day(6))
    elsewhere = one_session("Thursday lung group", _day(6), at=time(18, 0))
    group = here.group
    nurse = staff("Nora", "Nurse", "registered_nurse", email="nora@clinic.example.org")
    attending = staff("Faye", "Free")
    mentor = create_user(PATIENT, given_name="Mona", email="mona@home.example.org")
    willing_mentor(group, mentor)
    for person, role in ((nurse, FACILITATOR), (attending, PROVIDER), (mentor, PEER_MENTOR)):
        team.add_core_member(group, person, role, actor=coordinator)
    team.copy_core_team(here, actor=coordinator)
    db.session.commit()
    assert len(_assignments(db, session_id=here.id)) == 3
    coordinator_client.post_form(f"/sessions/{here.id}/cancel", {"reason": "Flood"})
    assert _assignments(db, session_id=here.id) == []
    # Freed by the cancellation, Faye takes an overlapping session meanwhile.
    team.assign_staff(elsewhere, attending, PROVIDER, actor=coordinator)
    db.session.commit()
    before = len(_outbox(db))

    restored = coordinator_client.post_form(f"/sessions/{here.id}/restore")

    assert restored.status_code == 302
    db.session.expire_all()
    assert not db.session.get(GroupSession, here.id).is_cancelled
    back = {(a.user_id, a.role) for a in _assignments(db, session_id=here.id)}
    assert back == {(nurse.id, FACILITATOR), (mentor.id, PEER_MENTOR)}
    assert [a.session_id for a in _assignments(db, user_id=attending.id)] == [elsewhere.id]
    added = _outbox(db)[before:]
    assert sorted(n.to_address for n in added) == [
        "mona@home.example.org",
        "nora@clinic.example.org",
    ]
    assert all("put you on the team" in n.body for n in added)


def _move(client, group_session, local_start, length: int = 120):
    return client.post_form(
        f"/sessions/{group_session.id}/edit",
        {
            "date": local_start.date().isoformat(),
            "start_time": local_start.strftime("%H:%M"),
            "length_minutes": str(length),
            "location": group_session.location,
            "video_url": group_session.video_url,
            "theme": "",
            "notes": "",
        },
    )


def test_moving_a_session_tells_its_team_the_old_and_new_times_without_the_group_name(
    db, one_session, staff, coordinator, coordinator_client
):
    here = one_session(
        "Tuesday diabetes group", _day(5), calendar_name="Tuesday group", focus="type 2 diabetes"
    )
    site = here.group.site
    nurse = staff("Nora", "Nurse", "registered_nurse", email="nora@clinic.example.org")
    attending = staff("Faye", "Free", email="faye@clinic.example.org")
    team.assign_staff(here, nurse, FACILITATOR, actor=coordinator)
    team.assign_staff(here, nurse, SUPPORT, actor=coordinator)
    team.assign_staff(here, attending, PROVIDER, actor=coordinator)
    db.session.commit()
    old_start = here.starts_at
    new_local = (here.local_start + timedelta(days=1)).replace(hour=18, minute=30)
    before = len(_outbox(db))

    response = _move(coordinator_client, here, new_local)

    assert response.status_code == 302, _text(response)
    db.session.expire_all()
    moved = db.session.get(GroupSession, here.id)
    assert moved.local_start == new_local
    assert {a.starts_at for a in _assignments(db, session_id=here.id)} == {moved.starts_at}
    notices = _outbox(db)[before:]
    assert sorted(n.to_address for n in notices) == [
        "faye@clinic.example.org",
        "nora@clinic.example.org",
    ]
    for notice in notices:
        assert notice.subject == NOTICE_SUBJECT
        assert "has moved a group visit you are on the team of" in notice.body
        assert f"from {site.when(old_start)} to {site.when(moved.starts_at)}" in notice.body
        assert '"Tuesday group"' in notice.body
        assert "Tuesday diabetes group" not in notice.body and "diabetes" not in notice.body


def test_a_move_is_told_only_when_the_old_or_the_new_time_is_within_14_days(
    db, one_session, staff, coordinator, coordinator_client
):
    here = one_session("Thursday heart group", _day(30))
    team.assign_staff(here, staff(discipline="registered_nurse"), FACILITATOR, actor=coordinator)
    db.session.commit()
    start = here.local_start

    assert _move(coordinator_client, here, start + timedelta(days=1)).status_code == 302
    assert _outbox(db) == []  # far ahead, still far ahead
    assert _move(coordinator_client, here, start - timedelta(days=20)).status_code == 302
    assert len(_outbox(db)) == 1  # into the next 14 days
    assert _move(coordinator_client, here, start + timedelta(days=10)).status_code == 302
    assert len(_outbox(db)) == 2  # out of them again
    assert all("has moved a group visit" in n.body for n in _outbox(db))


def test_a_schedule_change_that_moves_sessions_tells_their_teams(
    db, create_group, staff, coordinator, coordinator_client
):
    first_day = _day(3)
    weekday = WEEKDAYS[first_day.weekday()]
    group = create_group(
        start=first_day, rule=f"FREQ=WEEKLY;BYDAY={weekday}", calendar_name="Weekly group"
    )
    site = group.site
    sessions = _coming(group)
    nurse = staff("Nora", "Nurse", "registered_nurse", email="nora@clinic.example.org")
    for group_session in (sessions[0], sessions[1], sessions[4]):  # days 3, 10 and 31
        team.assign_staff(group_session, nurse, FACILITATOR, actor=coordinator)
    db.session.commit()
    old = {s.id: s.starts_at for s in sessions[:2]}
    before = len(_outbox(db))

    response = coordinator_client.post_form(
        f"/groups/{group.id}/schedule",
        {
            "pattern": "weekly",
            "weekday": weekday,
            "nth": "2",
            "start_date": first_day.isoformat(),
            "start_time": "18:00",
            "ends": "never",
        },
    )

    assert response.status_code == 302, _text(response)
    notices = _outbox(db)[before:]
    assert len(notices) == 2  # the two sessions within 14 days, not the one further ahead
    db.session.expire_all()
    for notice, session_id in zip(notices, old, strict=True):
        moved = db.session.get(GroupSession, session_id)
        assert moved.starts_at == old[session_id] + timedelta(hours=1)
        assert f"from {site.when(old[session_id])} to {site.when(moved.starts_at)}" in notice.body
        assert group.name not in notice.body
    for assignment in _assignments(db, user_id=nurse.id):
        assert assignment.starts_at == assignment.group_session.starts_at
