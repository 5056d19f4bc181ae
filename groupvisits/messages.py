"""One-time messages ("Rosa Lopez is now a member.") kept on the server, not in the cookie.

Flask keeps flashed messages in the session cookie, which is signed but not
encrypted, and messages here often name a patient. For a signed-in person
they are therefore kept with the sign-in. :func:`flash` collects them during
the request and :func:`get_flashed_messages` (the one templates call) hands
them out once. What was added and shown is written when the request is over,
after the request's own database session is closed: the write never waits
on a lock the request still holds, and a view that rolls back loses no
message. Messages to visitors who are not signed in (sign-in errors, "You
are signed out.") never name a patient and use Flask's own flashing.
"""

import secrets

import flask
from flask import Flask, current_app, g
from flask.signals import appcontext_tearing_down
from flask_login import current_user
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.attributes import set_committed_value

from groupvisits.accounts.models import SignIn
from groupvisits.extensions import db

#: Messages kept at once; a burst beyond this keeps the newest.
MAX_KEPT = 20


def _open_sign_in() -> SignIn | None:
    if not current_user.is_authenticated:
        return None
    sign_in = current_user.current_sign_in
    return sign_in if sign_in is not None and sign_in.ended_at is None else None


def _changes(sign_in: SignIn) -> dict:
    """What this request adds to and takes from the sign-in's messages."""
    return g.setdefault("message_changes", {"sign_in_id": sign_in.id, "add": [], "shown": []})


def flash(message: str, category: str = "message") -> None:
    """Show ``message`` on the next page this person sees."""
    sign_in = _open_sign_in()
    if sign_in is None:
        flask.flash(message, category)
    else:
        _changes(sign_in)["add"].append([secrets.token_hex(6), category, message])


def get_flashed_messages(with_categories: bool = False) -> list:
    """The messages waiting for this person, each handed out once."""
    messages = list(flask.get_flashed_messages(with_categories=True))
    sign_in = _open_sign_in()
    if sign_in is not None:
        changes = _changes(sign_in)
        stored, added = sign_in.messages or [], changes["add"]
        changes["shown"] += [key for key, _, _ in stored]
        changes["add"] = []  # shown in this very response: nothing left to keep
        messages += [(category, text) for _, category, text in stored + added]
        # Taken: a second call in this request finds nothing (the row is written later).
        set_committed_value(sign_in, "messages", None)
    return messages if with_categories else [text for _, text in messages]


def _write_changes(sender: Flask, **extra) -> None:
    """When the request is over: keep what was added, forget what was shown."""
    changes = g.pop("message_changes", None)
    if not changes or not (changes["add"] or changes["shown"]):
        return
    try:
        with db.engine.begin() as connection:
            row = SignIn.__table__.c
            kept = connection.scalar(
                select(row.messages).where(row.id == changes["sign_in_id"]).with_for_update()
            )
            shown = set(changes["shown"])
            messages = [m for m in kept or [] if m[0] not in shown] + changes["add"]
            connection.execute(
                update(SignIn.__table__)
                .where(row.id == changes["sign_in_id"])
                .values(messages=messages[-MAX_KEPT:] or None)
            )
    except SQLAlchemyError:  # a lost message must not turn a finished request into an error
        current_app.logger.exception(
            "Could not keep the messages of sign-in %s", changes["sign_in_id"]
        )


def register_messages(app: Flask) -> None:
    # Sent after every teardown function, Flask-SQLAlchemy's closing of the session included.
    appcontext_tearing_down.connect(_write_changes, app)
    app.jinja_env.globals["get_flashed_messages"] = get_flashed_messages
