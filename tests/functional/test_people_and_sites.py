"""Coordinators manage people and sites; patients keep their own details; dashboards per role."""

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT, User
from groupvisits.audit import AuditEvent
from groupvisits.errors import ValidationFailed
from groupvisits.sites import services as sites
from groupvisits.sites.models import Site
from tests.conftest import DEFAULT_PASSWORD


def reload(db, model, id_):
    """A fresh copy of a row, as the requests committed it."""
    db.session.rollback()
    return db.session.get(model, id_)


def count_users(db) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(User))


def listed_names(page: str) -> list[str]:
    """The ``Family, Given`` names linked in the people table."""
    return re.findall(r'<a href="/people/\d+">([^<]+)</a>', page)


def text(response) -> str:
    return response.get_data(as_text=True)


# Listing people


def test_list_shows_people_of_the_coordinators_sites_only(
    coordinator_client, create_user, other_site
):
    create_user(PATIENT, given_name="Hana", family_name="Here")
    create_user(PATIENT, given_name="Theo", family_name="There", sites=[other_site])
    names = listed_names(text(coordinator_client.get("/people/")))
    assert "Here, Hana" in names
    assert "There, Theo" not in names


def test_list_searches_by_name(coordinator_client, create_user):
    create_user(PATIENT, given_name="Rosa", family_name="Parkes")
    create_user(PATIENT, given_name="Ravi", family_name="Shankar")
    create_user(PATIENT, given_name="Ana", family_name="Gomez", preferred_name="Rosie")
    assert listed_names(text(search_people(coordinator_client, "parkes"))) == ["Parkes, Rosa"]
    assert sorted(listed_names(text(search_people(coordinator_client, "ros")))) == [
        "Gomez, Ana",
        "Parkes, Rosa",
    ]
    page = text(search_people(coordinator_client, "nobody-like-this"))
    assert listed_names(page) == []
    assert "No one matches." in page


def search_people(client, words: str, role: str = ""):
    """Post the people search, as the Find button does, and follow it to the list."""
    response = client.post_form("/people/find", {"q": words, "role": role})
    assert response.status_code == 302
    assert not words or words not in response.headers["Location"]
    return client.get(response.headers["Location"])


def test_the_people_search_stays_through_the_pages_until_cleared(coordinator_client, create_user):
    for n in range(55):
        create_user(PATIENT, given_name=f"Paged{n:02}", family_name="Pagination")
    create_user(PATIENT, given_name="Other", family_name="Person")
    first = text(search_people(coordinator_client, "paginat", role="patient"))
    assert "55 people matching “paginat”, page 1 of 2." in first
    assert 'href="/people/?role=patient&amp;page=2"' in first
    second = text(coordinator_client.get("/people/?role=patient&page=2"))
    assert len(listed_names(second)) == 5
    assert "Person, Other" not in second

    cleared = text(search_people(coordinator_client, "", role="patient"))
    assert "matching" not in cleared
    assert int(re.search(r"(\d+) people, page 1 of 2", cleared).group(1)) > 55


def test_list_filters_by_role(coordinator_client, coordinator, create_user):
    create_user(PATIENT, given_name="Pia", family_name="Patient")
    create_user(CLINICIAN, given_name="Cai", family_name="Clinician")
    assert listed_names(text(coordinator_client.get("/people/?role=clinician"))) == [
        "Clinician, Cai"
    ]
    assert listed_names(text(coordinator_client.get("/people/?role=patient"))) == ["Patient, Pia"]
    everyone = listed_names(text(coordinator_client.get("/people/")))
    assert len(everyone) == 3


def test_list_of_sixty_patients_has_two_pages(coordinator_client, create_user):
    for n in range(60):
        create_user(PATIENT, given_name="Member", family_name=f"Zz{n:02d}")
    first = text(coordinator_client.get("/people/?role=patient"))
    second = text(coordinator_client.get("/people/?role=patient&page=2"))
    assert "60 people, page 1 of 2" in first
    assert "Next page" in first
    assert "page 2 of 2" in second
    assert "Previous page" in second
    first_names, second_names = listed_names(first), listed_names(second)
    assert len(first_names) == 50
    assert len(second_names) == 10
    assert set(first_names).isdisjoint(second_names)


def test_people_list_runs_the_same_number_of_queries_for_5_and_40_patients(
    coordinator_client, create_user, other_site, count_queries
):
    for n in range(5):
        create_user(PATIENT, family_name=f"Few{n}")
    coordinator_client.get("/people/")  # warm up: the first request sets up the engine
    with count_queries() as few:
        assert coordinator_client.get("/people/").status_code == 200
    for n in range(35):
        create_user(PATIENT, family_name=f"Many{n}")
    with count_queries() as many:
        response = coordinator_client.get("/people/")
    assert response.status_code == 200
    assert len(listed_names(text(response))) == 41
    assert few.count == many.count, many.statements


# Adding and editing people


def clinician_form(site, **changes) -> dict:
    data = {
        "role": CLINICIAN,
        "given_name": "Rhea",
        "family_name": "Resident",
        "email": "rhea@example.org",
        "sites": [site.id],
        "discipline": "resident",
    }
    data.update(changes)
    return data


def test_adding_a_resident_without_training_year_is_refused(coordinator_client, site, db):
    before = count_users(db)
    response = coordinator_client.post_form("/people/new", clinician_form(site))
    assert response.status_code == 422
    assert "training year" in text(response)
    assert count_users(db) == before


def test_adding_a_resident_with_training_year_saves_them(coordinator_client, site, db):
    response = coordinator_client.post_form("/people/new", clinician_form(site, training_year=2))
    assert response.status_code == 302
    db.session.rollback()
    rhea = db.session.scalar(select(User).where(User.email == "rhea@example.org"))
    assert rhea.role == CLINICIAN
    assert rhea.discipline == "resident"
    assert rhea.training_year == 2
    assert rhea.site_ids == {site.id}
    assert response.headers["Location"].endswith(f"/people/{rhea.id}")


def test_adding_a_patient_with_an_email_already_used_is_refused(
    coordinator_client, site, create_user, db
):
    create_user(PATIENT, email="taken@example.org")
    before = count_users(db)
    response = coordinator_client.post_form(
        "/people/new",
        {
            "role": PATIENT,
            "given_name": "Second",
            "family_name": "Person",
            "email": "Taken@Example.org",
            "sites": [site.id],
        },
    )
    assert response.status_code == 422
    assert "already an account" in text(response)
    assert count_users(db) == before


def test_coordinator_edits_a_persons_email_and_sites(create_user, sign_in_as, site, other_site, db):
    coordinator = create_user(COORDINATOR, sites=[site, other_site])
    client = sign_in_as(coordinator)
    patient = create_user(PATIENT, given_name="Edda", family_name="Edit", sites=[site])
    response = client.post_form(
        f"/people/{patient.id}/edit",
        {
            "role": PATIENT,
            "given_name": "Edda",
            "family_name": "Edit",
            "email": "Edda.New@Example.org",
            "sites": [other_site.id],
            "date_of_birth": "1970-01-02",
            "preferred_language": "Spanish",
        },
    )
    assert response.status_code == 302
    edda = reload(db, User, patient.id)
    assert edda.email == "edda.new@example.org"
    assert edda.site_ids == {other_site.id}
    assert edda.patient_profile.date_of_birth == date(1970, 1, 2)
    assert edda.patient_profile.preferred_language == "Spanish"
    assert "edda.new@example.org" in text(client.get(f"/people/{patient.id}"))


def test_coordinator_cannot_add_a_person_to_a_site_they_do_not_coordinate(
    coordinator_client, other_site, db
):
    before = count_users(db)
    response = coordinator_client.post_form(
        "/people/new",
        {
            "role": PATIENT,
            "given_name": "Sneaky",
            "family_name": "Add",
            "email": "sneaky@example.org",
            "sites": [other_site.id],
        },
    )
    assert response.status_code == 422
    assert count_users(db) == before
    assert db.session.scalar(select(User).where(User.email == "sneaky@example.org")) is None


def test_coordinator_cannot_move_a_person_to_a_site_they_do_not_coordinate(
    coordinator_client, patient, site, other_site, db
):
    response = coordinator_client.post_form(
        f"/people/{patient.id}/edit",
        {
            "role": PATIENT,
            "given_name": patient.given_name,
            "family_name": patient.family_name,
            "email": patient.email,
            "sites": [site.id, other_site.id],
        },
    )
    assert response.status_code == 422
    assert reload(db, User, patient.id).site_ids == {site.id}


def test_deactivating_a_person_ends_their_open_sign_in(
    app, coordinator_client, sign_in_as, patient, db
):
    patient_browser = sign_in_as(patient)
    assert patient_browser.get("/profile").status_code == 200

    response = coordinator_client.post_form(f"/people/{patient.id}/active", {"active": "0"})
    assert response.status_code == 302
    assert "can no longer sign in" in text(coordinator_client.get(f"/people/{patient.id}"))
    assert reload(db, User, patient.id).active is False

    refused = patient_browser.get("/profile")
    assert refused.status_code == 302
    assert refused.headers["Location"].startswith("/login")
    again = app.test_client().post_form(
        "/login", {"email": patient.email, "password": DEFAULT_PASSWORD}
    )
    assert again.status_code == 422


def test_reactivated_person_can_sign_in_again(coordinator_client, sign_in_as, patient, db):
    coordinator_client.post_form(f"/people/{patient.id}/active", {"active": "0"})
    response = coordinator_client.post_form(f"/people/{patient.id}/active", {"active": "1"})
    assert response.status_code == 302
    assert reload(db, User, patient.id).active is True
    assert sign_in_as(patient).get("/profile").status_code == 200


def test_coordinator_cannot_deactivate_themself(coordinator_client, coordinator, db):
    response = coordinator_client.post_form(
        f"/people/{coordinator.id}/active", {"active": "0"}, follow_redirects=True
    )
    assert "You cannot deactivate your own account." in text(response)
    assert reload(db, User, coordinator.id).active is True
    assert coordinator_client.get("/people/").status_code == 200


# Sites


def test_adding_a_site_with_an_unknown_time_zone_is_refused(coordinator_client, db):
    response = coordinator_client.post_form(
        "/sites/new", {"name": "Mars Clinic", "timezone": "Mars/Olympus_Mons"}
    )
    assert response.status_code == 422
    assert "Unknown time zone" in text(response)
    db.session.rollback()
    assert db.session.scalar(select(Site).where(Site.name == "Mars Clinic")) is None


def test_adding_a_site_makes_the_coordinator_serve_it(coordinator_client, coordinator, db):
    response = coordinator_client.post_form(
        "/sites/new",
        {"name": "Northside Clinic", "timezone": "America/Chicago", "address": "1 North St"},
    )
    assert response.status_code == 302
    db.session.rollback()
    northside = db.session.scalar(select(Site).where(Site.name == "Northside Clinic"))
    assert northside.timezone == "America/Chicago"
    assert northside.address == "1 North St"
    assert northside.id in reload(db, User, coordinator.id).site_ids
    assert coordinator_client.get(f"/sites/{northside.id}").status_code == 200


def test_coordinator_edits_a_site(coordinator_client, site, db):
    response = coordinator_client.post_form(
        f"/sites/{site.id}/edit",
        {"name": "Eastside Family Clinic", "timezone": "America/Detroit", "address": "2 East Rd"},
    )
    assert response.status_code == 302
    edited = reload(db, Site, site.id)
    assert (edited.name, edited.timezone, edited.address) == (
        "Eastside Family Clinic",
        "America/Detroit",
        "2 East Rd",
    )


def test_editing_a_site_to_an_unknown_time_zone_keeps_the_old_one(coordinator_client, site, db):
    response = coordinator_client.post_form(
        f"/sites/{site.id}/edit", {"name": site.name, "timezone": "Nowhere/Special"}
    )
    assert response.status_code == 422
    assert "Unknown time zone" in text(response)
    assert reload(db, Site, site.id).timezone == "America/New_York"


def site_form(site, **changes) -> dict:
    """The site form as a coordinator sends it, with ``changes``."""
    fields = {
        "name": site.name,
        "timezone": site.timezone,
        "address": site.address,
        "phone": site.phone,
        "weight_unit": site.weight_unit,
        "locale": site.locale,
    }
    return {**fields, **changes}


def test_coordinator_sets_the_sites_phone_locale_and_weight_unit(coordinator_client, site, db):
    response = coordinator_client.post_form(
        f"/sites/{site.id}/edit",
        site_form(site, phone="  (555) 010-0200   x 204 ", locale="en_GB", weight_unit="lb"),
    )
    assert response.status_code == 302
    edited = reload(db, Site, site.id)
    assert (edited.phone, edited.locale, edited.weight_unit) == (
        "(555) 010-0200 ext. 204",
        "en_GB",
        "lb",
    )
    page = text(coordinator_client.get(f"/sites/{site.id}"))
    assert '<a href="tel:5550100200;ext=204">(555) 010-0200 ext. 204</a>' in page
    assert "English (United Kingdom)" in page and "Pounds (lb)" in page
    assert re.search(r"it is now \w{3} \d{1,2} \w{3} \d{4}, \d{2}:\d{2}\)", page)  # 24-hour
    assert "Eastern Time" in page


@pytest.mark.parametrize(
    "words",
    ["call the front desk", "555-CLINIC", "ask for Maria on 555 0100"],
)
def test_a_phone_number_in_words_is_refused_with_a_clear_message_and_nothing_saved(
    coordinator_client, site, db, words
):
    response = coordinator_client.post_form(
        f"/sites/{site.id}/edit", site_form(site, name="Renamed Clinic", phone=words)
    )
    assert response.status_code == 422
    page = text(response)
    assert "Letters cannot be dialled" in page
    assert 'aria-invalid="true"' in page and f'value="{words}"' in page
    edited = reload(db, Site, site.id)
    assert (edited.name, edited.phone) == ("Eastside Clinic", "")


def test_a_phone_number_with_too_few_digits_is_refused(coordinator_client, site, db):
    response = coordinator_client.post_form(f"/sites/{site.id}/edit", site_form(site, phone="12"))
    assert response.status_code == 422
    assert "7 to 15 digits" in text(response)
    assert reload(db, Site, site.id).phone == ""


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("locale", "xx_YY", "Choose a language and region from the list."),
        ("weight_unit", "stone", "Choose kilograms or pounds."),
    ],
)
def test_an_unlisted_locale_or_weight_unit_is_refused(
    coordinator_client, site, db, field, value, message
):
    response = coordinator_client.post_form(
        f"/sites/{site.id}/edit", site_form(site, **{field: value})
    )
    assert response.status_code == 422
    assert message in text(response)
    edited = reload(db, Site, site.id)
    assert (edited.locale, edited.weight_unit) == ("en_US", "kg")


def test_the_site_form_asks_for_a_telephone_number_and_lists_the_locales(coordinator_client, site):
    page = text(coordinator_client.get(f"/sites/{site.id}/edit"))
    assert re.search(
        r'<input[^>]*id="phone"[^>]*type="tel"|<input[^>]*type="tel"[^>]*id="phone"', page
    )
    assert 'autocomplete="tel"' in page
    assert '<option selected value="en_US">English (United States): 5:00 PM</option>' in page
    assert '<option value="en_GB">English (United Kingdom): 17:00</option>' in page
    assert '<option selected value="kg">Kilograms (kg)</option>' in page


def test_a_new_site_reads_dates_in_us_english_and_weights_in_kilograms(coordinator_client, db):
    response = coordinator_client.post_form(
        "/sites/new", {"name": "Southside Clinic", "timezone": "America/Chicago"}
    )
    assert response.status_code == 302
    db.session.rollback()
    southside = db.session.scalar(select(Site).where(Site.name == "Southside Clinic"))
    assert (southside.locale, southside.weight_unit, southside.phone) == ("en_US", "kg", "")


def test_the_site_lists_name_time_zones_as_people_say_them(coordinator_client, site, other_site):
    page = text(coordinator_client.get("/sites/"))
    assert "Eastern Time" in page
    assert "America/New_York" not in page


def test_the_site_service_refuses_words_for_a_phone_number(db, site, coordinator):
    with pytest.raises(ValidationFailed) as refusal:
        sites.update_site(
            site,
            name=site.name,
            timezone=site.timezone,
            address="",
            phone="front desk",
            actor=coordinator,
        )
    assert refusal.value.field == "phone"
    assert "Letters cannot be dialled" in str(refusal.value)


# The patient's own profile


def test_patient_edits_their_own_details(patient_client, patient, db):
    response = patient_client.post_form(
        "/profile",
        {
            "preferred_name": "Patty",
            "phone": "555-0123",
            "preferred_language": "Portuguese",
            "dietary_needs": ["vegetarian", "other"],
            "dietary_other": "no nuts",
            "accessibility_needs": "large print",
        },
    )
    assert response.status_code == 302
    page = text(patient_client.get("/profile"))
    for value in ("Patty", "555-0123", "Portuguese", "no nuts", "large print"):
        assert value in page
    saved = reload(db, User, patient.id)
    assert saved.preferred_name == "Patty"
    assert saved.phone == "555-0123"
    assert saved.patient_profile.preferred_language == "Portuguese"
    assert saved.patient_profile.dietary_needs == "vegetarian"
    assert saved.patient_profile.dietary_other == "no nuts"
    assert saved.patient_profile.accessibility_needs == "large print"


def test_patient_cannot_change_email_or_date_of_birth_through_profile(patient_client, patient, db):
    email = patient.email
    response = patient_client.post_form(
        "/profile",
        {
            "phone": "555-0456",
            "email": "hijack@example.org",
            "date_of_birth": "2001-01-01",
            "given_name": "Mallory",
            "role": COORDINATOR,
            "medical_record_number": "MRN-1",
        },
    )
    assert response.status_code == 302
    saved = reload(db, User, patient.id)
    assert saved.phone == "555-0456"  # the allowed field is saved
    assert saved.email == email
    assert saved.patient_profile.date_of_birth == date(1960, 5, 17)
    assert saved.given_name == "Pat"
    assert saved.role == PATIENT
    assert saved.patient_profile.medical_record_number is None


# Dashboards


def test_coordinator_dashboard_shows_site_names_and_counts(
    create_user, sign_in_as, site, other_site
):
    coordinator = create_user(COORDINATOR, sites=[site, other_site])
    for _ in range(3):
        create_user(PATIENT, sites=[site])
    create_user(PATIENT, sites=[other_site])
    create_user(CLINICIAN, sites=[site])
    page = text(sign_in_as(coordinator).get("/"))
    assert site.name in page and other_site.name in page
    east = page[page.index(site.name) :]
    west = page[page.index(other_site.name) :]
    assert re.search(r"3 patients.*1 clinicians.*1 coordinators", east, re.S)
    assert re.search(r"1 patients.*0 clinicians.*1 coordinators", west, re.S)


def test_clinician_dashboard_shows_my_upcoming_work(clinician_client):
    page = text(clinician_client.get("/"))
    assert "Sessions at my clinics" in page
    assert "My groups" not in page


def test_patient_dashboard_shows_my_groups(patient_client):
    page = text(patient_client.get("/"))
    assert "My groups" in page
    assert "Sessions at my clinics" not in page


def test_a_person_who_also_works_elsewhere_is_seen_but_not_changed(
    coordinator_client, create_user, site, other_site, db
):
    roaming = create_user(
        CLINICIAN, given_name="Rita", family_name="Roamer", sites=[site, other_site]
    )
    email = roaming.email

    page = coordinator_client.get(f"/people/{roaming.id}")
    changed = coordinator_client.post_form(
        f"/people/{roaming.id}/edit",
        {
            "role": CLINICIAN,
            "discipline": "attending",
            "given_name": "Rita",
            "family_name": "Roamer",
            "email": "taken.over@example.org",
            "sites": [site.id],
        },
    )
    deactivated = coordinator_client.post_form(f"/people/{roaming.id}/active", {"active": "0"})

    assert page.status_code == 200
    assert "Only a coordinator of all their sites can change" in text(page)
    assert f"/people/{roaming.id}/edit" not in page.get_data(as_text=True)
    assert changed.status_code == 403 and deactivated.status_code == 403
    person = reload(db, User, roaming.id)
    assert person.email == email and person.active


def test_a_coordinator_of_all_a_persons_sites_may_change_them(
    create_user, sign_in_as, site, other_site, db
):
    coordinator = create_user(COORDINATOR, sites=[site, other_site])
    roaming = create_user(CLINICIAN, given_name="Rita", sites=[site, other_site])
    client = sign_in_as(coordinator)

    page = client.get(f"/people/{roaming.id}")
    response = client.post_form(f"/people/{roaming.id}/active", {"active": "0"})

    assert f"/people/{roaming.id}/edit" in page.get_data(as_text=True)
    assert response.status_code == 302
    assert not reload(db, User, roaming.id).active


def test_deactivation_needs_an_explicit_answer(coordinator_client, patient, db):
    response = coordinator_client.post_form(f"/people/{patient.id}/active", {})

    assert response.status_code == 400
    assert reload(db, User, patient.id).active


def test_a_changed_email_is_told_to_the_old_address(coordinator_client, patient, site, db):
    from groupvisits.mail.models import OutboxMessage

    old_email = patient.email
    response = coordinator_client.post_form(
        f"/people/{patient.id}/edit",
        {
            "role": PATIENT,
            "given_name": patient.given_name,
            "family_name": patient.family_name,
            "email": "pat.new@example.org",
            "sites": [site.id],
        },
    )
    again = coordinator_client.post_form(
        f"/people/{patient.id}/edit",
        {
            "role": PATIENT,
            "given_name": "Patricia",
            "family_name": patient.family_name,
            "email": "pat.new@example.org",
            "sites": [site.id],
        },
    )

    assert response.status_code == 302 and again.status_code == 302
    (message,) = db.session.scalars(select(OutboxMessage)).all()  # not for the second edit
    assert message.to_address == old_email
    assert message.subject == "Your sign-in email was changed"
    assert "pat.new@example.org" not in message.body  # the old address may be someone else's


# The audit trail of account changes


def account_events(db, patient) -> list[tuple[int | None, str, int, str, int | None]]:
    """(actor, action, patient, object type, object) of the rows requests wrote about a patient."""
    db.session.rollback()
    rows = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.patient_id == patient.id,
            AuditEvent.actor_id.is_not(None),
            AuditEvent.action != "view",
        )
        .order_by(AuditEvent.id)
    )
    return [(r.actor_id, r.action, r.patient_id, r.object_type, r.object_id) for r in rows]


def test_deactivating_and_reactivating_a_patient_each_write_an_audit_row(
    coordinator_client, coordinator, patient, db
):
    coordinator_client.post_form(f"/people/{patient.id}/active", {"active": "0"})
    assert account_events(db, patient) == [
        (coordinator.id, "deactivate", patient.id, "patient", patient.id)
    ]

    coordinator_client.post_form(f"/people/{patient.id}/active", {"active": "1"})

    assert account_events(db, patient) == [
        (coordinator.id, "deactivate", patient.id, "patient", patient.id),
        (coordinator.id, "reactivate", patient.id, "patient", patient.id),
    ]


def test_inviting_a_patient_again_writes_an_audit_row(
    coordinator_client, coordinator, create_user, db
):
    invited = create_user(PATIENT, password=None)

    response = coordinator_client.post_form(f"/people/{invited.id}/invite")

    assert response.status_code == 302
    assert account_events(db, invited) == [
        (coordinator.id, "invite", invited.id, "patient", invited.id)
    ]


def test_adding_a_patient_writes_a_create_and_an_invite_row(
    coordinator_client, coordinator, site, db
):
    response = coordinator_client.post_form(
        "/people/new",
        {
            "role": PATIENT,
            "given_name": "Rosa",
            "family_name": "Diaz",
            "email": "rosa.diaz@mail.example.org",
            "sites": [site.id],
            "date_of_birth": "1958-03-02",
        },
    )

    assert response.status_code == 302
    rosa = db.session.scalar(select(User).where(User.email == "rosa.diaz@mail.example.org"))
    assert account_events(db, rosa) == [
        (coordinator.id, "create", rosa.id, "patient", rosa.id),
        (coordinator.id, "invite", rosa.id, "patient", rosa.id),
    ]
