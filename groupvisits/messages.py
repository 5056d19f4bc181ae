"""One-time messages ("Rosa Lopez is now a member.") kept on the server, not in the cookie.

Flask keeps flashed messages in the session cookie, which is signed but not
encrypted, and messages here often name a patient. For a signed-in person
they are therefore kept with the sign-in. :func:`flash` collects them during
the request and :func:`get_flashed_messages` (the one templates call) hands
them out once. What was added and shown is written when the request is over,
after the request's own database session is closed: the write never waits
on a lock the request still holds, and a view that rolls back loses no
message. Messages to visitors who are not signed in (sign-in errors, "You
are signed out.") never name a patient and use Flask's own flashing. A
message flashed with Flask's own ``flash`` for a signed-in person (by an
extension, or by code that imported the wrong one) is moved out of the
cookie to the server before the response leaves.
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
from groupvisits.locking import hold_sqlite_for_writing

#: Messages kept at once; a burst beyond this keeps the newest.
MAX_KEPT = 20


def _open_sign_in() -> SignIn | None:
    if not current_user.is_authenticated:
        return None
    sign_in = current_user.current_sign_in
    return sign_in if sign_in is not None and sign_in.ended_at is None else None


def _changes(sign_in: SignIn) -> dict:
    """What this request adds to the sign-in's messages and what its page shows."""
    return g.setdefault(
        "message_changes",
        {"sign_in_id": sign_in.id, "add": [], "rendered": set(), "answered": False},
    )


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
    if sign_in is not None and (sign_in.messages or "message_changes" in g):
        changes = _changes(sign_in)
        stored = sign_in.messages or []
        waiting = [m for m in stored + changes["add"] if m[0] not in changes["rendered"]]
        changes["rendered"].update(key for key, _, _ in waiting)
        messages += [(category, text) for _, category, text in waiting]
        # A second call in this request finds nothing new (the row is written later).
        set_committed_value(sign_in, "messages", None)
    return messages if with_categories else [text for _, text in messages]


def _answered(response):
    """A response exists: what its page showed counts as shown.

    Messages Flask's own ``flash`` left in the cookie for a signed-in person
    move to the sign-in instead.
    """
    if "_flashes" in flask.session:
        sign_in = _open_sign_in()
        if sign_in is not None:
            add = _changes(sign_in)["add"]
            for category, message in flask.session.pop("_flashes"):
                add.append([secrets.token_hex(6), category, message])
    changes = g.get("message_changes")
    if changes is not None:
        changes["answered"] = True
    return response


def _write_changes(sender: Flask, **extra) -> None:
    """When the request is over: keep what was added and not shown, forget what was shown.

    If the request ended without a response (its page failed), nothing counts as shown.
    """
    changes = g.pop("message_changes", None)
    if not changes:
        return
    shown = changes["rendered"] if changes["answered"] else set()
    add = [m for m in changes["add"] if m[0] not in shown]
    if not add and not shown:
        return
    row = SignIn.__table__.c
    open_sign_in = (row.id == changes["sign_in_id"]) & row.ended_at.is_(None)
    try:
        with db.engine.begin() as connection:
            # Two requests of one person must not both rewrite the same list.
            hold_sqlite_for_writing(connection)
            kept = connection.execute(
                select(row.messages).where(open_sign_in).with_for_update()
            ).one_or_none()
            if kept is None:
                return  # the sign-in ended meanwhile: its messages went with it
            messages = [m for m in kept.messages or [] if m[0] not in shown] + add
            connection.execute(
                update(SignIn.__table__)
                .where(open_sign_in)
                .values(messages=messages[-MAX_KEPT:] or None)
            )
    except SQLAlchemyError as exc:  # a lost message must not fail a finished request
        # The error's text would hold the messages (patient names): log its kind only.
        current_app.logger.error(
            "Could not keep the messages of sign-in %s: %s",
            changes["sign_in_id"],
            type(exc).__name__,
        )


def register_messages(app: Flask) -> None:
    # Sent after every teardown function, Flask-SQLAlchemy's closing of the session included.
    app.after_request(_answered)
    appcontext_tearing_down.connect(_write_changes, app)
    app.jinja_env.globals["get_flashed_messages"] = get_flashed_messages
