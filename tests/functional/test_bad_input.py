"""Input no column can keep, or no calendar can show, gets a 4xx and a message; nothing changes."""

import html

import pytest
from sqlalchemy import select

from groupvisits.accounts.models import PATIENT, PatientProfile
from groupvisits.groups.models import GroupPlanSegment
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import Site
from groupvisits.timeutil import utcnow

TOO_BIG = ["2147483648", "9223372036854775808", "99999999999999999999"]


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def next_session(db, group) -> GroupSession:
    return db.session.scalar(
        select(GroupSession)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at > utcnow())
        .order_by(GroupSession.starts_at)
    )


def edit_session(client, group_session, **fields):
    """Post the session's edit form at its current time, with ``fields`` changed."""
    local = group_session.local_start
    data = {
        "date": local.date().isoformat(),
        "start_time": local.strftime("%H:%M"),
        "length_minutes": "120",
    }
    return client.post_form(f"/sessions/{group_session.id}/edit", {**data, **fields})


def test_a_null_character_in_a_form_is_refused_and_nothing_is_saved(db, coordinator_client, site):
    response = coordinator_client.post_form(
        f"/sites/{site.id}/edit",
        {"name": "West\x00side", "timezone": site.timezone, "address": ""},
    )

    assert response.status_code == 400
    assert "null character" in text(response)
    db.session.expire_all()
    assert db.session.get(Site, site.id).name == site.name


def test_a_null_character_in_a_search_is_refused_and_the_page_still_opens(
    coordinator_client, site, create_group
):
    group = create_group(site)
    response = coordinator_client.post_form(f"/groups/{group.id}/roster/find", {"find": "a\x00b"})

    assert response.status_code == 400
    assert coordinator_client.get(f"/groups/{group.id}/roster").status_code == 200


@pytest.mark.parametrize("path", ["/feeds/a%00b.ics", "/feeds/%00/groups/1.ics", "/?x=%00"])
def test_a_null_character_in_an_address_is_refused(client, path):
    assert client.get(path).status_code == 400


@pytest.mark.parametrize("number", TOO_BIG)
def test_an_id_no_table_can_hold_is_not_found(coordinator_client, patient_client, number):
    assert coordinator_client.get(f"/groups/{number}").status_code == 404
    assert coordinator_client.get(f"/people/{number}").status_code == 404
    assert patient_client.post_form(f"/memberships/{number}/withdraw").status_code == 404


@pytest.mark.parametrize("number", TOO_BIG)
def test_ids_too_big_in_forms_and_filters_get_a_message(
    db, coordinator_client, site, create_group, number
):
    group = create_group(site)
    session_id = next_session(db, group).id

    enrolled = coordinator_client.post_form(f"/groups/{group.id}/enrol", {"patient_id": number})
    dropped_in = coordinator_client.post_form(
        f"/sessions/{session_id}/drop-ins", {"patient_id": number}
    )
    checked_in = coordinator_client.post_form(
        f"/sessions/{session_id}/check-in", {"patient_id": number, "status": "arrived"}
    )
    audit = coordinator_client.get(f"/sites/{site.id}/audit?patient={number}")
    people = coordinator_client.get(f"/people/?page={number}")

    assert all(r.status_code < 500 for r in (enrolled, dropped_in, checked_in))
    assert audit.status_code == 400
    assert people.status_code == 404


@pytest.mark.parametrize("day", ["9999-12-30", "1999-12-31", "2100-01-01"])
def test_a_session_moved_beyond_the_calendar_is_refused_and_stays(
    db, coordinator_client, site, create_group, day
):
    group = create_group(site)
    group_session = next_session(db, group)
    starts_at = group_session.starts_at

    response = coordinator_client.post_form(
        f"/sessions/{group_session.id}/edit",
        {"date": day, "start_time": "17:00", "length_minutes": "120"},
    )
    added = coordinator_client.post_form(
        f"/groups/{group.id}/sessions/new",
        {"date": day, "start_time": "23:30", "length_minutes": "120"},
    )

    assert response.status_code == 422 and added.status_code == 422
    assert "Choose a date between 2000 and 2099." in text(response)
    db.session.expire_all()
    assert db.session.get(GroupSession, group_session.id).starts_at == starts_at


@pytest.mark.parametrize(
    "query",
    [
        "until=9999-12-31",
        "since=0001-01-01",
    ],
)
def test_audit_dates_beyond_the_calendar_are_a_400(coordinator_client, site, query):
    response = coordinator_client.get(f"/sites/{site.id}/audit?{query}")
    assert response.status_code == 400
    assert "Choose a date between 2000 and 2099." in text(response)


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("99999999999999999999-01", "Give the month as YYYY-MM"),
        ("2026-99999999999999999999", "Give the month as YYYY-MM"),
        ("0001-01", "Choose a month between 2000 and 2099."),
        ("9999-12", "Choose a month between 2000 and 2099."),
    ],
)
def test_a_month_beyond_the_calendar_is_a_400_with_a_message(
    coordinator_client, site, month, message
):
    response = coordinator_client.get(f"/sites/{site.id}/calendar?month={month}")
    assert response.status_code == 400
    assert message in text(response)


def test_a_medical_record_number_already_in_use_is_refused_on_edit(
    db, coordinator_client, create_user
):
    create_user(PATIENT, given_name="Una", medical_record_number="MRN-1")
    other = create_user(PATIENT, given_name="Vic", medical_record_number="MRN-2")

    response = coordinator_client.post_form(
        f"/people/{other.id}/edit",
        {
            "role": PATIENT,
            "given_name": "Vic",
            "family_name": other.family_name,
            "email": other.email,
            "sites": [site.id for site in other.sites],
            "medical_record_number": " MRN-1 ",
        },
    )

    assert response.status_code in (409, 422)
    assert "Another patient already has that medical record number." in text(response)
    db.session.expire_all()
    profile = db.session.scalar(select(PatientProfile).where(PatientProfile.user_id == other.id))
    assert profile.medical_record_number == "MRN-2"


def test_a_plan_with_more_steps_than_it_holds_is_refused_not_cut(
    db, coordinator_client, site, create_group
):
    group = create_group(site)
    before = db.session.scalars(
        select(GroupPlanSegment.name).where(GroupPlanSegment.group_id == group.id)
    ).all()
    rows = {}
    for i in range(13):
        rows.update(
            {
                f"segments-{i}-kind": "group",
                f"segments-{i}-name": f"Step {i}",
                f"segments-{i}-minutes": "5",
            }
        )

    response = coordinator_client.post_form(f"/groups/{group.id}/plan", rows)

    assert response.status_code == 422
    assert "A plan holds at most 12 steps." in text(response)
    db.session.expire_all()
    after = db.session.scalars(
        select(GroupPlanSegment.name).where(GroupPlanSegment.group_id == group.id)
    ).all()
    assert after == before


def test_a_session_place_naming_a_condition_is_refused_and_stays(
    db, coordinator_client, site, create_group
):
    group = create_group(site)
    group_session = next_session(db, group)

    response = edit_session(
        coordinator_client, group_session, location="Diabetes & HIV education room"
    )

    assert response.status_code == 422
    assert "keep condition words out of them" in text(response)
    db.session.expire_all()
    assert db.session.get(GroupSession, group_session.id).location == ""


def test_a_refused_edit_keeps_nothing_of_it_and_the_reshown_form_is_audited(
    db, coordinator_client, create_user
):
    from groupvisits.accounts.models import User
    from groupvisits.audit import AuditEvent
    from groupvisits.mail.models import OutboxMessage

    create_user(PATIENT, given_name="Una", medical_record_number="MRN-1")
    other = create_user(PATIENT, given_name="Vic", medical_record_number="MRN-2")
    email = other.email
    views_before = len(
        db.session.scalars(select(AuditEvent).where(AuditEvent.action == "view")).all()
    )

    response = coordinator_client.post_form(
        f"/people/{other.id}/edit",
        {
            "role": PATIENT,
            "given_name": "Victor",
            "family_name": other.family_name,
            "email": "vic.new@example.org",
            "sites": [site.id for site in other.sites],
            "medical_record_number": "MRN-1",
        },
    )

    assert response.status_code == 422
    db.session.expire_all()
    person = db.session.get(User, other.id)
    assert (person.email, person.given_name) == (email, "Vic")
    assert db.session.scalars(select(OutboxMessage)).all() == []
    views = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "view")).all()
    assert len(views) == views_before + 1


@pytest.mark.parametrize("steps", [11, 12])
def test_a_plan_as_long_as_a_plan_holds_can_be_opened_again(
    db, coordinator_client, site, create_group, steps
):
    group = create_group(site)
    rows = {}
    for i in range(steps):
        rows.update(
            {
                f"segments-{i}-kind": "group",
                f"segments-{i}-name": f"Step {i}",
                f"segments-{i}-minutes": "5",
            }
        )
    assert coordinator_client.post_form(f"/groups/{group.id}/plan", rows).status_code == 302

    page = coordinator_client.get(f"/groups/{group.id}/plan")

    assert page.status_code == 200
    # Four fields a row: kind, name, minutes, "no pull-outs".
    assert text(page).count('name="segments-') // 4 == min(steps + 2, 12)


def test_a_place_already_in_use_does_not_block_other_edits(
    db, coordinator_client, site, create_group
):
    group = create_group(site)
    group_session = next_session(db, group)
    group_session.location = "Diabetes centre"  # set before places were checked
    db.session.commit()

    response = edit_session(
        coordinator_client, group_session, location="Diabetes centre", theme="Eating out"
    )

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(GroupSession, group_session.id).theme == "Eating out"


def test_the_month_calendar_links_no_month_beyond_the_calendar(coordinator_client, site):
    first = text(coordinator_client.get(f"/sites/{site.id}/calendar?month=2000-01"))
    last = text(coordinator_client.get(f"/sites/{site.id}/calendar?month=2099-12"))

    assert "Previous month" not in first and "month=2000-02" in first
    assert "Next month" not in last and "month=2099-11" in last


def test_a_clash_caught_by_the_database_is_a_409_and_saves_nothing(
    app, db, sign_in_as, coordinator, patient, site, caplog
):
    from groupvisits.accounts.models import user_sites
    from groupvisits.permissions import signed_in

    site_id, patient_id = site.id, patient.id

    @signed_in
    def clashing_write():
        # What a race leaves: a row another request inserted a moment ago.
        db.session.get(Site, site_id).name = "Renamed in the same transaction"
        db.session.execute(user_sites.insert().values(user_id=patient_id, site_id=site_id))
        db.session.commit()
        return "saved"

    app.add_url_rule("/clash", "clash", clashing_write, methods=["POST"])
    client = sign_in_as(coordinator)

    response = client.post_form("/clash")

    assert response.status_code == 409
    assert "clashes with yours at the same moment" in text(response)
    db.session.expire_all()
    assert db.session.get(Site, site.id).name != "Renamed in the same transaction"
    assert "Conflicting write on POST /clash" in caplog.text
    assert "INSERT" not in caplog.text and "user_sites" not in caplog.text  # no statement
