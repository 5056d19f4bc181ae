"""Signing in and out: passwords, safe redirects, server-side sign-ins, idle timeout, throttling."""

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from groupvisits.accounts.models import PATIENT, SignIn
from groupvisits.timeutil import utcnow
from tests.conftest import DEFAULT_PASSWORD

NO_MATCH = "That email and password do not match an account."
NEW_PASSWORD = "a brand new sentence to remember"


@pytest.fixture
def sign_ins_of(db):
    """Every sign-in row of a user, read fresh from the database."""

    def read(user) -> list[SignIn]:
        db.session.rollback()
        return list(db.session.scalars(select(SignIn).where(SignIn.user_id == user.id)))

    return read


def attempt(client, email: str, password: str, url: str = "/login"):
    return client.post_form(url, {"email": email, "password": password})


def is_sent_to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/login"


def move_last_seen_back(db, sign_in_row: SignIn, minutes: int) -> None:
    db.session.execute(
        update(SignIn)
        .where(SignIn.id == sign_in_row.id)
        .values(last_seen_at=utcnow() - timedelta(minutes=minutes))
    )
    db.session.commit()


def without_form_values(page: str) -> str:
    """The page with the CSRF token and the typed email blanked out."""
    page = re.sub(r'(name="csrf_token"[^>]*value=")[^"]*', r"\1", page)
    return re.sub(r'(name="email"[^>]*value=")[^"]*', r"\1", page)


# Passwords


def test_right_password_signs_in_and_opens_one_sign_in(client, patient, sign_ins_of):
    response = attempt(client, patient.email, DEFAULT_PASSWORD)

    assert response.status_code == 302
    assert urlsplit(response.location).path == "/"
    assert client.get("/account/password").status_code == 200
    [row] = sign_ins_of(patient)
    assert row.ended_at is None
    assert row.ip_address == "127.0.0.1"


def test_email_is_matched_whatever_its_case(client, patient):
    response = attempt(client, patient.email.upper(), DEFAULT_PASSWORD)

    assert response.status_code == 302


def test_wrong_password_gives_a_message_and_422(client, patient, sign_ins_of):
    response = attempt(client, patient.email, "not the right password")

    assert response.status_code == 422
    assert NO_MATCH in response.get_data(as_text=True)
    assert is_sent_to_login(client.get("/account/password"))
    assert sign_ins_of(patient) == []


def test_unknown_email_gives_the_same_answer_as_a_wrong_password(client, patient):
    wrong_password = attempt(client, patient.email, "not the right password")
    unknown_email = attempt(client, "nobody@clinic.example.org", "not the right password")

    assert unknown_email.status_code == wrong_password.status_code == 422
    assert NO_MATCH in unknown_email.get_data(as_text=True)
    assert without_form_values(unknown_email.get_data(as_text=True)) == without_form_values(
        wrong_password.get_data(as_text=True)
    )


def test_inactive_account_is_refused_even_with_the_right_password(client, db, patient, sign_ins_of):
    patient.active = False
    db.session.commit()

    response = attempt(client, patient.email, DEFAULT_PASSWORD)

    assert response.status_code == 422
    assert NO_MATCH in response.get_data(as_text=True)
    assert sign_ins_of(patient) == []


def test_invited_account_without_a_password_cannot_sign_in(client, create_user, sign_ins_of):
    invited = create_user(PATIENT, password=None)

    for password in ("not-a-password", "anything at all here", DEFAULT_PASSWORD):
        response = attempt(client, invited.email, password)
        assert response.status_code == 422
        assert NO_MATCH in response.get_data(as_text=True)
    assert sign_ins_of(invited) == []


# Where a sign-in leads


@pytest.mark.parametrize(
    "next_url",
    ["//evil.example", "https://evil.example/x", "/\\evil", "javascript:alert(1)"],
)
def test_next_pointing_off_site_is_ignored(client, coordinator, next_url):
    response = client.post_form(
        "/login",
        {"email": coordinator.email, "password": DEFAULT_PASSWORD},
        query_string={"next": next_url},
    )

    assert response.status_code == 302
    assert response.location == "/"
    assert "evil" not in response.location


def test_next_pointing_at_a_local_page_is_followed(client, coordinator):
    response = client.post_form(
        "/login",
        {"email": coordinator.email, "password": DEFAULT_PASSWORD},
        query_string={"next": "/people/"},
    )

    assert response.status_code == 302
    assert response.location == "/people/"
    assert client.get(response.location).status_code == 200


def test_protected_page_sends_a_visitor_to_sign_in_and_then_back_to_it(client, coordinator):
    refused = client.get("/people/")
    assert is_sent_to_login(refused)

    response = client.post_form(
        refused.location, {"email": coordinator.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 302
    assert response.location == "/people/"


# Signing out


def test_logout_ends_the_sign_in_on_the_server(patient_client, patient, sign_ins_of):
    response = patient_client.post_form("/logout")

    assert is_sent_to_login(response)
    assert "You are signed out." in patient_client.get("/login").get_data(as_text=True)
    assert is_sent_to_login(patient_client.get("/account/password"))
    [row] = sign_ins_of(patient)
    assert row.ended_at is not None
    assert row.ended_reason == "signed out"


def test_logout_by_get_is_refused_and_keeps_the_sign_in(patient_client, patient, sign_ins_of):
    response = patient_client.get("/logout")

    assert response.status_code == 405
    assert patient_client.get("/account/password").status_code == 200
    [row] = sign_ins_of(patient)
    assert row.ended_at is None


def test_logout_ends_the_sign_in_so_a_copied_cookie_no_longer_works(
    app, patient_client, patient, sign_ins_of
):
    copied = patient_client.get_cookie("gv_session").value
    thief = app.test_client()
    thief.set_cookie("gv_session", copied)
    assert thief.get("/account/password").status_code == 200

    patient_client.post_form("/logout")

    replay = app.test_client()
    replay.set_cookie("gv_session", copied)
    assert is_sent_to_login(replay.get("/account/password"))
    assert is_sent_to_login(thief.get("/account/password"))
    [row] = sign_ins_of(patient)
    assert row.ended_reason == "signed out"


# Idle timeout


def test_sign_in_idle_for_16_minutes_is_ended(db, patient_client, patient, sign_ins_of):
    [row] = sign_ins_of(patient)
    move_last_seen_back(db, row, minutes=16)

    response = patient_client.get("/account/password")

    assert is_sent_to_login(response)
    [row] = sign_ins_of(patient)
    assert row.ended_at is not None
    assert row.ended_reason == "idle"
    # Ended for good: coming back later does not revive it.
    assert is_sent_to_login(patient_client.get("/account/password"))


def test_sign_in_idle_for_10_minutes_still_works_and_is_refreshed(
    db, patient_client, patient, sign_ins_of
):
    [row] = sign_ins_of(patient)
    move_last_seen_back(db, row, minutes=10)
    before = utcnow()

    response = patient_client.get("/account/password")

    assert response.status_code == 200
    [row] = sign_ins_of(patient)
    assert row.ended_at is None
    assert row.last_seen_at >= before - timedelta(seconds=5)


def test_a_shorter_idle_timeout_from_config_is_respected(
    app, db, patient_client, patient, sign_ins_of
):
    app.config["IDLE_TIMEOUT"] = timedelta(minutes=5)
    [row] = sign_ins_of(patient)
    move_last_seen_back(db, row, minutes=6)

    assert is_sent_to_login(patient_client.get("/account/password"))
    [row] = sign_ins_of(patient)
    assert row.ended_reason == "idle"


def test_a_longer_idle_timeout_from_config_is_respected(
    app, db, patient_client, patient, sign_ins_of
):
    app.config["IDLE_TIMEOUT"] = timedelta(minutes=30)
    [row] = sign_ins_of(patient)
    move_last_seen_back(db, row, minutes=16)

    assert patient_client.get("/account/password").status_code == 200
    [row] = sign_ins_of(patient)
    assert row.ended_at is None


# Password change


def test_password_change_ends_every_other_sign_in(sign_in_as, patient, sign_ins_of):
    phone = sign_in_as(patient)
    laptop = sign_in_as(patient)

    response = laptop.post_form(
        "/account/password",
        {
            "current_password": DEFAULT_PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )

    assert is_sent_to_login(response)
    assert is_sent_to_login(phone.get("/account/password"))
    assert is_sent_to_login(laptop.get("/account/password"))
    rows = sign_ins_of(patient)
    assert len(rows) == 2
    assert {row.ended_reason for row in rows} == {"password changed"}


def test_password_change_needs_the_current_password(sign_in_as, patient, sign_ins_of):
    phone = sign_in_as(patient)
    laptop = sign_in_as(patient)

    response = laptop.post_form(
        "/account/password",
        {
            "current_password": "a wrong guess here",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )

    assert response.status_code == 422
    assert "Your current password is not right." in response.get_data(as_text=True)
    assert phone.get("/account/password").status_code == 200
    assert all(row.ended_at is None for row in sign_ins_of(patient))


def test_after_a_password_change_only_the_new_password_works(app, sign_in_as, patient):
    sign_in_as(patient).post_form(
        "/account/password",
        {
            "current_password": DEFAULT_PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )

    assert attempt(app.test_client(), patient.email, DEFAULT_PASSWORD).status_code == 422
    assert attempt(app.test_client(), patient.email, NEW_PASSWORD).status_code == 302


# Throttling


def test_five_failures_lock_the_account_even_for_the_right_password(app, patient, sign_ins_of):
    for _ in range(5):
        assert attempt(app.test_client(), patient.email, "a wrong guess here").status_code == 422

    response = attempt(app.test_client(), patient.email, DEFAULT_PASSWORD)

    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    assert sign_ins_of(patient) == []


def test_account_lock_counts_the_email_whatever_its_case(app, patient):
    for n in range(5):
        email = patient.email.upper() if n % 2 else patient.email
        attempt(app.test_client(), email, "a wrong guess here")

    assert attempt(app.test_client(), patient.email, DEFAULT_PASSWORD).status_code == 429


def test_a_locked_account_does_not_lock_another_account_from_the_same_address(
    app, patient, clinician
):
    for _ in range(6):
        attempt(app.test_client(), patient.email, "a wrong guess here")

    response = attempt(app.test_client(), clinician.email, DEFAULT_PASSWORD)

    assert response.status_code == 302
    assert urlsplit(response.location).path == "/"


def test_address_limit_applies_across_different_emails(app, patient):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "3 per 15 minutes"
    for n in range(3):
        response = attempt(app.test_client(), f"guess{n}@clinic.example.org", "a wrong guess")
        assert response.status_code == 422

    response = attempt(app.test_client(), patient.email, DEFAULT_PASSWORD)

    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_successful_sign_ins_do_not_count_towards_the_limits(app, patient):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "3 per 15 minutes"
    for _ in range(6):
        assert attempt(app.test_client(), patient.email, DEFAULT_PASSWORD).status_code == 302

    response = attempt(app.test_client(), patient.email, "a wrong guess here")

    assert response.status_code == 422
    assert NO_MATCH in response.get_data(as_text=True)


def test_the_sign_in_page_itself_is_never_throttled(app, client, patient):
    for _ in range(5):
        attempt(app.test_client(), patient.email, "a wrong guess here")

    assert client.get("/login").status_code == 200


def test_a_throttled_account_leaves_no_email_in_the_log(app, patient, caplog):
    caplog.set_level(logging.DEBUG)
    for _ in range(6):
        attempt(app.test_client(), patient.email, "a wrong guess here")

    assert attempt(app.test_client(), patient.email, DEFAULT_PASSWORD).status_code == 429
    assert "exceeded" in caplog.text  # the limiter did log the refusal...
    assert patient.email.lower() not in caplog.text.lower()  # ...without the address


def test_twenty_guesses_at_once_check_no_more_passwords_than_the_account_limit(app, patient):
    guessers = [app.test_client() for _ in range(20)]
    tokens = [guesser.csrf_token() for guesser in guessers]
    barrier = threading.Barrier(len(guessers))
    email = patient.email

    def guess(index):
        barrier.wait()
        data = {"email": email, "password": f"wrong guess {index}"}
        response = guessers[index].post("/login", data={**data, "csrf_token": tokens[index]})
        return response.status_code, response.get_data(as_text=True)

    with ThreadPoolExecutor(max_workers=len(guessers)) as pool:
        answers = list(pool.map(guess, range(len(guessers))))

    checked = [page for status, page in answers if NO_MATCH in page]
    assert len(checked) == 5  # LOGIN_LIMIT_PER_ACCOUNT
    assert sorted(status for status, _ in answers) == [422] * 5 + [429] * 15
    assert attempt(app.test_client(), patient.email, DEFAULT_PASSWORD).status_code == 429


def test_successful_sign_ins_are_forgiven_and_only_failures_use_up_the_account_limit(app, patient):
    for _ in range(6):
        assert attempt(app.test_client(), patient.email, DEFAULT_PASSWORD).status_code == 302
    for _ in range(4):
        assert attempt(app.test_client(), patient.email, "a wrong guess here").status_code == 422

    assert attempt(app.test_client(), patient.email, DEFAULT_PASSWORD).status_code == 302
    assert attempt(app.test_client(), patient.email, "a wrong guess here").status_code == 422
    assert attempt(app.test_client(), patient.email, DEFAULT_PASSWORD).status_code == 429


# The cookie session of a shared device


def cookie_session(client) -> dict:
    with client.session_transaction() as flask_session:
        return dict(flask_session)


def test_signing_in_starts_a_new_cookie_session_with_a_new_csrf_token(client, patient):
    old_token = client.csrf_token()
    with client.session_transaction() as flask_session:
        flask_session["left_by_the_last_visitor"] = "their data"
    before = cookie_session(client)

    assert attempt(client, patient.email, DEFAULT_PASSWORD).status_code == 302
    client.get("/account/password")

    after = cookie_session(client)
    assert "left_by_the_last_visitor" not in after
    assert after["csrf_token"] != before["csrf_token"]
    # A form the last visitor left open on the device no longer posts.
    refused = client.post("/logout", data={"csrf_token": old_token})
    assert refused.status_code == 400
    assert client.get("/account/password").status_code == 200


def test_signing_out_empties_the_cookie_session_but_still_says_goodbye(patient_client):
    patient_client.get("/account/password")
    with patient_client.session_transaction() as flask_session:
        flask_session["left_by_the_patient"] = "their data"
    signed_in_token = patient_client.csrf_token()
    before = cookie_session(patient_client)

    response = patient_client.post("/logout", data={"csrf_token": signed_in_token})

    assert is_sent_to_login(response)
    after = cookie_session(patient_client)
    assert set(after) == {"_flashes"}
    assert after["_flashes"] == [("success", "You are signed out.")]
    page = patient_client.get("/login").get_data(as_text=True)
    assert "You are signed out." in page
    assert cookie_session(patient_client)["csrf_token"] != before["csrf_token"]
    refused = patient_client.post_form("/logout", {"csrf_token": signed_in_token})
    assert refused.status_code == 400


def test_next_still_leads_back_after_the_cookie_session_is_renewed(client, coordinator):
    refused = client.get("/people/")
    client.get(refused.location)  # the sign-in page, with its message

    response = client.post_form(
        refused.location, {"email": coordinator.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 302
    assert response.location == "/people/"
    assert client.get("/people/").status_code == 200
