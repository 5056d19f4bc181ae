"""Correcting a check-in or vitals on the tablet: a reason is asked, and the history shows it."""

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import PATIENT
from groupvisits.audit import AuditEvent
from groupvisits.roster import attendance as rules
from groupvisits.roster import services
from groupvisits.roster.models import Attendance, AttendanceChange
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow

WHEN = r"(\d{1,2}:\d\d [AP]M|\w{3} \d{1,2} \w{3} \d{4}, \d{1,2}:\d\d [AP]M)"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def person_item(page: str, patient) -> str:
    """Everything the check-in page shows for one person, nested lists included."""
    match = re.search(
        rf'<li class="check-in__person" id="p{patient.id}">(.*?)'
        r'(?=<li class="check-in__person"|</ul>\s*<p>)',
        page,
        re.S,
    )
    assert match, f"{patient.full_name} is not on the check-in page"
    return match.group(1)


def attendance_of(db, patient) -> Attendance:
    db.session.expire_all()
    return db.session.scalar(select(Attendance).where(Attendance.patient_id == patient.id))


def entries(db) -> int:
    return db.session.scalar(select(func.count()).select_from(AttendanceChange))


def updates_audited(db, object_type: str) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "update", AuditEvent.object_type == object_type)
    )


def next_session(db, group) -> GroupSession:
    return db.session.scalars(
        select(GroupSession)
        .where(
            GroupSession.group_id == group.id, GroupSession.starts_at > utcnow() + timedelta(days=2)
        )
        .order_by(GroupSession.starts_at)
    ).first()


def under_way(db, group_session) -> GroupSession:
    """Make the session one that started half an hour ago: check-in is open."""
    group_session.starts_at = utcnow() - timedelta(minutes=30)
    group_session.ends_at = group_session.starts_at + timedelta(hours=2)
    db.session.commit()
    return group_session


@pytest.fixture
def session_id(db, create_group, site, coordinator, patient):
    """A session under way of a group whose one member is ``patient``."""
    group = create_group(site)
    services.enrol(group, patient, actor=coordinator)
    db.session.commit()
    return under_way(db, next_session(db, group)).id


def test_changing_a_check_in_without_a_reason_is_refused_and_nothing_changes(
    db, clinician_client, session_id, patient
):
    url = f"/sessions/{session_id}/check-in"
    clinician_client.post_form(url, {"patient_id": patient.id, "status": "no_show"})

    response = clinician_client.post_form(
        url, {"patient_id": patient.id, "status": "late", "reason": "  "}
    )

    assert response.status_code == 422
    message = (
        "Pat I. is checked in as No-show. To change it to Late, in person, "
        "give a reason for the correction."
    )
    assert message in text(response)
    assert message in person_item(text(response), patient)  # said on the person's card too
    assert attendance_of(db, patient).check_in == "no_show"
    assert entries(db) == 1
    assert updates_audited(db, "attendance") == 1


def test_a_corrected_check_in_is_kept_and_the_history_says_who_and_why(
    db, clinician_client, session_id, patient
):
    url = f"/sessions/{session_id}/check-in"
    first = text(clinician_client.get(url))
    # Nothing recorded yet: nothing to correct, so no reason is asked.
    assert 'name="reason"' not in person_item(first, patient)
    clinician_client.post_form(url, {"patient_id": patient.id, "status": "no_show"})

    response = clinician_client.post_form(
        url,
        {"patient_id": patient.id, "status": "late", "reason": "arrived after the register"},
        follow_redirects=True,
    )

    item = person_item(text(response), patient)
    assert "Pat I.: Late." in text(response)
    assert f'<label for="why-{patient.id}">Reason, if you change the check-in</label>' in item
    assert re.search(rf'<input type="text" id="why-{patient.id}" name="reason"', item)
    assert "Check-in and vitals history (2), corrected" in item
    assert re.search(rf"Checked in: No-show by Clara N\., {WHEN}</li>", item)
    assert re.search(
        rf"Corrected from No-show to Late, in person by Clara N\., {WHEN}: "
        r"arrived after the register</li>",
        item,
    )
    assert attendance_of(db, patient).check_in == "late"
    assert entries(db) == 2
    assert updates_audited(db, "attendance") == 2


def test_corrected_vitals_need_a_reason_and_the_earlier_ones_stay_in_the_history(
    db, clinician_client, session_id, patient
):
    url = f"/sessions/{session_id}/vitals"
    vitals = {"patient_id": patient.id, "weight": "82.5", "systolic": "148", "diastolic": "92"}
    clinician_client.post_form(url, {**vitals, "source": "staff"})
    page = text(clinician_client.get(f"/sessions/{session_id}/check-in"))
    item = person_item(page, patient)
    assert f'<label for="vwhy-{patient.id}">Reason, if you change recorded vitals</label>' in item
    assert '<option value="staff" selected>Staff</option>' in item

    refused = clinician_client.post_form(
        url, {**vitals, "systolic": "132", "diastolic": "84", "source": "staff"}
    )
    assert refused.status_code == 422
    assert "already has vitals recorded (82.5 kg, BP 148/92)" in text(refused)
    assert attendance_of(db, patient).systolic == 148

    response = clinician_client.post_form(
        url,
        {
            **vitals,
            "systolic": "132",
            "diastolic": "84",
            "source": "staff",
            "reason": "Retaken after five minutes seated",
        },
        follow_redirects=True,
    )

    item = person_item(text(response), patient)
    assert re.search(
        rf"Vitals corrected from 82\.5 kg, BP 148/92 to 82\.5 kg, BP 132/84 \(staff\) "
        rf"by Clara N\., {WHEN}: Retaken after five minutes seated</li>",
        item,
    )
    assert (attendance_of(db, patient).systolic, entries(db)) == (132, 2)
    assert updates_audited(db, "vitals") == 2


def test_a_reason_too_long_is_refused_and_nothing_changes(
    db, clinician_client, session_id, patient
):
    url = f"/sessions/{session_id}/check-in"
    clinician_client.post_form(url, {"patient_id": patient.id, "status": "no_show"})

    response = clinician_client.post_form(
        url, {"patient_id": patient.id, "status": "excused", "reason": "x" * 301}
    )

    assert response.status_code == 422
    assert "Field cannot be longer than 300 characters." in text(response)
    assert attendance_of(db, patient).check_in == "no_show"
    assert entries(db) == 1


def test_the_check_in_page_runs_as_many_queries_with_histories_for_12_people_as_for_3(
    db, coordinator_client, create_group, site, coordinator, create_user, count_queries
):
    counts = []
    for size in (3, 12):
        group = create_group(site)
        group_session = under_way(db, next_session(db, group))
        for _ in range(size):
            person = create_user(PATIENT, password=None)
            services.enrol(group, person, actor=coordinator)
            attendance = rules.attendance_for_check_in(group_session, person, actor=coordinator)
            rules.check_in(attendance, "no_show", actor=coordinator, group_session=group_session)
            rules.check_in(
                attendance, "late", actor=coordinator, group_session=group_session, reason="Came"
            )
            rules.record_vitals(
                attendance,
                weight=80,
                systolic=None,
                diastolic=None,
                source="staff",
                actor=coordinator,
            )
        db.session.commit()
        url = f"/sessions/{group_session.id}/check-in"
        assert coordinator_client.get(url).status_code == 200  # warm up
        with count_queries() as counter:
            response = coordinator_client.get(url)
        assert response.status_code == 200
        assert text(response).count("Corrected from No-show to Late") == size
        counts.append(counter.count)

    assert counts[0] == counts[1]


# Check-in belongs to the day


@pytest.fixture
def days_ahead(db, create_group, site, coordinator, patient):
    """A session three days ahead of a group whose one member is ``patient``."""
    group = create_group(site)
    services.enrol(group, patient, actor=coordinator)
    db.session.commit()
    return next_session(db, group)


def test_before_the_day_the_check_in_page_says_when_and_records_nothing(
    db, clinician_client, coordinator_client, days_ahead, patient
):
    url = f"/sessions/{days_ahead.id}/check-in"
    local = days_ahead.local_start

    page = text(clinician_client.get(url))

    assert f"This session starts {local:%a} {local.day} {local:%b %Y}, 5:00 PM." in page
    assert "Check-in opens 60 minutes before, at 4:00 PM" in page
    item = person_item(page, patient)
    assert "Pat Ient" in item
    assert 'name="status"' not in item and 'name="weight"' not in item
    assert 'name="wants_one_on_one"' not in item

    for action, data in (
        ("check-in", {"status": "no_show"}),
        ("vitals", {"weight": "80", "source": "staff"}),
        ("one-on-one", {"wants_one_on_one": "yes"}),
    ):
        response = clinician_client.post_form(
            f"/sessions/{days_ahead.id}/{action}", {"patient_id": patient.id, **data}
        )
        assert response.status_code == 422, action
        assert "Check-in opens 60 minutes before" in text(response)
    assert attendance_of(db, patient) is None
    assert updates_audited(db, "attendance") == updates_audited(db, "vitals") == 0
    # The roster's attendance column counts nothing for this member.
    roster = text(coordinator_client.get(f"/groups/{days_ahead.group_id}/roster"))
    assert "no-show" not in roster and "No sessions yet" in roster


def test_a_cancelled_sessions_check_in_page_says_so_and_takes_no_check_in(
    db, clinician_client, coordinator_client, session_id, patient
):
    group_session = db.session.get(GroupSession, session_id)
    group_session.status, group_session.cancel_reason = "cancelled", "Room flooded"
    db.session.commit()
    url = f"/sessions/{session_id}/check-in"

    page = text(clinician_client.get(url))
    response = clinician_client.post_form(url, {"patient_id": patient.id, "status": "arrived"})

    assert "This session is cancelled, so nobody is checked in for it." in page
    assert 'name="status"' not in person_item(page, patient)
    assert response.status_code == 422
    assert attendance_of(db, patient) is None


# The one-on-one wish has its own form


def test_the_one_on_one_wish_is_saved_by_the_script_with_a_json_answer(
    db, clinician_client, session_id, patient
):
    url = f"/sessions/{session_id}/one-on-one"

    response = clinician_client.post_form(
        url,
        {"patient_id": patient.id, "wants_one_on_one": "yes"},
        headers={"Accept": "application/json"},
    )

    assert response.status_code == 200
    assert response.get_json() == {"message": "Saved", "wants_one_on_one": True}
    attendance = attendance_of(db, patient)
    assert (attendance.wants_one_on_one, attendance.check_in) == (True, None)
    assert updates_audited(db, "attendance") == 1

    unreadable = clinician_client.post_form(
        url, {"patient_id": "x", "wants_one_on_one": "yes"}, headers={"Accept": "application/json"}
    )
    assert unreadable.status_code == 422 and "could not be read" in unreadable.get_json()["message"]


def test_the_one_on_one_wish_saves_without_the_script_and_comes_back_to_the_card(
    db, clinician_client, session_id, patient
):
    page = text(clinician_client.get(f"/sessions/{session_id}/check-in"))
    item = person_item(page, patient)
    assert f'action="/sessions/{session_id}/one-on-one"' in item
    assert re.search(r'<button type="submit"[^>]*>Save<span class="visually-hidden">', item)
    assert 'role="status" aria-live="polite" data-checkin-status' in item

    response = clinician_client.post_form(
        f"/sessions/{session_id}/one-on-one", {"patient_id": patient.id, "wants_one_on_one": "no"}
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/sessions/{session_id}/check-in#p{patient.id}")
    page = text(clinician_client.get(response.headers["Location"]))
    assert "Saved: Pat I., one-on-one today: no." in page
    assert '<option value="no" selected>No</option>' in person_item(page, patient)
    assert attendance_of(db, patient).wants_one_on_one is False


def test_the_check_in_page_loads_its_script_from_the_app_itself(clinician_client, session_id):
    page = text(clinician_client.get(f"/sessions/{session_id}/check-in"))
    script = clinician_client.get("/static/checkin.js")

    assert '<script src="/static/checkin.js" defer></script>' in page
    assert script.status_code == 200 and "data-checkin-autosave" in script.get_data(as_text=True)


# Weights in the site's unit


def test_a_pounds_site_enters_and_shows_weights_in_pounds_and_stores_kilograms(
    db, site, clinician_client, session_id, patient
):
    site.weight_unit = "lb"
    db.session.commit()
    check_in_url = f"/sessions/{session_id}/check-in"

    item = person_item(text(clinician_client.get(check_in_url)), patient)
    assert f'<label for="w-{patient.id}">Weight (lb)</label>' in item
    assert 'name="weight_unit" value="lb"' in item and 'min="45" max="770"' in item

    too_light = clinician_client.post_form(
        f"/sessions/{session_id}/vitals",
        {"patient_id": patient.id, "weight": "30", "weight_unit": "lb", "source": "staff"},
    )
    assert too_light.status_code == 422
    assert "The weight should be in pounds, between 45 and 770." in text(too_light)
    assert attendance_of(db, patient) is None

    saved = clinician_client.post_form(
        f"/sessions/{session_id}/vitals",
        {"patient_id": patient.id, "weight": "180", "weight_unit": "lb", "source": "staff"},
        follow_redirects=True,
    )

    item = person_item(text(saved), patient)
    assert 'name="weight" value="180.0"' in item
    assert "Vitals: 180.0 lb (staff)" in item
    assert str(attendance_of(db, patient).weight_kg) == "81.65"


def test_a_kilograms_site_enters_weights_in_kilograms(db, clinician_client, session_id, patient):
    item = person_item(text(clinician_client.get(f"/sessions/{session_id}/check-in")), patient)
    assert f'<label for="w-{patient.id}">Weight (kg)</label>' in item

    too_heavy = clinician_client.post_form(
        f"/sessions/{session_id}/vitals",
        {"patient_id": patient.id, "weight": "400", "weight_unit": "kg", "source": "staff"},
    )

    assert too_heavy.status_code == 422
    assert "The weight should be in kilograms, between 20 and 350." in text(too_heavy)


# The sign-in sheet lies where patients sign


def test_the_sign_in_sheet_shows_names_only_as_members_share_them_and_no_vitals(
    db, clinician_client, create_group, site, coordinator, create_user
):
    group = create_group(site)
    sharing = create_user(PATIENT, given_name="Rosa", family_name="Lopez")
    private = create_user(PATIENT, given_name="Omar", family_name="Haddad")
    unasked = create_user(PATIENT, given_name="Ann", family_name="Zimmer")
    for person in (sharing, private, unasked):
        services.enrol(group, person, actor=coordinator)
    services.set_share_name(services.current_membership(group, sharing), True, actor=sharing)
    services.set_share_name(services.current_membership(group, private), False, actor=private)
    group_session = under_way(db, next_session(db, group))
    for person in (sharing, private):
        attendance = rules.attendance_for_check_in(group_session, person, actor=coordinator)
        rules.record_vitals(
            attendance, weight=97, systolic=151, diastolic=97, source="staff", actor=coordinator
        )
    db.session.commit()

    sheet = text(clinician_client.get(f"/sessions/{group_session.id}/sign-in-sheet"))
    check_in_page = text(clinician_client.get(f"/sessions/{group_session.id}/check-in"))

    body = sheet.split('<table class="sign-in-sheet">')[1].split("</table>")[0]
    assert "Rosa L." in body
    for hidden in ("Omar", "Haddad", "Ann", "Zimmer", "Lopez", "@clinic.example.org"):
        assert hidden not in body
    assert body.count("Name not shown") == 2
    assert "Weight" not in body and "Blood pressure" not in body
    assert "97" not in body and "151" not in body
    # Staff find who signed which numbered line on the check-in page.
    lines = {
        person: re.search(
            r'<span class="badge">Sheet line (\d+)</span>', person_item(check_in_page, person)
        ).group(1)
        for person in (sharing, private, unasked)
    }
    for person, number in lines.items():
        cell = rf'<tr><td class="sheet__number">{number}</td><td>(.*?)</td>'
        row = re.search(cell, body).group(1)
        assert ("Rosa L." in row) == (person is sharing)
