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

WHEN = r"(\d\d:\d\d|\d\d \w{3} \d{4}, \d\d:\d\d)"


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


@pytest.fixture
def session_id(db, create_group, site, coordinator, patient):
    """The next session of a group whose one member is ``patient``."""
    group = create_group(site)
    services.enrol(group, patient, actor=coordinator)
    db.session.commit()
    return next_session(db, group).id


def test_changing_a_check_in_without_a_reason_is_refused_and_nothing_changes(
    db, clinician_client, session_id, patient
):
    url = f"/sessions/{session_id}/check-in"
    clinician_client.post_form(url, {"patient_id": patient.id, "status": "no_show"})

    response = clinician_client.post_form(
        url, {"patient_id": patient.id, "status": "late", "reason": "  "}
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{url}#p{patient.id}")
    page = text(clinician_client.get(url))
    assert (
        "Pat I. is checked in as No-show. To change it to Late, in person, "
        "give a reason for the correction." in page
    )
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
    vitals = {"patient_id": patient.id, "weight_kg": "82.5", "systolic": "148", "diastolic": "92"}
    clinician_client.post_form(url, {**vitals, "source": "staff"})
    page = text(clinician_client.get(f"/sessions/{session_id}/check-in"))
    item = person_item(page, patient)
    assert f'<label for="vwhy-{patient.id}">Reason, if you change recorded vitals</label>' in item
    assert '<option value="staff" selected>Staff</option>' in item

    refused = clinician_client.post_form(
        url, {**vitals, "systolic": "132", "diastolic": "84", "source": "staff"}
    )
    assert refused.status_code == 302
    page = text(clinician_client.get(refused.headers["Location"]))
    assert "already has vitals recorded (82.5 kg, BP 148/92)" in page
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
        url,
        {"patient_id": patient.id, "status": "excused", "reason": "x" * 301},
        follow_redirects=True,
    )

    assert "Field cannot be longer than 300 characters." in text(response)
    assert attendance_of(db, patient).check_in == "no_show"
    assert entries(db) == 1


def test_the_check_in_page_runs_as_many_queries_with_histories_for_12_people_as_for_3(
    db, coordinator_client, create_group, site, coordinator, create_user, count_queries
):
    counts = []
    for size in (3, 12):
        group = create_group(site)
        group_session = next_session(db, group)
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
                weight_kg=80,
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
