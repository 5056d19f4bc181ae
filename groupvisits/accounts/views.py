"""Routes for signing in and out, links sent by mail, passwords and profiles."""

import hashlib
import hmac
from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_login import current_user, login_user, logout_user
from limits.storage import MemcachedStorage

from groupvisits import audit
from groupvisits.accounts import bp, passwords, services
from groupvisits.accounts.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    ProfileForm,
    SetPasswordForm,
    SignInForm,
    diet_data,
)
from groupvisits.accounts.models import PATIENT
from groupvisits.errors import GroupVisitsError, InvalidToken, ValidationFailed
from groupvisits.extensions import db, limiter
from groupvisits.formutil import form_status
from groupvisits.messages import flash
from groupvisits.permissions import public, roles, signed_in


def safe_next_url(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects)."""
    if not target:
        return None
    target = target.strip()
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _login_email_key() -> str:
    """The throttle's key for an account: a keyed hash, so that no address reaches the
    limiter's log lines or its shared store."""
    email = services.normalise_email(request.form.get("email", ""))[:254]
    secret = current_app.config["SECRET_KEY"].encode()
    return "signin:" + hmac.new(secret, email.encode(), hashlib.sha256).hexdigest()[:32]


def _forgive_this_attempt() -> None:
    """Give back, on every limit this sign-in was counted against, the try it used.

    Every attempt is counted before its password is checked, so that guesses sent
    all at once cannot pass the limit together; a sign-in that worked is then no
    longer held against the person or their address.
    """
    for counted in limiter.current_limits:
        storage = limiter.storage
        if isinstance(storage, MemcachedStorage):
            # Memcached cannot add a negative amount; its DECR (which stops at 0) can.
            storage.call_memcached_func(storage.storage.decr, counted.key, 1, noreply=True)
        else:
            limiter.limiter.hit(counted.limit, *counted.request_args, cost=-1)


def _empty_cookie_session() -> None:
    """Empty the cookie session (its CSRF token too): a shared device hands nothing on."""
    cookie_session.clear()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_login_email_key,
    methods=["POST"],
)
@public
def login():
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    form = SignInForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except services.SignInFailed as exc:
            form.password.errors.append(str(exc))
        else:
            sign_in = services.start_sign_in(
                user,
                ip_address=request.remote_addr or "",
                user_agent=request.user_agent.string,
            )
            user.current_sign_in = sign_in
            _empty_cookie_session()
            login_user(user)
            db.session.commit()
            _forgive_this_attempt()
            return redirect(safe_next_url(request.args.get("next")) or url_for("dashboard.home"))
    return render_template("accounts/login.html", form=form), form_status(form)


@bp.post("/logout")
@signed_in
def logout():
    """Sign out: the sign-in is ended on the server, so its cookie is worthless."""
    services.end_sign_in(current_user.current_sign_in, "signed out")
    db.session.commit()
    _empty_cookie_session()
    logout_user()
    flash("You are signed out.", "success")
    return redirect(url_for("accounts.login"))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token):
    """Set a first password from an invitation link."""
    return _set_password_from_link(passwords.INVITATION, token, "accounts/accept_invitation.html")


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@public
def reset_password(token):
    """Choose a new password from a reset link."""
    return _set_password_from_link(passwords.PASSWORD_RESET, token, "accounts/reset_password.html")


def _set_password_from_link(purpose: str, token: str, template: str):
    if current_user.is_authenticated:
        # Opening a link is a GET: it changes nothing, not even who is signed in.
        message = "You are signed in. Sign out first, then open the link again."
        return render_template("accounts/bad_link.html", message=message, signed_in=True), 409
    try:
        user = services.user_for_token(purpose, token)
    except InvalidToken as exc:
        return render_template("accounts/bad_link.html", message=str(exc)), 400
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            services.set_password_from_link(purpose, token, form.password.data)
        except InvalidToken as exc:  # used meanwhile, by a request that ran at the same time
            db.session.rollback()
            return render_template("accounts/bad_link.html", message=str(exc)), 400
        except ValidationFailed as exc:
            form.password.errors.append(str(exc))
        else:
            db.session.commit()
            flash("Your password is saved. Please sign in.", "success")
            return redirect(url_for("accounts.login"))
    status = form_status(form)
    return render_template(template, form=form, user=user), status


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
@public
def forgot_password():
    """Ask for a password reset link by email."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # Only queued: `flask groupvisits send-mail` sends it. Sending here would make
        # known addresses answer slower than unknown ones, and let any visitor make
        # the server open mail connections.
        services.request_password_reset(form.email.data)
        db.session.commit()
        flash(
            "If that address belongs to an account, a link to reset the password is on its way.",
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form), form_status(form)


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def change_password():
    """Change one's own password; every other sign-in ends."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.password.data)
        except ValidationFailed as exc:
            form.current_password.errors.append(str(exc))
        else:
            db.session.commit()
            _empty_cookie_session()
            logout_user()
            flash("Your password is changed. Please sign in again.", "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/change_password.html", form=form), form_status(form)


@bp.route("/profile", methods=["GET", "POST"])
@roles(PATIENT)
def edit_profile():
    """A patient's own contact details and needs."""
    patient = current_user
    profile = patient.patient_profile
    form = ProfileForm(
        data={
            "preferred_name": patient.preferred_name,
            "phone": patient.phone,
            "preferred_language": profile.preferred_language,
            "accessibility_needs": profile.accessibility_needs,
            **diet_data(profile),
        }
    )
    if form.validate_on_submit():
        try:
            services.update_own_profile(patient, {**form.data, **form.diet}, actor=current_user)
        except GroupVisitsError as exc:
            db.session.rollback()  # none of a refused change is kept
            getattr(form, exc.field or "phone").errors.append(str(exc))
        else:
            db.session.commit()
            flash("Your details are saved.", "success")
            return redirect(url_for("accounts.edit_profile"))
    if request.method == "GET":
        audit.record(current_user, "view", patient, "profile", patient.id)
        db.session.commit()
    return render_template("accounts/profile.html", form=form, patient=patient), form_status(form)
