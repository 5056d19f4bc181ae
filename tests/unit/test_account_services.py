"""Account rules without HTTP: creating people, passwords, sign-ins, links and stored instants."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from groupvisits.accounts import passwords
from groupvisits.accounts import services as accounts
from groupvisits.accounts.models import (
    CLINICIAN,
    COORDINATOR,
    PATIENT,
    Invitation,
    PatientProfile,
    SignIn,
    User,
)
from groupvisits.errors import Conflict, InvalidToken, NotAllowed, ValidationFailed
from groupvisits.sites.models import Site
from groupvisits.timeutil import is_valid_timezone, to_local, utcnow
from tests.conftest import DEFAULT_PASSWORD

IDLE = timedelta(minutes=15)


def new_user(site, **fields) -> User:
    """Call the service with sensible defaults for everything not under test."""
    fields.setdefault("email", "new.person@clinic.example.org")
    fields.setdefault("role", PATIENT)
    fields.setdefault("given_name", "Rosa")
    fields.setdefault("family_name", "Lopez")
    fields.setdefault("sites", [site])
    fields.setdefault("actor", None)
    return accounts.create_user(**fields)


def user_count(db) -> int:
    return len(db.session.scalars(select(User)).all())


# create_user


def test_create_user_rejects_an_unknown_role(app, site):
    with pytest.raises(ValidationFailed, match="Unknown role"):
        new_user(site, role="administrator")


def test_create_user_needs_at_least_one_site(app, site):
    with pytest.raises(ValidationFailed, match="at least one site"):
        new_user(site, sites=[])


def test_create_user_clinician_needs_a_discipline(app, site):
    with pytest.raises(ValidationFailed, match="discipline"):
        new_user(site, role=CLINICIAN)
    with pytest.raises(ValidationFailed, match="discipline"):
        new_user(site, role=CLINICIAN, discipline="wizard")


def test_create_user_resident_needs_a_training_year(app, site):
    with pytest.raises(ValidationFailed, match="training year"):
        new_user(site, role=CLINICIAN, discipline="resident")


def test_create_user_keeps_training_year_for_residents_only(app, db, site):
    resident = new_user(
        site, email="r@clinic.example.org", role=CLINICIAN, discipline="resident", training_year=3
    )
    nurse = new_user(
        site,
        email="n@clinic.example.org",
        role=CLINICIAN,
        discipline="registered_nurse",
        training_year=3,
    )
    patient = new_user(site, email="p@clinic.example.org", discipline="pharmacist")
    db.session.commit()

    assert (resident.discipline, resident.training_year) == ("resident", 3)
    assert (nurse.discipline, nurse.training_year) == ("registered_nurse", None)
    assert (patient.discipline, patient.training_year) == (None, None)


def test_create_user_gives_patients_a_profile_and_staff_none(app, db, site):
    patient = new_user(site, email="p@clinic.example.org", medical_record_number="MRN-1")
    coordinator = new_user(site, email="c@clinic.example.org", role=COORDINATOR)
    db.session.commit()

    assert patient.patient_profile.medical_record_number == "MRN-1"
    assert patient.patient_profile.preferred_language == "English"
    assert coordinator.patient_profile is None


def test_create_user_normalises_email_to_lowercase(app, db, site):
    user = new_user(site, email="  Rosa.Lopez@Clinic.Example.ORG ")
    db.session.commit()

    assert user.email == "rosa.lopez@clinic.example.org"
    assert accounts.find_user_by_email("ROSA.LOPEZ@clinic.example.org ") is user


def test_create_user_refuses_an_email_in_use_in_any_case(app, db, site, patient):
    before = user_count(db)

    with pytest.raises(Conflict, match="already an account"):
        new_user(site, email=patient.email.upper())

    assert user_count(db) == before


def test_create_user_refuses_a_duplicate_medical_record_number(app, db, site):
    new_user(site, email="first@clinic.example.org", medical_record_number="RCC-100037")
    db.session.commit()

    with pytest.raises(Conflict, match="medical record number"):
        new_user(site, email="second@clinic.example.org", medical_record_number="RCC-100037")


def test_patients_without_a_medical_record_number_do_not_clash(app, db, site):
    first = new_user(site, email="first@clinic.example.org", medical_record_number="")
    second = new_user(site, email="second@clinic.example.org")
    db.session.commit()

    assert first.patient_profile.medical_record_number is None
    assert second.patient_profile.medical_record_number is None


def test_coordinator_cannot_add_people_to_a_site_they_do_not_serve(
    app, db, coordinator, other_site
):
    before = user_count(db)

    with pytest.raises(NotAllowed, match="sites you coordinate"):
        new_user(other_site, actor=coordinator)

    assert user_count(db) == before


def test_coordinator_cannot_add_to_a_mix_of_their_site_and_another(
    app, coordinator, site, other_site
):
    with pytest.raises(NotAllowed):
        new_user(site, sites=[site, other_site], actor=coordinator)


def test_clinician_cannot_create_accounts(app, clinician, site):
    with pytest.raises(NotAllowed):
        new_user(site, actor=clinician)


def test_coordinator_adds_a_patient_at_their_own_site(app, db, coordinator, site):
    patient = new_user(site, actor=coordinator)
    db.session.commit()

    assert patient.sites == [site]
    assert patient.has_password is False


# update_user


def test_update_user_refuses_an_email_another_person_has(
    app, db, coordinator, patient, create_user
):
    other = create_user(PATIENT, email="taken@clinic.example.org")

    with pytest.raises(Conflict, match="already an account"):
        accounts.update_user(patient, {"email": "Taken@Clinic.example.org"}, actor=coordinator)

    db.session.rollback()
    assert db.session.get(User, patient.id).email != other.email


def test_update_user_may_keep_or_recase_its_own_email(app, db, coordinator, patient):
    accounts.update_user(patient, {"email": patient.email.upper()}, actor=coordinator)
    db.session.commit()

    assert patient.email == patient.email.lower()


def test_update_user_clears_training_year_when_discipline_changes(
    app, db, coordinator, create_user
):
    resident = create_user(CLINICIAN, discipline="resident", training_year=2)

    accounts.update_user(resident, {"discipline": "attending"}, actor=coordinator)

    assert resident.training_year is None


# Passwords


def test_set_password_rotates_stamp_and_ends_every_sign_in(app, db, patient):
    accounts.start_sign_in(patient)
    accounts.start_sign_in(patient)
    db.session.commit()
    old_stamp = patient.security_stamp
    assert accounts.count_open_sign_ins(patient) == 2

    accounts.set_password(patient, "a brand new passphrase")
    db.session.commit()

    assert patient.security_stamp != old_stamp
    assert accounts.count_open_sign_ins(patient) == 0
    reasons = db.session.scalars(select(SignIn.ended_reason).where(SignIn.user_id == patient.id))
    assert set(reasons) == {"password changed"}
    assert accounts.authenticate(patient.email, "a brand new passphrase") is patient
    with pytest.raises(accounts.SignInFailed):
        accounts.authenticate(patient.email, DEFAULT_PASSWORD)


def test_set_password_kills_links_made_before_it(app, db, patient):
    token = passwords.make_token(passwords.PASSWORD_RESET, patient.id, patient.security_stamp)
    assert accounts.user_for_token(passwords.PASSWORD_RESET, token) is patient

    accounts.set_password(patient, "a brand new passphrase")
    db.session.commit()

    with pytest.raises(InvalidToken, match="already been used"):
        accounts.user_for_token(passwords.PASSWORD_RESET, token)


def test_set_password_accepts_the_open_invitation(app, db, coordinator, site):
    newcomer = new_user(site, actor=coordinator)
    accounts.invite(newcomer, actor=coordinator)
    db.session.commit()

    accounts.set_password(newcomer, "a brand new passphrase")
    db.session.commit()

    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == newcomer.id))
    assert invitation.accepted_at is not None
    with pytest.raises(ValidationFailed, match="already set a password"):
        accounts.invite(newcomer, actor=coordinator)


def test_set_password_refuses_a_weak_password_and_keeps_the_old_one(app, db, patient):
    old_hash = patient.password_hash

    with pytest.raises(ValidationFailed):
        accounts.set_password(patient, "short")

    assert patient.password_hash == old_hash


def test_password_strength_refuses_short_passwords(app, patient):
    with pytest.raises(ValidationFailed, match="at least 12 characters"):
        accounts.check_password_strength("eleven char", patient)


def test_password_strength_refuses_common_passwords(app, patient):
    with pytest.raises(ValidationFailed, match="too easy to guess"):
        accounts.check_password_strength("Password1234", patient)


def test_password_strength_refuses_the_email_local_part(app, create_user):
    user = create_user(PATIENT, email="margaretthompson@clinic.example.org")

    with pytest.raises(ValidationFailed, match="too easy to guess"):
        accounts.check_password_strength("MargaretThompson", user)


def test_password_strength_accepts_a_short_sentence(app, patient):
    accounts.check_password_strength("we walk after lunch", patient)


def test_change_password_needs_the_current_password(app, patient):
    with pytest.raises(ValidationFailed, match="current password"):
        accounts.change_password(patient, "not my password", "a brand new passphrase")

    assert passwords.verify_password(patient.password_hash, DEFAULT_PASSWORD)


# authenticate


def test_authenticate_with_right_password_and_any_email_case(app, patient):
    assert accounts.authenticate(f"  {patient.email.upper()} ", DEFAULT_PASSWORD) is patient


def test_authenticate_refuses_a_wrong_password(app, patient):
    with pytest.raises(accounts.SignInFailed, match="do not match"):
        accounts.authenticate(patient.email, DEFAULT_PASSWORD + "!")


def test_authenticate_refuses_an_unknown_email_with_the_same_message(app, patient):
    with pytest.raises(accounts.SignInFailed) as unknown:
        accounts.authenticate("nobody@clinic.example.org", DEFAULT_PASSWORD)
    with pytest.raises(accounts.SignInFailed) as wrong:
        accounts.authenticate(patient.email, "not the password")

    assert str(unknown.value) == str(wrong.value)


def test_authenticate_refuses_an_inactive_account(app, db, coordinator, patient):
    accounts.set_active(patient, False, actor=coordinator)
    db.session.commit()

    with pytest.raises(accounts.SignInFailed):
        accounts.authenticate(patient.email, DEFAULT_PASSWORD)


def test_authenticate_refuses_an_invited_person_without_password(app, db, site):
    newcomer = new_user(site)
    db.session.commit()

    with pytest.raises(accounts.SignInFailed):
        accounts.authenticate(newcomer.email, "")


def test_authenticate_upgrades_a_hash_made_with_cheaper_parameters(app, db, patient):
    patient.password_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(
        DEFAULT_PASSWORD
    )
    db.session.commit()
    app.config["PASSWORD_HASH_TIME_COST"] = 2

    accounts.authenticate(patient.email, DEFAULT_PASSWORD)

    assert "t=2," in patient.password_hash
    assert not passwords.needs_rehash(patient.password_hash)
    assert passwords.verify_password(patient.password_hash, DEFAULT_PASSWORD)


# Signed links


def test_token_round_trip(app):
    token = passwords.make_token(passwords.INVITATION, 42, "stamp-abc")

    assert passwords.read_token(passwords.INVITATION, token) == (42, "stamp-abc")


def test_token_for_one_purpose_fails_for_another(app):
    token = passwords.make_token(passwords.INVITATION, 42, "stamp-abc")

    with pytest.raises(InvalidToken, match="not valid"):
        passwords.read_token(passwords.PASSWORD_RESET, token)


def test_tampered_token_fails(app):
    token = passwords.make_token(passwords.PASSWORD_RESET, 42, "stamp-abc")
    payload, _, signature = token.rpartition(".")
    forged_signature = ("A" if signature[0] != "A" else "B") + signature[1:]

    for forged in (f"{payload}.{forged_signature}", token[:-3], "nonsense", ""):
        with pytest.raises(InvalidToken):
            passwords.read_token(passwords.PASSWORD_RESET, forged)


def test_token_signed_with_another_key_fails(app):
    token = passwords.make_token(passwords.INVITATION, 42, "stamp-abc")
    app.config["SECRET_KEY"] = "a-different-secret-key-of-enough-length"

    with pytest.raises(InvalidToken):
        passwords.read_token(passwords.INVITATION, token)


def test_expired_token_fails_with_its_own_message(app):
    token = passwords.make_token(passwords.PASSWORD_RESET, 42, "stamp-abc")
    app.config["PASSWORD_RESET_MAX_AGE"] = timedelta(seconds=-1)

    with pytest.raises(InvalidToken, match="expired"):
        passwords.read_token(passwords.PASSWORD_RESET, token)


def test_user_for_token_refuses_a_deactivated_account(app, db, coordinator, patient):
    token = passwords.make_token(passwords.PASSWORD_RESET, patient.id, patient.security_stamp)
    accounts.set_active(patient, False, actor=coordinator)
    db.session.commit()

    with pytest.raises(InvalidToken):
        accounts.user_for_token(passwords.PASSWORD_RESET, token)


# Server-side sign-ins


def open_sign_in(db, user) -> tuple[SignIn, str]:
    sign_in = accounts.start_sign_in(user, ip_address="203.0.113.9", user_agent="pytest")
    db.session.commit()
    return sign_in, sign_in.token


def test_load_sign_in_returns_the_user_of_a_fresh_sign_in(app, db, patient):
    sign_in, token = open_sign_in(db, patient)

    user = accounts.load_sign_in(token, idle_timeout=IDLE)

    assert user is patient
    assert user.current_sign_in.id == sign_in.id
    assert user.get_id() == token
    assert db.session.scalar(select(SignIn.token_hash)) != token


def test_load_sign_in_ends_an_idle_sign_in_for_good(app, db, patient):
    sign_in, token = open_sign_in(db, patient)
    sign_in.searches = {"roster-1": "lopez"}
    db.session.commit()
    later = utcnow() + IDLE + timedelta(minutes=1)

    assert accounts.load_sign_in(token, idle_timeout=IDLE, now=later) is None

    db.session.expire_all()
    ended = db.session.get(SignIn, sign_in.id)
    assert ended.ended_at is not None
    assert ended.ended_reason == "idle"
    assert ended.searches is None  # search words are patient data: they end with it
    assert accounts.load_sign_in(token, idle_timeout=IDLE) is None


def test_every_way_a_sign_in_ends_forgets_its_searches_and_messages(app, db, patient):
    signed_out, _ = open_sign_in(db, patient)
    changed, _ = open_sign_in(db, patient)
    for sign_in in (signed_out, changed):
        sign_in.searches = {"people": "okonkwo"}
        sign_in.messages = [["k1", "success", "Dina Okonkwo is now a member."]]
    db.session.commit()

    accounts.end_sign_in(signed_out, "signed out")
    accounts.end_all_sign_ins(patient, "password changed")
    db.session.commit()

    db.session.expire_all()
    assert db.session.scalars(select(SignIn.searches)).all() == [None, None]
    assert db.session.scalars(select(SignIn.messages)).all() == [None, None]


def test_activity_keeps_a_sign_in_alive(app, db, patient):
    sign_in, token = open_sign_in(db, patient)
    start = utcnow()

    assert accounts.load_sign_in(token, idle_timeout=IDLE, now=start + timedelta(minutes=10))
    db.session.expire_all()
    later = start + timedelta(minutes=20)

    assert accounts.load_sign_in(token, idle_timeout=IDLE, now=later) is not None


def test_load_sign_in_refuses_unknown_and_ended_tokens(app, db, patient):
    sign_in, token = open_sign_in(db, patient)
    assert accounts.load_sign_in("not-a-token", idle_timeout=IDLE) is None

    accounts.end_sign_in(sign_in, "signed out")
    db.session.commit()

    assert accounts.load_sign_in(token, idle_timeout=IDLE) is None
    assert sign_in.ended_reason == "signed out"


def test_deactivation_ends_every_sign_in(app, db, coordinator, patient):
    _, token = open_sign_in(db, patient)

    accounts.set_active(patient, False, actor=coordinator)
    db.session.commit()

    assert accounts.count_open_sign_ins(patient) == 0
    assert accounts.load_sign_in(token, idle_timeout=IDLE) is None


def test_a_coordinator_cannot_deactivate_themselves(app, coordinator):
    with pytest.raises(NotAllowed):
        accounts.set_active(coordinator, False, actor=coordinator)


# Names shown to the group


def test_group_name_is_preferred_first_name_and_last_initial(app, create_user):
    pat = create_user(PATIENT, given_name="Patricia", preferred_name="Pat", family_name="Ient")
    rosa = create_user(PATIENT, given_name="Rosa", family_name="lopez")

    assert pat.group_name == "Pat I."
    assert rosa.group_name == "Rosa l."
    assert "Patricia" not in pat.group_name
    assert "Ient" not in pat.group_name


def test_group_name_without_family_name_is_first_name_only(app):
    assert User(given_name="Mei", family_name="", preferred_name="").group_name == "Mei"


# Stored instants


def test_utc_datetime_stores_and_returns_an_aware_utc_instant(app, db):
    summer_evening = datetime(2026, 7, 14, 17, 0, tzinfo=ZoneInfo("America/New_York"))
    winter_evening = datetime(2026, 1, 13, 17, 0, tzinfo=ZoneInfo("America/New_York"))
    summer = Site(name="Summer", timezone="America/New_York", created_at=summer_evening)
    winter = Site(name="Winter", timezone="America/New_York", created_at=winter_evening)
    db.session.add_all([summer, winter])
    db.session.commit()
    db.session.expire_all()

    summer, winter = db.session.get(Site, summer.id), db.session.get(Site, winter.id)

    assert summer.created_at.tzinfo is not None
    assert summer.created_at.utcoffset() == timedelta(0)
    assert summer.created_at == datetime(2026, 7, 14, 21, 0, tzinfo=UTC)
    assert winter.created_at == datetime(2026, 1, 13, 22, 0, tzinfo=UTC)
    assert to_local(summer.created_at, "America/New_York").hour == 17
    assert to_local(winter.created_at, "America/New_York").hour == 17


def test_utc_datetime_compares_correctly_in_queries(app, db):
    noon_utc = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    db.session.add(Site(name="Early", timezone="UTC", created_at=noon_utc))
    db.session.add(Site(name="Late", timezone="UTC", created_at=noon_utc + timedelta(hours=2)))
    db.session.commit()

    # 13:00 in Berlin is 12:00 UTC, so only the later site is strictly after it.
    berlin_one_pm = datetime(2026, 3, 1, 13, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    names = db.session.scalars(select(Site.name).where(Site.created_at > berlin_one_pm)).all()

    assert names == ["Late"]


def test_utc_datetime_stores_the_utc_wall_clock(app, db):
    db.session.add(
        Site(
            name="Stored",
            timezone="Asia/Tokyo",
            created_at=datetime(2026, 5, 1, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")),
        )
    )
    db.session.commit()

    if db.engine.dialect.name == "postgresql":
        sql = "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM sites"
    else:
        sql = "SELECT substr(created_at, 1, 16) FROM sites"
    assert db.session.scalar(text(sql)) == "2026-05-01 00:00"


def test_utc_datetime_refuses_a_naive_datetime(app, db):
    db.session.add(Site(name="Naive", timezone="UTC", created_at=datetime(2026, 1, 1, 9, 0)))

    with pytest.raises(StatementError, match="naive datetime"):
        db.session.flush()
    db.session.rollback()


def test_utc_datetime_default_is_now(app, db, site):
    db.session.expire_all()
    created = db.session.get(Site, site.id).created_at

    assert created.tzinfo is not None
    assert abs(utcnow() - created) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("America/New_York", True),
        ("Europe/London", True),
        ("Australia/Lord_Howe", True),
        ("UTC", True),
        ("Mars/Olympus_Mons", False),
        ("america/new_york", False),
        ("", False),
        ("../../etc/passwd", False),
        ("EST5EDT ", False),
    ],
)
def test_is_valid_timezone(name, valid):
    assert is_valid_timezone(name) is valid


def test_patient_profile_holds_its_own_row(app, db, site):
    patient = new_user(site, medical_record_number="RCC-1", dietary_needs="vegetarian")
    db.session.commit()
    db.session.expire_all()

    profile = db.session.get(PatientProfile, patient.id)
    assert (profile.medical_record_number, profile.dietary_needs) == ("RCC-1", "vegetarian")


def leave_a_message(app, sign_in) -> None:
    """A request that flashed "Rosa Lopez is now a member." and ended: its end writes it."""
    from flask import g

    with app.app_context():
        g.message_changes = {
            "sign_in_id": sign_in.id,
            "add": [["k1", "success", "Rosa Lopez is now a member."]],
            "rendered": set(),
            "answered": True,
        }


def test_messages_are_not_written_back_onto_a_sign_in_that_ended(app, db, patient):
    """A request still running when its sign-in ends must not leave its messages behind."""
    sign_in, _ = open_sign_in(db, patient)
    accounts.end_sign_in(sign_in, "signed out")
    db.session.commit()

    leave_a_message(app, sign_in)

    db.session.expire_all()
    assert db.session.get(SignIn, sign_in.id).messages is None


def test_messages_of_an_open_sign_in_are_kept_after_the_request(app, db, patient):
    sign_in, _ = open_sign_in(db, patient)
    leave_a_message(app, sign_in)

    db.session.expire_all()
    assert db.session.get(SignIn, sign_in.id).messages == [
        ["k1", "success", "Rosa Lopez is now a member."]
    ]


def test_database_errors_never_carry_the_values_they_were_given(app, db):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError) as failure:
        db.session.execute(
            text("INSERT INTO no_such_table (name) VALUES (:name)"), {"name": "Rosa"}
        )
    db.session.rollback()
    assert "Rosa" not in str(failure.value)


def test_two_people_are_never_equal_however_their_sign_ins_stand(app, db, create_user):
    # Flask-Login's UserMixin compares get_id(), None for both people here.
    first = create_user(PATIENT, given_name="Ada")
    second = create_user(PATIENT, given_name="Ben")

    assert first != second
    assert second not in [first]
    assert first == db.session.get(User, first.id)
    assert len({first, second}) == 2


# Patients without email, phone numbers and dietary needs


def test_a_patient_may_have_no_email_when_they_have_a_phone(app, db, site):
    for empty in (None, "", "   "):
        patient = new_user(site, email=empty, phone="555-0142")
        db.session.commit()
        assert patient.email is None
        assert not patient.can_sign_in


def test_a_patient_with_neither_email_nor_phone_is_refused(app, db, site):
    with pytest.raises(ValidationFailed, match="email address or a phone number") as refused:
        new_user(site, email=None, phone="")
    assert refused.value.field == "phone"


def test_staff_without_email_are_refused(app, db, site):
    with pytest.raises(ValidationFailed, match="Staff sign in with their email") as refused:
        new_user(site, role=COORDINATOR, email="", phone="555-0101")
    assert refused.value.field == "email"


def test_a_phone_number_that_cannot_be_dialled_is_refused(app, db, site):
    with pytest.raises(ValidationFailed, match="Letters cannot be dialled") as refused:
        new_user(site, phone="call the front desk")
    assert refused.value.field == "phone"
    assert user_count(db) == 0


def test_inviting_a_patient_without_email_is_refused_and_queues_nothing(app, db, site):
    from groupvisits.mail.models import OutboxMessage

    patient = new_user(site, email=None, phone="555-0142")

    with pytest.raises(ValidationFailed, match="no email address: they cannot sign in") as no:
        accounts.invite(patient, actor=None)
    assert no.value.field == "email"
    assert db.session.scalars(select(OutboxMessage)).all() == []
    assert db.session.scalars(select(Invitation)).all() == []


def test_an_empty_address_finds_and_signs_in_nobody(app, db, site):
    new_user(site, email=None, phone="555-0142", password=DEFAULT_PASSWORD)
    db.session.commit()

    assert accounts.find_user_by_email("") is None
    assert accounts.find_user_by_email(None) is None
    with pytest.raises(accounts.SignInFailed):
        accounts.authenticate("", DEFAULT_PASSWORD)


def test_a_coordinator_cannot_take_the_email_of_staff_or_the_last_contact_of_a_patient(
    app, db, coordinator, clinician, patient
):
    with pytest.raises(ValidationFailed, match="Staff sign in"):
        accounts.update_user(clinician, {"email": ""}, actor=coordinator)
    db.session.rollback()
    with pytest.raises(ValidationFailed, match="email address or a phone number"):
        accounts.update_user(patient, {"email": "", "phone": ""}, actor=coordinator)
    db.session.rollback()
    assert db.session.get(User, patient.id).email is not None


def test_dietary_needs_are_kept_as_codes_with_the_other_text_apart(app, db, site):
    ticked = new_user(site, dietary_needs=["vegetarian", "low_sodium"], dietary_other=" no  nuts ")
    typed = new_user(site, email="typed@clinic.example.org", dietary_needs="Low salt; no pork")

    assert (ticked.patient_profile.dietary_needs, ticked.patient_profile.dietary_other) == (
        "low_sodium,vegetarian",
        "no nuts",
    )
    assert (typed.patient_profile.dietary_needs, typed.patient_profile.dietary_other) == (
        "low_sodium",
        "no pork",
    )
    assert typed.patient_profile.dietary_summary == "low sodium, no pork"


def test_a_dietary_code_not_on_the_list_is_refused(app, db, site):
    with pytest.raises(ValidationFailed, match="from the list"):
        new_user(site, dietary_needs=["paleo"])


def test_a_profile_not_yet_migrated_is_read_through_the_synonyms(app, db, site):
    patient = new_user(site)
    patient.patient_profile.dietary_needs = "Low-salt diet, veggie, no nuts"

    assert patient.patient_profile.diet == (["low_sodium", "vegetarian"], "no nuts")
    assert patient.patient_profile.meal_needs == ["low sodium", "vegetarian", "no nuts"]


def test_a_patient_changes_their_needs_and_phone_on_their_own_profile(app, db, patient):
    accounts.update_own_profile(
        patient,
        {"phone": "(555) 010-0199 x 7", "dietary_needs": ["kosher"], "dietary_other": ""},
        actor=patient,
    )

    assert patient.phone == "(555) 010-0199 ext. 7"
    assert (patient.patient_profile.dietary_needs, patient.patient_profile.dietary_other) == (
        "kosher",
        "",
    )
