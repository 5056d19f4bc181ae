"""Invitations and password resets, sent through the outbox and used once from the mailed link."""

import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from groupvisits.accounts import passwords
from groupvisits.accounts import services as accounts
from groupvisits.accounts.models import PATIENT, PasswordResetRequest, SignIn, User
from groupvisits.mail.models import OutboxMessage
from tests.conftest import DEFAULT_PASSWORD
from tests.unit.test_mail import Inbox, free_port

NEW_PASSWORD = "walking to the market on sunday"
RESET_SENT = "If that address belongs to an account, a link to reset the password is on its way."
#: Words that must never show in an email subject (lock screens, mail lists).
CONDITION_WORDS = ("diabet", "insulin", "sugar", "hypertens", "blood pressure", "hiv", "pregnan")


@pytest.fixture
def app(app):
    app.config["MAIL_SERVER"] = ""  # keep messages in the outbox
    return app


@pytest.fixture
def outbox(db):
    """The messages in the outbox, oldest first, read fresh from the database.

    Waiting "forgot password" requests are answered first, as ``send-mail`` does.
    """

    def read(to_address: str | None = None, *, answer_requests=True) -> list[OutboxMessage]:
        db.session.rollback()
        if answer_requests:  # as `flask groupvisits send-mail` does first
            accounts.answer_reset_requests()
            db.session.commit()
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if to_address is not None:
            query = query.where(OutboxMessage.to_address == to_address)
        return list(db.session.scalars(query))

    return read


@pytest.fixture
def add_patient(coordinator_client, site):
    """The coordinator adds a patient through the form; returns the response."""

    def add(email: str = "rosa.diaz@mail.example.org", **fields):
        data = {
            "role": PATIENT,
            "given_name": "Rosa",
            "family_name": "Diaz",
            "email": email,
            "sites": [site.id],
            "date_of_birth": "1958-03-02",
            "dietary_needs": "low sugar, diabetic diet",
            "accessibility_needs": "",
        }
        data.update(fields)
        return coordinator_client.post_form("/people/new", data)

    return add


def link_path(message: OutboxMessage, prefix: str) -> str:
    """The path of the one link to ``prefix`` in a mail body."""
    [url] = re.findall(r"\S*" + re.escape(prefix) + r"[^\s]+", message.body)
    return urlsplit(url).path


def set_password(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    return client.post_form(
        path, {"password": password, "confirm": password if confirm is None else confirm}
    )


def field_error(response, name: str) -> str:
    """The error message shown under one form field."""
    match = re.search(rf'id="{name}-error">([^<]*)<', response.get_data(as_text=True))
    assert match, f"no error shown for {name}"
    return match.group(1).strip()


def signs_in(app, email: str, password: str) -> bool:
    response = app.test_client().post_form("/login", {"email": email, "password": password})
    return response.status_code == 302


def is_sent_to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/login"


def find_user(db, email: str) -> User | None:
    db.session.rollback()
    return db.session.scalar(select(User).where(User.email == email))


# Invitations


def test_adding_a_patient_queues_an_invitation_with_a_link(add_patient, outbox, db):
    response = add_patient()

    assert response.status_code == 302
    person = find_user(db, "rosa.diaz@mail.example.org")
    assert person is not None and person.password_hash is None
    [message] = outbox("rosa.diaz@mail.example.org")
    assert message.sent_at is None
    assert link_path(message, "/invitation/").startswith("/invitation/")
    assert "Hello Rosa" in message.body


def test_invitation_subject_and_link_name_no_condition(add_patient, outbox):
    add_patient()

    [message] = outbox("rosa.diaz@mail.example.org")
    subject = message.subject.lower()
    assert subject
    for word in CONDITION_WORDS:
        assert word not in subject
        assert word not in link_path(message, "/invitation/").lower()


def test_invitation_link_shows_the_form_to_choose_a_password(app, add_patient, outbox):
    add_patient()
    path = link_path(outbox()[0], "/invitation/")

    page = app.test_client().get(path)

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'name="password"' in text
    assert 'name="confirm"' in text


def test_invited_person_sets_a_password_and_can_sign_in(app, add_patient, outbox):
    add_patient()
    path = link_path(outbox()[0], "/invitation/")
    browser = app.test_client()

    response = set_password(browser, path)

    assert is_sent_to_login(response)
    assert "Your password is saved. Please sign in." in browser.get("/login").get_data(as_text=True)
    assert signs_in(app, "rosa.diaz@mail.example.org", NEW_PASSWORD)


def test_invitation_refuses_a_password_shorter_than_12_characters(app, db, add_patient, outbox):
    add_patient()
    path = link_path(outbox()[0], "/invitation/")

    response = set_password(app.test_client(), path, "short pass1")

    assert response.status_code == 422
    assert "12" in field_error(response, "password")
    assert find_user(db, "rosa.diaz@mail.example.org").password_hash is None
    assert not signs_in(app, "rosa.diaz@mail.example.org", "short pass1")


def test_invitation_refuses_two_passwords_that_differ(app, db, add_patient, outbox):
    add_patient()
    path = link_path(outbox()[0], "/invitation/")

    response = set_password(app.test_client(), path, NEW_PASSWORD, NEW_PASSWORD + "!")

    assert response.status_code == 422
    assert field_error(response, "confirm") == "The two passwords differ."
    assert find_user(db, "rosa.diaz@mail.example.org").password_hash is None
    # The link still works after a mistake.
    assert is_sent_to_login(set_password(app.test_client(), path))


def test_invitation_link_works_only_once(app, add_patient, outbox):
    add_patient()
    path = link_path(outbox()[0], "/invitation/")
    set_password(app.test_client(), path)

    again = app.test_client().get(path)
    replayed = set_password(app.test_client(), path, "someone else's new password")

    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)
    assert replayed.status_code == 400
    assert signs_in(app, "rosa.diaz@mail.example.org", NEW_PASSWORD)
    assert not signs_in(app, "rosa.diaz@mail.example.org", "someone else's new password")


def test_expired_invitation_link_is_refused(app, db, add_patient, outbox):
    add_patient()
    path = link_path(outbox()[0], "/invitation/")
    app.config["INVITATION_MAX_AGE"] = timedelta(seconds=-1)

    shown = app.test_client().get(path)
    posted = set_password(app.test_client(), path)

    assert shown.status_code == 400
    assert "expired" in shown.get_data(as_text=True)
    assert posted.status_code == 400
    assert find_user(db, "rosa.diaz@mail.example.org").password_hash is None


def test_tampered_invitation_link_is_refused(app, db, add_patient, outbox):
    add_patient()
    path = link_path(outbox()[0], "/invitation/")
    payload, timestamp, signature = path.removeprefix("/invitation/").split(".")
    forged = signature.replace(signature[0], "B" if signature[0] != "B" else "C", 1)
    tampered = f"/invitation/{payload}.{timestamp}.{forged}"

    shown = app.test_client().get(tampered)
    posted = set_password(app.test_client(), tampered)

    assert shown.status_code == 400
    assert "not valid" in shown.get_data(as_text=True)
    assert posted.status_code == 400
    assert find_user(db, "rosa.diaz@mail.example.org").password_hash is None


def test_invitation_link_is_not_a_reset_link(app, add_patient, outbox):
    add_patient()
    token = link_path(outbox()[0], "/invitation/").removeprefix("/invitation/")

    response = app.test_client().get(f"/reset-password/{token}")

    assert response.status_code == 400


# Forgotten passwords


def test_forgot_password_answers_the_same_for_known_and_unknown_emails(app, patient, outbox):
    known_browser = app.test_client()
    unknown_browser = app.test_client()

    known = known_browser.post_form("/forgot-password", {"email": patient.email})
    unknown = unknown_browser.post_form("/forgot-password", {"email": "who@mail.example.org"})

    assert is_sent_to_login(known)
    assert is_sent_to_login(unknown)
    assert RESET_SENT in known_browser.get("/login").get_data(as_text=True)
    assert RESET_SENT in unknown_browser.get("/login").get_data(as_text=True)
    messages = outbox()
    assert [message.to_address for message in messages] == [patient.email]
    assert "/reset-password/" in messages[0].body


def test_forgot_password_sends_nothing_to_an_inactive_account(app, db, patient, outbox):
    patient.active = False
    db.session.commit()

    response = app.test_client().post_form("/forgot-password", {"email": patient.email})

    assert is_sent_to_login(response)
    assert outbox() == []


def test_reset_link_sets_a_new_password_once(app, patient, outbox):
    app.test_client().post_form("/forgot-password", {"email": patient.email})
    path = link_path(outbox(patient.email)[0], "/reset-password/")
    assert app.test_client().get(path).status_code == 200

    response = set_password(app.test_client(), path)

    assert is_sent_to_login(response)
    assert signs_in(app, patient.email, NEW_PASSWORD)
    assert not signs_in(app, patient.email, DEFAULT_PASSWORD)
    again = app.test_client().get(path)
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)


def test_reset_ends_the_sign_ins_made_with_the_old_password(
    app, db, patient_client, patient, outbox
):
    assert patient_client.get("/profile").status_code == 200
    app.test_client().post_form("/forgot-password", {"email": patient.email})
    path = link_path(outbox(patient.email)[0], "/reset-password/")

    set_password(app.test_client(), path)

    assert is_sent_to_login(patient_client.get("/profile"))
    db.session.rollback()
    [row] = db.session.scalars(select(SignIn).where(SignIn.user_id == patient.id))
    assert row.ended_at is not None
    assert row.ended_reason == "password changed"


def test_an_older_reset_link_dies_when_a_newer_one_is_used(app, patient, outbox):
    for _ in range(2):
        app.test_client().post_form("/forgot-password", {"email": patient.email})
        outbox()  # each request answered by its own run of send-mail
    first, second = (link_path(m, "/reset-password/") for m in outbox(patient.email))

    set_password(app.test_client(), second)

    assert app.test_client().get(first).status_code == 400


def test_a_link_opened_while_signed_in_changes_nothing_and_asks_to_sign_out(
    app, db, add_patient, outbox, coordinator_client, coordinator
):
    add_patient()
    path = link_path(outbox()[0], "/invitation/")

    response = coordinator_client.get(path)

    assert response.status_code == 409
    assert "Sign out first, then open the link again." in response.get_data(as_text=True)
    assert coordinator_client.get("/").status_code == 200  # still signed in
    open_sign_ins = db.session.scalars(
        select(SignIn).where(SignIn.user_id == coordinator.id, SignIn.ended_at.is_(None))
    ).all()
    assert len(open_sign_ins) == 1
    assert app.test_client().get(path).status_code == 200  # the link still works


def test_correcting_a_mistyped_email_kills_the_invitation_sent_to_it(
    app, db, add_patient, outbox, coordinator_client
):
    add_patient(email="rosa.wrong@mail.example.org")
    stale = link_path(outbox()[0], "/invitation/")
    rosa = db.session.scalar(select(User).where(User.email == "rosa.wrong@mail.example.org"))

    response = coordinator_client.post_form(
        f"/people/{rosa.id}/edit",
        {
            "role": PATIENT,
            "given_name": "Rosa",
            "family_name": "Diaz",
            "email": "rosa.diaz@mail.example.org",
            "sites": [site.id for site in rosa.sites],
        },
    )

    assert response.status_code == 302
    assert app.test_client().get(stale).status_code == 400
    assert [m.to_address for m in outbox()] == ["rosa.wrong@mail.example.org"]  # nothing new


@pytest.fixture
def smtp_inbox(app):
    """A real SMTP server the app is configured to use; what it received."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_USE_TLS=False)
    yield inbox
    controller.stop()


def cookie_session(client) -> dict:
    with client.session_transaction() as flask_session:
        return dict(flask_session)


def test_forgot_password_only_queues_and_answers_alike_for_known_and_unknown_emails(
    app, db, patient, outbox, smtp_inbox
):
    known_browser, unknown_browser = app.test_client(), app.test_client()

    known = known_browser.post_form("/forgot-password", {"email": patient.email})
    unknown = unknown_browser.post_form("/forgot-password", {"email": "who@mail.example.org"})

    assert smtp_inbox.messages == []  # nothing is sent while the visitor waits
    assert (known.status_code, known.location) == (unknown.status_code, unknown.location)
    assert is_sent_to_login(known)
    assert known.get_data() == unknown.get_data()
    known_flashes = cookie_session(known_browser)["_flashes"]
    assert known_flashes == cookie_session(unknown_browser)["_flashes"] == [("info", RESET_SENT)]
    # Both answers did the same work: one request noted each, no account looked up.
    assert outbox(answer_requests=False) == []
    asked = db.session.scalars(select(PasswordResetRequest.email).order_by("id")).all()
    assert asked == [patient.email, "who@mail.example.org"]

    result = app.test_cli_runner().invoke(args=["groupvisits", "send-mail"])

    assert "Sent 1, failed 0." in result.output
    [delivered] = smtp_inbox.messages
    assert delivered["To"] == patient.email
    assert "/reset-password/" in delivered.get_content()
    assert db.session.scalars(select(PasswordResetRequest)).all() == []  # nothing kept


def test_send_mail_answers_an_address_typed_twice_with_one_link_and_skips_inactive(
    app, db, create_user, smtp_inbox
):
    active, inactive = create_user(PATIENT), create_user(PATIENT)
    inactive.active = False
    db.session.commit()
    for email in (active.email, active.email.upper(), inactive.email):
        app.test_client().post_form("/forgot-password", {"email": email})

    app.test_cli_runner().invoke(args=["groupvisits", "send-mail"])

    assert [message["To"] for message in smtp_inbox.messages] == [active.email]


def test_a_coordinators_invitation_sends_only_that_persons_mail_at_once(
    app, db, add_patient, outbox, smtp_inbox, patient
):
    app.test_client().post_form("/forgot-password", {"email": patient.email})

    add_patient()

    assert [m["To"] for m in smtp_inbox.messages] == ["rosa.diaz@mail.example.org"]
    waiting = [m.to_address for m in outbox() if m.sent_at is None]
    assert waiting == [patient.email]  # left for `flask groupvisits send-mail`


def post_at_once(app, path: str, chosen: list[str]):
    """Post the password form of one link from several browsers at the same moment."""
    browsers = [app.test_client() for _ in chosen]
    tokens = [browser.csrf_token() for browser in browsers]
    barrier = threading.Barrier(len(browsers))

    def post(index):
        data = {"password": chosen[index], "confirm": chosen[index], "csrf_token": tokens[index]}
        barrier.wait()
        response = browsers[index].post(path, data=data)
        return response.status_code, response.get_data(as_text=True)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so that the requests interleave
    try:
        with ThreadPoolExecutor(max_workers=len(browsers)) as pool:
            return list(pool.map(post, range(len(browsers))))
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.parametrize("purpose", ["invitation", "reset"])
def test_a_link_used_twice_at_once_sets_the_password_once(app, db, create_user, purpose):
    person = create_user(PATIENT, password=None if purpose == "invitation" else DEFAULT_PASSWORD)
    email = person.email
    if purpose == "invitation":
        path = urlsplit(accounts.invite(person, actor=None)).path
    else:
        path = urlsplit(accounts.queue_password_reset(person)).path
    db.session.commit()
    chosen = [f"sentence number {n} for the new password" for n in range(8)]

    answers = post_at_once(app, path, chosen)

    statuses = [status for status, _ in answers]
    assert sorted(statuses) == [302] + [400] * 7
    winner = chosen[statuses.index(302)]
    assert all("already been used" in page for status, page in answers if status == 400)
    assert passwords.verify_password(find_user(db, email).password_hash, winner)
    assert signs_in(app, email, winner)
    assert not any(signs_in(app, email, other) for other in chosen if other != winner)
