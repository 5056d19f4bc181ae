"""The ``groupvisits`` commands: demo data, creating accounts from the shell, sending mail."""

import re

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT, PatientProfile, User
from groupvisits.demo import DEMO_DOMAIN, DEMO_SITE, STAFF
from groupvisits.mail import services as mail
from groupvisits.mail.models import OutboxMessage
from groupvisits.sites.models import Site
from tests.conftest import DEFAULT_PASSWORD, sign_in


@pytest.fixture
def invoke(runner):
    """Run ``groupvisits <args>`` and return click's result."""

    def run(*args: str):
        return runner.invoke(args=["groupvisits", *args])

    return run


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def users_by_email(db) -> dict[str, User]:
    return {user.email: user for user in db.session.scalars(select(User))}


# seed-demo


def test_seed_demo_loads_one_site_with_its_staff_and_thirty_patients(invoke, db):
    result = invoke("seed-demo")

    assert result.exit_code == 0, result.output
    sites = db.session.scalars(select(Site)).all()
    assert [site.name for site in sites] == [DEMO_SITE]
    assert sites[0].timezone == "America/New_York"
    assert count(db, User, User.role == COORDINATOR) == 1
    assert count(db, User, User.role == PATIENT) == 30
    assert count(db, PatientProfile) == 30
    clinicians = db.session.scalars(select(User).where(User.role == CLINICIAN)).all()
    disciplines = sorted(user.discipline for user in clinicians)
    assert disciplines == sorted(
        [
            "attending",
            "resident",
            "resident",
            "resident",
            "registered_nurse",
            "dietitian",
            "pharmacist",
            "behavioural_health",
        ]
    )
    residents = [user for user in clinicians if user.discipline == "resident"]
    assert sorted(user.training_year for user in residents) == [1, 2, 3]
    assert all(user.training_year is None for user in clinicians if user not in residents)
    everyone = db.session.scalars(select(User)).all()
    assert all(user.sites == sites for user in everyone)
    assert len(everyone) == len(STAFF) + 30


def test_seed_demo_patients_have_distinct_medical_record_numbers(invoke, db):
    assert invoke("seed-demo").exit_code == 0

    numbers = db.session.scalars(select(PatientProfile.medical_record_number)).all()
    assert len(numbers) == 30
    assert len(set(numbers)) == 30
    assert all(numbers)


def test_seed_demo_prints_logins_that_really_sign_in(invoke, db, client):
    result = invoke("seed-demo")

    assert result.exit_code == 0, result.output
    password = re.search(r"password for all: (\S+)\)", result.output).group(1)
    email = re.search(r"coordinator\s+(\S+@\S+)", result.output).group(1)
    assert email == f"coordinator@{DEMO_DOMAIN}"
    for login in (f"attending@{DEMO_DOMAIN}", f"resident1@{DEMO_DOMAIN}"):
        assert login in result.output
    coordinator = users_by_email(db)[email]

    sign_in(client, coordinator, password)
    home = client.get("/")
    assert home.status_code == 200
    assert DEMO_SITE in home.get_data(as_text=True)


def test_seed_demo_with_a_chosen_password(invoke, db, client):
    result = invoke("seed-demo", "--password", "a chosen demo password")

    assert result.exit_code == 0, result.output
    assert "a chosen demo password" in result.output
    patient = users_by_email(db)[f"patient01@{DEMO_DOMAIN}"]
    sign_in(client, patient, "a chosen demo password")


def test_seed_demo_twice_fails_cleanly_and_adds_nothing(invoke, db):
    assert invoke("seed-demo").exit_code == 0
    before = count(db, User)

    result = invoke("seed-demo")

    assert result.exit_code != 0
    assert "already loaded" in result.output
    assert "Traceback" not in result.output
    assert count(db, User) == before
    assert count(db, Site) == 1


def test_seed_demo_if_empty_does_nothing_when_accounts_exist(invoke, db, coordinator):
    result = invoke("seed-demo", "--if-empty")

    assert result.exit_code == 0, result.output
    assert "not loaded" in result.output
    assert count(db, User) == 1
    assert count(db, Site, Site.name == DEMO_SITE) == 0


def test_seed_demo_if_empty_after_the_demo_changes_nothing(invoke, db):
    assert invoke("seed-demo", "--if-empty").exit_code == 0
    before = count(db, User)

    result = invoke("seed-demo", "--if-empty")

    assert result.exit_code == 0, result.output
    assert count(db, User) == before
    assert count(db, Site) == 1


# create-user


def create_user_args(email: str, role: str = COORDINATOR, site: str = "Eastside Clinic", *extra):
    return (
        "create-user",
        "--email",
        email,
        "--role",
        role,
        "--given-name",
        "Nora",
        "--family-name",
        "Quinn",
        "--site",
        site,
        *extra,
    )


def test_create_user_with_password_can_sign_in(invoke, db, site, client):
    result = invoke(
        *create_user_args(
            "Nora.Quinn@Clinic.example.org",
            "coordinator",
            site.name,
            "--password",
            DEFAULT_PASSWORD,
        )
    )

    assert result.exit_code == 0, result.output
    user = users_by_email(db)["nora.quinn@clinic.example.org"]
    assert f"id {user.id}" in result.output
    assert user.role == COORDINATOR
    assert [s.name for s in user.sites] == [site.name]
    assert count(db, OutboxMessage) == 0
    sign_in(client, user)
    assert site.name in client.get("/").get_data(as_text=True)


def test_create_user_without_password_queues_an_invitation(invoke, db, site, client):
    result = invoke(*create_user_args("nora@clinic.example.org", "patient", site.name))

    assert result.exit_code == 0, result.output
    user = users_by_email(db)["nora@clinic.example.org"]
    assert user.password_hash is None
    assert user.invited_at is not None
    link = re.search(r"Link \(works once\): (\S+)", result.output).group(1)
    messages = db.session.scalars(select(OutboxMessage)).all()
    assert len(messages) == 1
    assert messages[0].to_address == "nora@clinic.example.org"
    assert messages[0].sent_at is None
    assert link in messages[0].body
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)
    assert page.status_code == 200


def test_create_user_with_a_taken_email_fails_and_adds_nothing(invoke, db, site, coordinator):
    before = count(db, User)

    result = invoke(
        *create_user_args(
            coordinator.email.upper(), "coordinator", site.name, "--password", DEFAULT_PASSWORD
        )
    )

    assert result.exit_code != 0
    assert f"already an account for {coordinator.email}" in result.output
    assert "Traceback" not in result.output
    assert count(db, User) == before


def test_create_user_with_a_taken_email_leaves_no_new_site(invoke, db, coordinator):
    result = invoke(
        *create_user_args(
            coordinator.email, "coordinator", "Northside Clinic", "--timezone", "America/Chicago"
        )
    )

    assert result.exit_code != 0
    assert count(db, Site, Site.name == "Northside Clinic") == 0


def test_create_user_at_an_unknown_site_without_timezone_is_a_usage_error(invoke, db, site):
    result = invoke(
        *create_user_args(
            "nora@clinic.example.org",
            "coordinator",
            "Northside Clinic",
            "--password",
            DEFAULT_PASSWORD,
        )
    )

    assert result.exit_code == 2
    assert "--timezone" in result.output
    assert count(db, Site, Site.name == "Northside Clinic") == 0
    assert count(db, User) == 0


def test_create_user_at_a_new_site_with_timezone_creates_the_site(invoke, db):
    result = invoke(
        *create_user_args(
            "nora@clinic.example.org",
            "coordinator",
            "Northside Clinic",
            "--timezone",
            "America/Chicago",
            "--password",
            DEFAULT_PASSWORD,
        )
    )

    assert result.exit_code == 0, result.output
    assert "Created site Northside Clinic" in result.output
    new_site = db.session.scalar(select(Site).where(Site.name == "Northside Clinic"))
    assert new_site.timezone == "America/Chicago"
    user = users_by_email(db)["nora@clinic.example.org"]
    assert user.sites == [new_site]


def test_create_user_with_an_unknown_timezone_fails_cleanly(invoke, db):
    result = invoke(
        *create_user_args(
            "nora@clinic.example.org",
            "coordinator",
            "Northside Clinic",
            "--timezone",
            "Mars/Olympus_Mons",
        )
    )

    assert result.exit_code != 0
    assert "Mars/Olympus_Mons" in result.output
    assert "Traceback" not in result.output
    assert count(db, Site) == 0
    assert count(db, User) == 0


def test_create_user_resident_keeps_training_year(invoke, db, site):
    result = invoke(
        *create_user_args(
            "resident@clinic.example.org",
            "clinician",
            site.name,
            "--discipline",
            "resident",
            "--training-year",
            "2",
            "--password",
            DEFAULT_PASSWORD,
        )
    )

    assert result.exit_code == 0, result.output
    user = users_by_email(db)["resident@clinic.example.org"]
    assert (user.discipline, user.training_year) == ("resident", 2)
    assert user.discipline_label == "Resident physician (PGY-2)"


def test_create_user_resident_without_training_year_is_refused(invoke, db, site):
    result = invoke(
        *create_user_args(
            "resident@clinic.example.org",
            "clinician",
            site.name,
            "--discipline",
            "resident",
            "--password",
            DEFAULT_PASSWORD,
        )
    )

    assert result.exit_code != 0
    assert "training year" in result.output
    assert count(db, User) == 0


def test_create_user_refuses_a_too_short_password(invoke, db, site):
    result = invoke(
        *create_user_args(
            "nora@clinic.example.org", "coordinator", site.name, "--password", "short1"
        )
    )

    assert result.exit_code != 0
    assert "at least 12 characters" in result.output
    assert count(db, User) == 0


# send-mail


def test_send_mail_without_a_mail_server_sends_nothing(invoke, app, db, patient):
    app.config["MAIL_SERVER"] = ""
    mail.queue(
        patient.email,
        "Your GroupVisits account",
        "invitation.txt",
        user=patient,
        link="http://localhost/x",
        invited_by=None,
    )
    db.session.commit()

    result = invoke("send-mail")

    assert result.exit_code == 0, result.output
    assert "Sent 0, failed 0." in result.output
    message = db.session.scalar(select(OutboxMessage))
    db.session.refresh(message)
    assert message.sent_at is None
    assert message.attempts == 0
