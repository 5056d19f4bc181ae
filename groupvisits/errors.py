"""Domain exceptions and the friendly HTTP error pages."""

import logging

from flask import Flask, render_template, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from groupvisits.extensions import db

log = logging.getLogger(__name__)


class GroupVisitsError(Exception):
    """A rule of the clinic was broken; the message is safe to show to the user.

    ``field`` names the form field the message belongs to, when there is one.
    """

    status_code = 400

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAllowed(GroupVisitsError):
    """The acting user may not do this."""

    status_code = 403


class ValidationFailed(GroupVisitsError):
    """Input that passed the form but breaks a rule of the domain."""

    status_code = 422


class Conflict(GroupVisitsError):
    """The change clashes with the current state (taken email, used link...)."""

    status_code = 409


class InvalidToken(GroupVisitsError):
    """A signed link is invalid, expired or already used."""

    status_code = 400


ERROR_TITLES = {
    400: "That request could not be understood",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That action is not allowed here",
    409: "That clashes with a recent change",
    413: "That upload is too large",
    422: "Please check what you entered",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}


def render_error(status: int, message: str | None = None):
    """Render the error page for ``status`` with an optional explanation."""
    title = ERROR_TITLES.get(status, "Something went wrong")
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    """Show friendly pages instead of Werkzeug's defaults, for every HTTP error."""

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        if exc.code == 429:
            message = (
                "There were too many sign-in attempts. Please wait a few minutes and try again."
            )
        elif exc.code in (403, 404, 405, 500):
            message = None
        else:
            message = exc.description
        if exc.code == 400 and "CSRF" in (exc.description or ""):
            message = "Your form expired. Please go back, reload the page and try again."
        return render_error(exc.code or 500, message)

    @app.errorhandler(GroupVisitsError)
    def handle_domain_error(exc: GroupVisitsError):
        return render_error(exc.status_code, str(exc))

    @app.errorhandler(IntegrityError)
    def handle_conflicting_write(exc: IntegrityError):
        # Two people saved clashing changes at once and the database kept one (a unique
        # record number, the last place of a group). The loser is told, not shown a 500.
        # The statement's text and values stay out of the log: they may hold patient data.
        log.warning(
            "Conflicting write on %s %s: %s", request.method, request.path, type(exc.orig).__name__
        )
        db.session.rollback()
        return render_error(
            409,
            "Someone saved a change that clashes with yours at the same moment, so yours was "
            "not saved. Please go back, check the page and try again.",
        )

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return render_error(500)
