"""The one-on-one planner page and the run sheet over HTTP: who may read and change them,
what they show, refusals with a clear message and nothing saved, and fixed query counts."""

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.audit import AuditEvent
from groupvisits.encounters.models import BY_HAND, PLANNED, SEEN, OneOnOneSlot
from groupvisits.roster.models import Attendance
from groupvisits.team.models import StaffAssignment
from groupvisits.timeutil import utcnow
from tests.encounter_factories import add_attendance, add_slot, assign
from tests.unit.test_slot_services import (
    START,
    assert_no_overlaps,
    at,
    make_clinic,
    make_session,
    stored_slots,
)

#: A window 17:15-18:15 with a "Check-in circle" (17:45-17:55) when nobody leaves.
GUARDED_PLAN = [
    ("arrival", "Arrival", 15),
    ("one_on_one", "One-on-ones", 30),
    ("group", "Check-in circle", 10, True),
    ("one_on_one", "More one-on-ones", 20),
    ("wrap_up", "Wrap-up", 15),
]


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def clinic(db, site, create_user, create_group, coordinator):
    return make_clinic(db, site, create_user, create_group, coordinator, steps=GUARDED_PLAN)


@pytest.fixture
def planned(db, clinic, sign_in_as):
    response = sign_in_as(clinic.coordinator).post_form(_url(clinic, "/plan"))
    assert response.status_code == 302
    return stored_slots(db, clinic.group_session)


def _url(clinic, tail: str = "") -> str:
    return f"/sessions/{clinic.group_session.id}/one-on-ones{tail}"


def _snapshot(db, clinic):
    return [
        (s.id, s.patient_id, s.provider_id, s.starts_at, s.ends_at, s.status, s.placed_by)
        for s in stored_slots(db, clinic.group_session)
    ]


# Planning from the page


def test_the_coordinator_plans_every_visit_from_the_page(db, clinic, sign_in_as):
    client = sign_in_as(clinic.coordinator)

    before = _text(client.get(_url(clinic)))
    response = client.post_form(_url(clinic, "/plan"))
    page = _text(client.get(response.headers["Location"]))

    assert "Plan every one-on-one" in before
    assert "Patients without a visit yet" in before
    assert all(p.full_name in before for p in clinic.patients)
    assert response.status_code == 302
    assert "Planned: 12 visits placed." in page
    stored = stored_slots(db, clinic.group_session)
    assert len(stored) == 12
    assert_no_overlaps(stored)
    assert not any(s.starts_at < at(17, 55) and at(17, 45) < s.ends_at for s in stored)
    assert "Nothing: every patient expected has a visit" in page
    assert "5:15 PM–5:25 PM" in page
    for resident in clinic.residents:
        assert f'id="provider-{resident.id}"' in page
    assert "Precepting: " + clinic.attending.full_name in page
    assert f'href="/sessions/{clinic.group_session.id}"' in page  # back to the session


def test_each_provider_table_lists_visits_in_time_order(db, clinic, planned, sign_in_as):
    page = _text(sign_in_as(clinic.coordinator).get(_url(clinic)))

    for resident in clinic.residents:
        section = page.split(f'id="provider-{resident.id}"')[1].split("</section>")[0]
        ids = [int(i) for i in re.findall(r'<tr id="slot-(\d+)"', section)]
        theirs = sorted(
            (s for s in planned if s.provider_id == resident.id), key=lambda s: s.starts_at
        )
        assert ids == [s.id for s in theirs]


def test_a_session_provider_and_the_preceptor_plan_too(db, clinic, sign_in_as):
    resident_client = sign_in_as(clinic.residents[0])
    assert "Plan every one-on-one" in _text(resident_client.get(_url(clinic)))
    assert resident_client.post_form(_url(clinic, "/plan")).status_code == 302

    preceptor = sign_in_as(clinic.attending)
    assert preceptor.post_form(_url(clinic, "/replan")).status_code == 302
    assert len(stored_slots(db, clinic.group_session)) == 12


def test_another_clinician_of_the_site_reads_but_cannot_change(
    db, clinic, planned, create_user, sign_in_as
):
    client = sign_in_as(create_user(CLINICIAN))
    before = _snapshot(db, clinic)
    slot = planned[0]

    page = _text(client.get(_url(clinic)))
    refused = [
        client.post_form(_url(clinic, "/plan")),
        client.post_form(
            _url(clinic, f"/{slot.id}/move"),
            {"provider_id": clinic.residents[2].id, "start_time": "18:00"},
        ),
        client.post_form(_url(clinic, f"/{slot.id}/seen")),
        client.post_form(
            _url(clinic, "/needs"), {"patient_id": slot.patient_id, "discipline": "pharmacist"}
        ),
    ]

    assert "You can read this plan" in page
    assert "Plan every one-on-one" not in page and "Move or swap" not in page
    assert slot.patient.full_name in page
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert _snapshot(db, clinic) == before


def test_patients_and_other_clinics_cannot_open_the_pages(
    db, clinic, planned, create_user, other_site, sign_in_as, client
):
    patient_client = sign_in_as(clinic.patients[0])
    outsider = sign_in_as(create_user(COORDINATOR, sites=[other_site]))
    session_page = f"/sessions/{clinic.group_session.id}"

    assert patient_client.get(_url(clinic)).status_code == 403
    assert patient_client.get(f"{session_page}/run-sheet").status_code == 403
    assert outsider.get(_url(clinic)).status_code == 404
    assert outsider.get(f"{session_page}/run-sheet").status_code == 404
    assert outsider.post_form(_url(clinic, "/plan")).status_code == 404
    anonymous = client.get(_url(clinic))
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


# Changes by hand


def test_a_visit_moves_by_hand_and_the_next_plan_keeps_it(db, clinic, planned, sign_in_as):
    client = sign_in_as(clinic.coordinator)
    slot = planned[0]

    response = client.post_form(
        _url(clinic, f"/{slot.id}/move"),
        {"provider_id": clinic.residents[2].id, "start_time": "18:05"},
    )
    client.post_form(_url(clinic, "/plan"))

    assert response.status_code == 302 and response.headers["Location"].endswith(f"#slot-{slot.id}")
    moved = next(s for s in stored_slots(db, clinic.group_session) if s.id == slot.id)
    assert (moved.provider_id, moved.starts_at, moved.placed_by) == (
        clinic.residents[2].id,
        at(18, 5),
        BY_HAND,
    )
    page = _text(client.get(_url(clinic)))
    assert "Placed by hand" in page


def test_two_patients_swap_from_the_page(db, clinic, planned, sign_in_as):
    first, second = planned[0], planned[-1]
    was = {s.id: (s.provider_id, s.starts_at) for s in (first, second)}

    response = sign_in_as(clinic.coordinator).post_form(
        _url(clinic, f"/{first.id}/swap"), {"other_slot_id": second.id}
    )

    assert response.status_code == 302
    after = {s.id: (s.provider_id, s.starts_at) for s in stored_slots(db, clinic.group_session)}
    assert after[first.id] == was[second.id] and after[second.id] == was[first.id]


def test_seen_and_missed_from_the_page(db, clinic, planned, sign_in_as):
    client = sign_in_as(clinic.residents[0])
    mine = [s for s in planned if s.provider_id == clinic.residents[0].id]

    seen = client.post_form(_url(clinic, f"/{mine[0].id}/seen"))
    too_early = client.post_form(_url(clinic, f"/{mine[1].id}/missed"))

    assert seen.status_code == 302
    assert too_early.status_code == 422
    assert "can be marked missed from then on" in _text(too_early)
    statuses = {s.id: s.status for s in stored_slots(db, clinic.group_session)}
    assert (statuses[mine[0].id], statuses[mine[1].id]) == (SEEN, PLANNED)


def test_hours_and_needs_are_set_from_the_page(db, clinic, sign_in_as, create_user):
    client = sign_in_as(clinic.coordinator)
    pharmacist = create_user(CLINICIAN, discipline="pharmacist")
    assign(clinic.group_session, pharmacist)
    needing = clinic.patients[3]

    hours = client.post_form(
        _url(clinic, "/hours"),
        {"provider_id": clinic.residents[0].id, "available_from": "17:35", "available_until": ""},
    )
    need = client.post_form(
        _url(clinic, "/needs"), {"patient_id": needing.id, "discipline": "pharmacist"}
    )
    client.post_form(_url(clinic, "/plan"))

    assert (hours.status_code, need.status_code) == (302, 302)
    stored = stored_slots(db, clinic.group_session)
    assert all(s.starts_at >= at(17, 35) for s in stored if s.provider_id == clinic.residents[0].id)
    assert next(s for s in stored if s.patient_id == needing.id).provider_id == pharmacist.id
    audited = db.session.scalars(
        select(AuditEvent.patient_id).where(
            AuditEvent.object_type == "attendance", AuditEvent.action == "update"
        )
    ).all()
    assert audited == [needing.id]


# Bad input: a 4xx with a clear message, nothing saved


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"start_time": "16:50"}, 422, "does not fit in the one-on-one time, 5:15 PM–6:15 PM"),
        ({"start_time": "18:10"}, 422, "does not fit in the one-on-one time"),
        ({"start_time": "17:40"}, 422, "5:45 PM–5:55 PM is “Check-in circle”"),
        ({"start_time": "half past five"}, 422, "Starts at: Give a time of day, such as 17:30."),
        ({"provider_id": "99999"}, 422, "Choose a provider on this session's team."),
        ({"provider_id": "x"}, 422, "Provider: Choose a provider on this session's team."),
        ({"provider_id": "attending"}, 422, "Choose a provider on this session's team."),
        ({"provider_id": "outsider"}, 422, "Choose a provider on this session's team."),
        ({"start_time": "17:20", "provider_id": "busy"}, 409, "already has a one-on-one visit"),
    ],
)
def test_a_move_that_breaks_a_rule_gets_a_clear_message_and_saves_nothing(
    db, clinic, planned, sign_in_as, create_user, form, status, message
):
    slot = planned[0]
    before = _snapshot(db, clinic)
    busy = next(
        s for s in planned if s.provider_id != slot.provider_id and s.starts_at == at(17, 15)
    )
    people = {
        "attending": clinic.attending.id,
        "outsider": create_user(CLINICIAN).id,
        "busy": busy.provider_id,
    }
    data = {"provider_id": str(clinic.residents[1].id), "start_time": "18:05"} | form
    data["provider_id"] = people.get(data["provider_id"], data["provider_id"])

    response = sign_in_as(clinic.coordinator).post_form(_url(clinic, f"/{slot.id}/move"), data)

    assert response.status_code == status
    page = _text(response)
    assert message in page
    assert "Not saved" in page and 'role="alert"' in page
    assert _snapshot(db, clinic) == before


def test_another_sessions_patient_or_visit_is_refused(
    db, clinic, planned, sign_in_as, site, create_group, create_user
):
    other = make_session(create_group(site, rule=None))
    stranger = create_user(PATIENT)
    add_attendance(other, stranger)
    other_resident = create_user(CLINICIAN, discipline="resident", training_year=3)
    assign(other, other_resident)
    theirs = add_slot(other, stranger, other_resident, START)
    client = sign_in_as(clinic.coordinator)
    before = _snapshot(db, clinic)

    need = client.post_form(
        _url(clinic, "/needs"), {"patient_id": stranger.id, "discipline": "pharmacist"}
    )
    swap = client.post_form(_url(clinic, f"/{planned[0].id}/swap"), {"other_slot_id": theirs.id})
    in_url = client.post_form(
        _url(clinic, f"/{theirs.id}/move"),
        {"provider_id": clinic.residents[0].id, "start_time": "17:15"},
    )
    too_big = client.post_form(_url(clinic, f"/{2**40}/seen"))

    assert need.status_code == 422 and "not on this session's list" in _text(need)
    assert swap.status_code == 422 and "belongs to another session" in _text(swap)
    assert in_url.status_code == 422 and "belongs to another session" in _text(in_url)
    assert too_big.status_code == 404
    assert _snapshot(db, clinic) == before
    db.session.expire_all()
    assert db.session.get(Attendance, _attendance_id(db, other, stranger)).one_on_one_with is None
    assert db.session.get(OneOnOneSlot, theirs.id).starts_at == START


def _attendance_id(db, group_session, patient):
    return db.session.scalar(
        select(Attendance.id).where(
            Attendance.session_id == group_session.id, Attendance.patient_id == patient.id
        )
    )


def test_bad_hours_are_refused(db, clinic, sign_in_as):
    client = sign_in_as(clinic.coordinator)

    backwards = client.post_form(
        _url(clinic, "/hours"),
        {
            "provider_id": clinic.residents[0].id,
            "available_from": "18:00",
            "available_until": "17:30",
        },
    )
    not_on_team = client.post_form(
        _url(clinic, "/hours"), {"provider_id": clinic.attending.id, "available_from": "17:30"}
    )

    assert backwards.status_code == 422 and "must come after" in _text(backwards)
    assert not_on_team.status_code == 422
    assert "Choose a provider on this session's team." in _text(not_on_team)
    db.session.expire_all()
    hours = db.session.scalars(select(StaffAssignment.available_from)).all()
    assert set(hours) == {None}


def test_a_session_without_a_pull_out_step_says_so(db, site, create_group, coordinator, sign_in_as):
    group_session = make_session(
        create_group(site, rule=None),
        steps=[("arrival", "Arrival", 15), ("group", "Circle", 60, True)],
    )
    client = sign_in_as(coordinator)

    page = client.get(f"/sessions/{group_session.id}/one-on-ones")
    plan = client.post_form(f"/sessions/{group_session.id}/one-on-ones/plan")

    assert page.status_code == 200
    assert "No step of this session's plan lets patients step out" in _text(page)
    assert "Plan every one-on-one" not in _text(page)
    assert plan.status_code == 422 and "No step of this session's plan" in _text(plan)


# The run sheet


def test_the_run_sheet_lists_each_providers_pull_outs_in_order(db, clinic, planned, sign_in_as):
    response = sign_in_as(clinic.residents[0]).get(f"/sessions/{clinic.group_session.id}/run-sheet")
    page = _text(response)

    assert response.status_code == 200
    assert "encounters.css" in page  # its print rules
    for resident in clinic.residents:
        section = page.split(f'id="run-{resident.id}"')[1].split("</section>")[0]
        theirs = sorted(
            (s for s in planned if s.provider_id == resident.id), key=lambda s: s.starts_at
        )
        names = [s.patient.full_name for s in theirs]
        positions = [section.index(name) for name in names]
        assert positions == sorted(positions) and len(names) == 4
    assert "10-minute visits" in page and ">5:15 PM</td>" in page
    assert f'href="/sessions/{clinic.group_session.id}/one-on-ones"' in page


# Audit and query counts


def test_each_page_audits_every_patient_it_names_once(db, clinic, planned, sign_in_as):
    client = sign_in_as(clinic.residents[1])

    client.get(_url(clinic))
    client.get(f"/sessions/{clinic.group_session.id}/run-sheet")

    for object_type in ("one-on-one plan", "run sheet"):
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == object_type)
        ).all()
        assert sorted(e.patient_id for e in rows) == sorted(p.id for p in clinic.patients)
        assert {(e.actor_id, e.action) for e in rows} == {(clinic.residents[1].id, "view")}


def test_the_pages_take_the_same_queries_for_4_and_12_patients(
    db, site, create_user, create_group, coordinator, sign_in_as, count_queries
):
    counts = {}
    client = sign_in_as(coordinator)
    for size in (4, 12):
        world = make_clinic(db, site, create_user, create_group, coordinator, patients=size)
        base = f"/sessions/{world.group_session.id}"
        assert client.post_form(f"{base}/one-on-ones/plan").status_code == 302
        for page in ("/one-on-ones", "/run-sheet"):
            client.get(base + page)  # first visit: one-off work
            with count_queries() as counter:
                response = client.get(base + page)
            assert response.status_code == 200
            assert "5:15 PM" in _text(response)
            counts[(page, size)] = counter.count
    assert counts[("/one-on-ones", 4)] == counts[("/one-on-ones", 12)], counts
    assert counts[("/run-sheet", 4)] == counts[("/run-sheet", 12)], counts
    print(f"queries: {counts}")


def test_the_page_shows_who_needs_attention_first(db, clinic, planned, sign_in_as, create_user):
    gone = db.session.get(Attendance, _attendance_id(db, clinic.group_session, clinic.patients[0]))
    gone.check_in = "no_show"
    late = create_user(PATIENT, given_name="Lately", family_name="Come")
    add_attendance(clinic.group_session, late, check_in="late", checked_in_at=at(18, 20))
    needy = create_user(PATIENT, given_name="Nadia", family_name="Needs")
    add_attendance(clinic.group_session, needy, one_on_one_with="pharmacist")
    idle = create_user(CLINICIAN, discipline="nurse_practitioner", given_name="Idle")
    assign(clinic.group_session, idle)
    db.session.commit()

    page = _text(sign_in_as(clinic.coordinator).get(_url(clinic)))

    attention = re.sub(
        r"<[^>]+>", "", page.split('id="attention-h"')[1].split('id="providers-h"')[0]
    )
    assert "Left out of the plan" in attention
    assert "Nadia Needs: needs a pharmacist, and no pharmacist is on the team" in attention
    assert "Lately Come: arrives after the last slot" in attention
    assert (
        "Visits to check" in attention
        and "is marked no-show: re-plan to free this time" in attention
    )
    assert "Providers with no visit" in attention and idle.full_name in attention


def test_each_visits_forms_post_to_that_visit(db, clinic, planned, sign_in_as):
    resident = clinic.residents[0]
    page = _text(sign_in_as(resident).get(_url(clinic)))

    for slot in planned:
        for verb in ("seen", "move", "swap"):
            assert f'action="{_url(clinic, f"/{slot.id}/{verb}")}"' in page, (slot.id, verb)
        mine = slot.provider_id == resident.id
        assert (f'action="/slots/{slot.id}/note"' in page) == mine
        # A visit is swapped with any other planned one, never with itself.
        swap = re.search(rf'<select id="swap-{slot.id}".*?</select>', page, re.S).group(0)
        assert f'value="{slot.id}"' not in swap
        assert swap.count("<option value=") == len(planned)  # "Choose a visit" and the others


def test_once_the_one_on_one_time_is_over_only_seen_or_missed_remain_to_record(
    db, clinic, planned, sign_in_as
):
    group_session = clinic.group_session
    shift = group_session.starts_at - (utcnow() - timedelta(days=7))
    for slot in stored_slots(db, group_session):
        slot.starts_at, slot.ends_at = slot.starts_at - shift, slot.ends_at - shift
    group_session.starts_at -= shift
    group_session.ends_at -= shift
    db.session.commit()

    page = _text(sign_in_as(clinic.coordinator).get(_url(clinic)))

    assert "The one-on-one time is over" in page
    assert 'name="discipline"' not in page and 'name="available_from"' not in page
    assert page.count(">Any provider<") == 0 and page.count("Any provider") >= 1
    for slot in planned:
        assert f'action="{_url(clinic, f"/{slot.id}/missed")}"' in page
