"""Queue messages in the outbox and deliver them over SMTP."""

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, has_request_context, render_template, request
from sqlalchemy import select

from groupvisits.extensions import db
from groupvisits.mail.models import OutboxMessage
from groupvisits.timeutil import utcnow

#: A message is given up after this many failed attempts.
MAX_ATTEMPTS = 5


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an email, built without needing a request."""
    base = current_app.config.get("PUBLIC_BASE_URL") or (
        request.url_root if has_request_context() else "http://127.0.0.1:5000/"
    )
    adapter = current_app.url_map.bind("localhost", script_name="/")
    return base.rstrip("/") + adapter.build(endpoint, values)


def queue(to_address: str | None, subject: str, template: str, **context) -> OutboxMessage | None:
    """Add a message to the outbox in the current transaction; nothing for no address.

    A patient without email (``to_address`` None or "") gets no message: the clinic
    phones them, and staff see who to call on the session page.

    :param template: a plain-text template under ``templates/mail/``.
    """
    if not (to_address or "").strip():
        return None
    message = OutboxMessage(
        to_address=to_address,
        subject=subject,
        body=render_template(f"mail/{template}", **context),
    )
    db.session.add(message)
    return message


def pending_messages(limit: int = 100, *, to_address: str | None = None) -> list[OutboxMessage]:
    """Messages not yet sent and not given up on, oldest first; only to ``to_address`` if given."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if to_address is not None:
        query = query.where(OutboxMessage.to_address == to_address)
    return list(db.session.scalars(query))


def deliver_pending(limit: int = 100, *, to_address: str | None = None) -> tuple[int, int]:
    """Send waiting messages over SMTP; commit each result as it happens.

    Returns ``(sent, failed)``. With no ``MAIL_SERVER`` configured nothing is
    sent and the messages stay queued. Each message is marked sent in its own
    commit right after the server accepted it, so a crash can at worst repeat
    one message, never lose one. The ``flask groupvisits send-mail`` command
    sends them all; a request sends at most its own (``to_address``), so that
    it never waits on mail that others queued.
    """
    config = current_app.config
    if not config["MAIL_SERVER"]:
        return 0, 0
    sent = failed = 0
    for message in pending_messages(limit, to_address=to_address):
        message.attempts += 1
        try:
            _send(message)
        except (OSError, smtplib.SMTPException) as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            failed += 1
        else:
            message.sent_at = utcnow()
            message.last_error = ""
            sent += 1
        db.session.commit()
    return sent, failed


def _send(message: OutboxMessage) -> None:
    config = current_app.config
    email = EmailMessage()
    email["From"] = config["MAIL_SENDER"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(idstring=f"outbox-{message.id}")
    email.set_content(message.body)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(email)
