"""The outbox delivers over real SMTP exactly once, keeps failures queued and leaks no diagnosis."""

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from groupvisits.accounts import services as accounts
from groupvisits.mail import services as mail
from groupvisits.mail.models import OutboxMessage

#: Words that would reveal a condition if they reached a subject line.
CONDITION_WORDS = (
    "diabet",
    "insulin",
    "glucose",
    "hypertension",
    "blood pressure",
    "heart",
    "cancer",
    "hiv",
    "obes",
    "weight",
    "depress",
    "anxiety",
    "pregnan",
    "prenatal",
    "pain",
    "opioid",
    "addiction",
    "copd",
    "asthma",
    "kidney",
    "diagnos",
    "condition",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, smtp_session, envelope):
        self.recipients.append(list(envelope.rcpt_tos))
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on 127.0.0.1 that the app is configured to use."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_USE_TLS=False)
    app.config.update(MAIL_USERNAME="", MAIL_SENDER="GroupVisits <no-reply@clinic.example.org>")
    yield inbox
    controller.stop()


@pytest.fixture
def dead_server(app):
    """Mail settings that point at a port where no server listens."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_USE_TLS=False)


def queue_invitation(user, link: str = "https://groupvisits.example.org/invitation/abc"):
    return mail.queue(
        user.email,
        "Your GroupVisits account",
        "invitation.txt",
        user=user,
        link=link,
        invited_by=None,
    )


def reload(db, message: OutboxMessage) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, message.id)


def test_queued_messages_arrive_with_address_subject_and_body(app, db, smtp_server, create_user):
    ana = create_user("patient", given_name="Ana", email="ana@clinic.example.org")
    luis = create_user("patient", given_name="Luis", email="luis@clinic.example.org")
    first = queue_invitation(ana, link="https://groupvisits.example.org/invitation/one")
    second = queue_invitation(luis, link="https://groupvisits.example.org/invitation/two")
    db.session.commit()

    assert mail.deliver_pending() == (2, 0)

    assert smtp_server.recipients == [["ana@clinic.example.org"], ["luis@clinic.example.org"]]
    to_ana, to_luis = smtp_server.messages
    assert to_ana["To"] == "ana@clinic.example.org"
    assert to_ana["From"] == "GroupVisits <no-reply@clinic.example.org>"
    assert to_ana["Subject"] == "Your GroupVisits account"
    assert to_ana["Message-ID"]
    body = to_ana.get_content()
    assert body.startswith("Hello Ana,")
    assert "https://groupvisits.example.org/invitation/one" in body
    assert "7 days" in body
    assert "Hello Luis," in to_luis.get_content()
    for message in (first, second):
        stored = reload(db, message)
        assert stored.sent_at is not None
        assert stored.attempts == 1
        assert stored.last_error == ""


def test_a_second_delivery_sends_nothing_again(app, db, smtp_server, patient):
    queue_invitation(patient)
    db.session.commit()
    assert mail.deliver_pending() == (1, 0)

    assert mail.deliver_pending() == (0, 0)

    assert len(smtp_server.messages) == 1


def test_only_new_messages_go_out_on_the_next_run(app, db, smtp_server, create_user):
    ana = create_user("patient", email="ana@clinic.example.org")
    luis = create_user("patient", email="luis@clinic.example.org")
    queue_invitation(ana)
    db.session.commit()
    mail.deliver_pending()
    queue_invitation(luis)
    db.session.commit()

    assert mail.deliver_pending() == (1, 0)

    assert [m["To"] for m in smtp_server.messages] == [ana.email, luis.email]


def test_an_invitation_from_the_account_service_arrives_with_its_working_link(
    app, db, smtp_server, coordinator, site, client
):
    newcomer = accounts.create_user(
        email="newcomer@clinic.example.org",
        role="patient",
        given_name="Dorothy",
        family_name="Williams",
        sites=[site],
        actor=coordinator,
    )
    link = accounts.invite(newcomer, actor=coordinator)
    db.session.commit()

    mail.deliver_pending()

    (message,) = smtp_server.messages
    body = message.get_content()
    assert link in body
    assert f"{coordinator.full_name} has created a GroupVisits account" in body
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    assert client.get(path).status_code == 200


def test_with_no_server_listening_the_message_stays_queued(app, db, dead_server, patient):
    message = queue_invitation(patient)
    db.session.commit()

    assert mail.deliver_pending() == (0, 1)

    stored = reload(db, message)
    assert stored.sent_at is None
    assert stored.attempts == 1
    assert "ConnectionRefusedError" in stored.last_error
    assert mail.pending_messages() == [stored]


def test_a_failed_message_is_sent_once_the_server_is_back(app, db, patient):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    message = queue_invitation(patient)
    db.session.commit()
    assert mail.deliver_pending() == (0, 1)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        app.config["MAIL_PORT"] = controller.port
        assert mail.deliver_pending() == (1, 0)
    finally:
        controller.stop()

    assert [m["To"] for m in inbox.messages] == [patient.email]
    stored = reload(db, message)
    assert stored.sent_at is not None
    assert stored.attempts == 2
    assert stored.last_error == ""


def test_after_max_attempts_a_message_is_not_tried_again(app, db, patient):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    message = queue_invitation(patient)
    db.session.commit()
    for _ in range(mail.MAX_ATTEMPTS):
        assert mail.deliver_pending() == (0, 1)
    assert reload(db, message).attempts == mail.MAX_ATTEMPTS

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        app.config["MAIL_PORT"] = controller.port
        assert mail.deliver_pending() == (0, 0)
    finally:
        controller.stop()

    assert inbox.messages == []
    stored = reload(db, message)
    assert stored.attempts == mail.MAX_ATTEMPTS
    assert stored.sent_at is None
    assert stored.last_error


def test_without_a_mail_server_messages_wait_untouched(app, db, patient):
    app.config["MAIL_SERVER"] = ""
    message = queue_invitation(patient)
    db.session.commit()

    assert mail.deliver_pending() == (0, 0)

    stored = reload(db, message)
    assert (stored.sent_at, stored.attempts) == (None, 0)


def test_a_rolled_back_change_leaves_no_message_behind(app, db, smtp_server, patient):
    queue_invitation(patient)
    db.session.rollback()

    assert mail.deliver_pending() == (0, 0)
    assert smtp_server.messages == []
    assert db.session.scalars(select(OutboxMessage)).all() == []


def test_account_mail_subjects_name_no_condition(app, db, smtp_server, coordinator, site):
    newcomer = accounts.create_user(
        email="newcomer@clinic.example.org",
        role="patient",
        given_name="Harold",
        family_name="Davis",
        sites=[site],
        actor=coordinator,
        dietary_needs="diabetic-friendly, low sodium",
        accessibility_needs="hard of hearing",
    )
    accounts.invite(newcomer, actor=coordinator)
    accounts.queue_password_reset(coordinator)
    db.session.commit()

    mail.deliver_pending()

    subjects = [m["Subject"] for m in smtp_server.messages]
    subjects += db.session.scalars(select(OutboxMessage.subject)).all()
    assert len(subjects) == 4
    for subject in subjects:
        assert "GroupVisits" in subject
        for word in CONDITION_WORDS:
            assert word not in subject.lower(), subject


def test_external_url_uses_public_base_url(app):
    app.config["PUBLIC_BASE_URL"] = "https://groupvisits.example.org/"

    link = mail.external_url("accounts.accept_invitation", token="abc.def")

    assert link == "https://groupvisits.example.org/invitation/abc.def"


def test_external_url_keeps_a_path_prefix_of_public_base_url(app):
    app.config["PUBLIC_BASE_URL"] = "https://health.example.org/groupvisits"

    link = mail.external_url("accounts.reset_password", token="xyz")

    assert link == "https://health.example.org/groupvisits/reset-password/xyz"


def test_invitation_links_use_public_base_url(app, db, coordinator, site):
    app.config["PUBLIC_BASE_URL"] = "https://groupvisits.example.org"
    newcomer = accounts.create_user(
        email="newcomer@clinic.example.org",
        role="clinician",
        discipline="dietitian",
        given_name="Samuel",
        family_name="Adeyemi",
        sites=[site],
        actor=coordinator,
    )

    link = accounts.invite(newcomer, actor=coordinator)

    assert link.startswith("https://groupvisits.example.org/invitation/")
    message = db.session.scalar(select(OutboxMessage))
    assert link in message.body


def test_delivering_to_one_address_leaves_the_others_queued(app, db, smtp_server, create_user):
    ana = create_user("patient", email="ana@clinic.example.org")
    luis = create_user("patient", email="luis@clinic.example.org")
    queue_invitation(ana)
    for_luis = queue_invitation(luis)
    db.session.commit()

    assert mail.deliver_pending(to_address=ana.email) == (1, 0)

    assert [m["To"] for m in smtp_server.messages] == [ana.email]
    assert mail.pending_messages() == [reload(db, for_luis)]


@pytest.mark.parametrize("address", [None, "", "  "])
def test_a_message_without_an_address_is_not_queued(app, db, address):
    queued = mail.queue(address, "Your GroupVisits account", "invitation.txt", user=None, link="")

    assert queued is None
    db.session.flush()
    assert db.session.scalars(select(OutboxMessage)).all() == []


def test_a_place_offered_to_a_patient_without_email_sends_no_mail(
    app, db, coordinator, create_user, create_group, site
):
    from groupvisits.roster import services as roster

    group = create_group(site, rule=None, min_members=1, target_members=1, max_members=1)
    holder = create_user("patient", email="holder@clinic.example.org")
    by_phone = create_user("patient", email=None, phone="555-0142", password=None)
    by_mail = create_user("patient", email="waiting@clinic.example.org", password=None)
    leaving = roster.enrol(group, holder, actor=coordinator)
    roster.enrol(group, by_phone, actor=coordinator)
    roster.enrol(group, by_mail, actor=coordinator)
    db.session.commit()

    roster.end_membership(leaving, "moved away", actor=coordinator)
    db.session.commit()

    assert roster.current_membership(group, by_phone).status == "offered"
    assert db.session.scalars(select(OutboxMessage)).all() == []
