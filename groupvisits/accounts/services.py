"""Account rules: creating people, invitations, sign-in, sign-out and profiles."""

import functools
import secrets
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import contains_eager

from groupvisits import audit
from groupvisits.accounts import passwords
from groupvisits.accounts.diets import (
    DIETARY_NEEDS,
    OTHER_MAX_LENGTH,
    normalise_dietary_text,
    stored_codes,
)
from groupvisits.accounts.models import (
    CLINICIAN,
    DISCIPLINES,
    PATIENT,
    ROLES,
    Invitation,
    PasswordResetRequest,
    PatientProfile,
    SignIn,
    User,
    new_stamp,
    user_sites,
)
from groupvisits.errors import Conflict, InvalidToken, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.locking import lock_row
from groupvisits.mail import services as mail
from groupvisits.permissions import can_manage_site
from groupvisits.sites.models import Site, clean_phone
from groupvisits.timeutil import utcnow

#: Fields a patient may change on their own profile page.
PATIENT_SELF_FIELDS = ("preferred_name", "phone")
#: Patient profile columns a coordinator edits with the account.
PROFILE_COLUMNS = (
    "date_of_birth",
    "preferred_language",
    "dietary_needs",
    "dietary_other",
    "accessibility_needs",
    "medical_record_number",
)
PATIENT_PROFILE_FIELDS = ("preferred_language", "accessibility_needs")
#: Changes of these go through :func:`_diet_columns`.
DIET_FIELDS = ("dietary_needs", "dietary_other")

#: Why a patient without email gets no invitation.
NO_EMAIL = (
    "This patient has no email address: they cannot sign in; "
    "the clinic records their answers by phone."
)
STAFF_NEED_EMAIL = "Staff sign in with their email address: please give one."
NO_WAY_TO_REACH = (
    "Give an email address or a phone number: the clinic needs a way to reach this patient."
)


#: What a link that was used (or is otherwise spent) answers.
LINK_USED = "This link has already been used or is no longer valid."


class SignInFailed(ValidationFailed):
    """Wrong email or password (deliberately vague)."""


def normalise_email(email: str | None) -> str:
    """The address as stored: trimmed and lower-cased ("" for none)."""
    return (email or "").strip().lower()


def find_user_by_email(email: str | None) -> User | None:
    """The account with this address; nobody for an empty one."""
    email = normalise_email(email)
    if not email:
        return None
    return db.session.scalar(select(User).where(User.email == email))


def _clean_phone(phone: str | None) -> str:
    """:raises ValidationFailed: the number cannot be dialled (letters, too few digits)."""
    try:
        return clean_phone(phone or "")
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="phone") from exc


def _check_contact(role: str, email: str | None, phone: str) -> None:
    """:raises ValidationFailed: staff without email, or a patient with neither email nor phone."""
    if email:
        return
    if role != PATIENT:
        raise ValidationFailed(STAFF_NEED_EMAIL, field="email")
    if not phone:
        raise ValidationFailed(NO_WAY_TO_REACH, field="phone")


def _diet_columns(needs: str | Iterable[str], other: str = "") -> dict[str, str]:
    """The profile's dietary columns from ticked codes (or free text, read through the
    synonyms) and a need not on the list.

    :raises ValidationFailed: a code not on the list, or an "other" text too long.
    """
    if isinstance(needs, str):
        codes, typed = normalise_dietary_text(needs)
    else:
        codes, typed = list(needs or ()), ""
        if any(code not in DIETARY_NEEDS for code in codes):
            raise ValidationFailed("Choose dietary needs from the list.", field="dietary_needs")
    other = ", ".join(part for part in (typed, " ".join((other or "").split())) if part)
    if len(other) > OTHER_MAX_LENGTH:
        raise ValidationFailed(
            f"Say the other dietary need in at most {OTHER_MAX_LENGTH} characters.",
            field="dietary_other",
        )
    return {"dietary_needs": stored_codes(codes), "dietary_other": other}


def create_user(
    *,
    email: str | None,
    role: str,
    given_name: str,
    family_name: str,
    sites: list[Site],
    actor: User | None,
    preferred_name: str = "",
    phone: str = "",
    discipline: str | None = None,
    training_year: int | None = None,
    password: str | None = None,
    date_of_birth: date | None = None,
    preferred_language: str = "English",
    dietary_needs: str | Iterable[str] = "",
    dietary_other: str = "",
    accessibility_needs: str = "",
    medical_record_number: str | None = None,
) -> User:
    """Create an account; patients get a profile, staff a discipline.

    :param email: None or "" for a patient without email (they then need a phone).
    :param dietary_needs: codes of ``DIETARY_NEEDS``, or free text read through the synonyms.
    :param actor: the coordinator doing it, or None from the command line.
    :raises Conflict: the email (or medical record number) is already used.
    :raises ValidationFailed: the role, discipline, sites, phone or contact details do not fit.
    """
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role {role!r}.")
    if not sites:
        raise ValidationFailed("Choose at least one site.")
    if actor is not None and not all(can_manage_site(actor, site) for site in sites):
        raise NotAllowed("You can only add people to sites you coordinate.")
    if role == CLINICIAN:
        if discipline not in DISCIPLINES:
            raise ValidationFailed("Choose the clinician's discipline.")
        if discipline == "resident" and not training_year:
            raise ValidationFailed("Give the resident's training year (PGY).")
        if discipline != "resident":
            training_year = None
    else:
        discipline = training_year = None
    email = normalise_email(email) or None
    phone = _clean_phone(phone)
    _check_contact(role, email, phone)
    if find_user_by_email(email):
        raise Conflict(f"There is already an account for {email}.")
    medical_record_number = (medical_record_number or "").strip() or None
    _check_record_number_free(medical_record_number, None)
    diet = _diet_columns(dietary_needs, dietary_other)
    user = User(
        email=email,
        role=role,
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        preferred_name=preferred_name.strip(),
        phone=phone,
        discipline=discipline,
        training_year=training_year,
        sites=list(sites),
        password_hash=passwords.hash_password(password) if password else None,
    )
    if role == PATIENT:
        user.patient_profile = PatientProfile(
            date_of_birth=date_of_birth,
            preferred_language=preferred_language or "English",
            **diet,
            accessibility_needs=accessibility_needs,
            medical_record_number=medical_record_number or None,
        )
    db.session.add(user)
    db.session.flush()
    if role == PATIENT:
        audit.record(actor, "create", user, "patient", user.id)
    return user


def update_user(user: User, changes: dict, *, actor: User) -> User:
    """Apply a coordinator's edit of an account.

    Taking a patient's email away (they have none any more) ends their sign-ins:
    without an address nobody signs in to the account.

    :raises Conflict: the new email belongs to someone else.
    :raises ValidationFailed: a phone that cannot be dialled, staff without email, or a
        patient left with neither email nor phone.
    """
    if "phone" in changes:
        changes["phone"] = _clean_phone(changes["phone"])
    if "email" in changes:
        changes["email"] = normalise_email(changes["email"]) or None
    _check_contact(user.role, changes.get("email", user.email), changes.get("phone", user.phone))
    if "email" in changes:
        email = changes.pop("email")
        other = find_user_by_email(email)
        if other is not None and other.id != user.id:
            raise Conflict(f"There is already an account for {email}.")
        if email != user.email:
            # Links already sent (an invitation to a mistyped address, say) stop working.
            user.security_stamp = new_stamp()
            if user.has_password:
                # Someone who uses the account hears of it, without the new address:
                # the old one may belong to someone else.
                mail.queue(
                    user.email,
                    "Your sign-in email was changed",
                    "email_changed.txt",
                    user=user,
                    actor=actor,
                    removed=email is None,
                )
            if email is None:
                end_all_sign_ins(user, "email removed")
        user.email = email
    if "sites" in changes:
        sites = changes.pop("sites")
        if not sites:
            raise ValidationFailed("Choose at least one site.")
        # A coordinator may only add or remove the sites they coordinate.
        kept = [site for site in user.sites if site.id not in actor.site_ids]
        user.sites = kept + [site for site in sites if site.id in actor.site_ids]
    profile_changes = {k: changes.pop(k) for k in list(changes) if k in PROFILE_COLUMNS}
    for key, value in changes.items():
        setattr(user, key, value)
    if user.role != CLINICIAN:
        user.discipline = user.training_year = None
    elif user.discipline != "resident":
        user.training_year = None
    if user.patient_profile is not None:
        if "medical_record_number" in profile_changes:
            number = (profile_changes["medical_record_number"] or "").strip() or None
            _check_record_number_free(number, user.patient_profile)
            profile_changes["medical_record_number"] = number
        if any(key in profile_changes for key in DIET_FIELDS):
            profile = user.patient_profile
            codes, other = profile.diet
            profile_changes.update(
                _diet_columns(
                    profile_changes.pop("dietary_needs", codes),
                    profile_changes.pop("dietary_other", other),
                )
            )
        for key, value in profile_changes.items():
            setattr(user.patient_profile, key, value)
    db.session.flush()
    if user.is_patient:
        audit.record(actor, "update", user, "patient", user.id)
    return user


def _check_record_number_free(number: str | None, profile: PatientProfile | None) -> None:
    """:raises Conflict: another patient already has this medical record number."""
    if not number:
        return
    holder = db.session.scalar(
        select(PatientProfile).where(PatientProfile.medical_record_number == number)
    )
    if holder is not None and holder is not profile:
        raise Conflict(
            "Another patient already has that medical record number.",
            field="medical_record_number",
        )


def update_own_profile(patient: User, changes: dict, *, actor: User) -> User:
    """A patient changes their own contact details and needs.

    :raises ValidationFailed: a phone that cannot be dialled, or a dietary need off the list.
    """
    if actor.id != patient.id:
        raise NotAllowed("Only the patient can change this page.")
    if "phone" in changes:
        changes = {**changes, "phone": _clean_phone(changes["phone"])}
        _check_contact(patient.role, patient.email, changes["phone"])
    profile = patient.patient_profile
    if any(key in changes for key in DIET_FIELDS):
        codes, other = profile.diet
        diet = _diet_columns(
            changes.get("dietary_needs", codes), changes.get("dietary_other", other)
        )
    else:
        diet = {}
    for key in PATIENT_SELF_FIELDS:
        if key in changes:
            setattr(patient, key, (changes[key] or "").strip())
    for key in PATIENT_PROFILE_FIELDS:
        if key in changes:
            setattr(profile, key, (changes[key] or "").strip())
    for key, value in diet.items():
        setattr(profile, key, value)
    db.session.flush()
    audit.record(actor, "update", patient, "profile", patient.id)
    return patient


def set_active(user: User, active: bool, *, actor: User) -> None:
    """Deactivate (ending every sign-in) or reactivate an account."""
    if user.id == actor.id and not active:
        raise NotAllowed("You cannot deactivate your own account.")
    user.active = active
    if not active:
        end_all_sign_ins(user, "deactivated")
    if user.is_patient:
        audit.record(actor, "reactivate" if active else "deactivate", user, "patient", user.id)


# Invitations and passwords


def invite(user: User, *, actor: User | None) -> str:
    """Queue an invitation email with a signed link; returns the link.

    The link expires (INVITATION_MAX_AGE) and dies once a password is set.
    """
    if not user.email:
        raise ValidationFailed(NO_EMAIL, field="email")
    if not user.active:
        raise ValidationFailed("Reactivate the account before inviting this person.")
    if user.has_password:
        raise ValidationFailed(
            "This person has already set a password; they can use “Forgot your password?”."
        )
    token = passwords.make_token(passwords.INVITATION, user.id, user.security_stamp)
    link = mail.external_url("accounts.accept_invitation", token=token)
    user.invited_at = utcnow()
    db.session.add(Invitation(user=user, invited_by=actor))
    mail.queue(
        user.email,
        "Your GroupVisits account",
        "invitation.txt",
        user=user,
        link=link,
        invited_by=actor,
    )
    if user.is_patient:
        audit.record(actor, "invite", user, "patient", user.id)
    return link


def request_password_reset(email: str) -> None:
    """Note that someone asked for a reset link for ``email``; ``send-mail`` answers it.

    Known and unknown addresses take exactly this path (one row written), so that
    neither the page nor its timing reveals who has an account.
    """
    db.session.add(PasswordResetRequest(email=normalise_email(email)[:254]))


def queue_password_reset(user: User) -> str:
    """Queue a reset link for ``user``; returns the link."""
    token = passwords.make_token(passwords.PASSWORD_RESET, user.id, user.security_stamp)
    link = mail.external_url("accounts.reset_password", token=token)
    mail.queue(
        user.email, "Reset your GroupVisits password", "password_reset.txt", user=user, link=link
    )
    return link


def answer_reset_requests(limit: int = 500) -> int:
    """Turn waiting reset requests into links for active accounts; forget the rest.

    Each address gets at most one link per run, however often it was typed.
    Returns how many links were queued.
    """
    requests = db.session.scalars(
        select(PasswordResetRequest).order_by(PasswordResetRequest.id).limit(limit)
    ).all()
    queued = 0
    for email in dict.fromkeys(asked.email for asked in requests):
        user = find_user_by_email(email)
        if user is not None and user.active:
            queue_password_reset(user)
            queued += 1
    for asked in requests:
        db.session.delete(asked)
    db.session.flush()
    return queued


def user_for_token(purpose: str, token: str) -> User:
    """The account a signed link is for, if the link is still good.

    :raises InvalidToken: forged, expired, or already used (the password changed since).
    """
    user_id, stamp = passwords.read_token(purpose, token)
    user = db.session.get(User, user_id)
    if user is None or not user.active or not secrets.compare_digest(stamp, user.security_stamp):
        raise InvalidToken(LINK_USED)
    return user


def set_password_from_link(purpose: str, token: str, password: str) -> User:
    """Set the password a mailed link is for; of two uses at once, only the first counts.

    The password is hashed first, then the account is locked and the link checked
    again: a use that waited for the lock finds the link spent.

    :raises InvalidToken: the link is bad, expired or already used.
    :raises ValidationFailed: the password is too weak.
    """
    user = user_for_token(purpose, token)
    check_password_strength(password, user)
    password_hash = passwords.hash_password(password)
    checked_stamp = user.security_stamp
    user = lock_row(User, user.id)
    if not user.active or not secrets.compare_digest(checked_stamp, user.security_stamp):
        raise InvalidToken(LINK_USED)
    _store_password(user, password_hash, "password changed")
    return user


def set_password(user: User, password: str, *, reason: str = "password changed") -> None:
    """Store a new password, kill earlier links and end every sign-in."""
    check_password_strength(password, user)
    _store_password(user, passwords.hash_password(password), reason)


def _store_password(user: User, password_hash: str, reason: str) -> None:
    user.password_hash = password_hash
    user.security_stamp = new_stamp()
    end_all_sign_ins(user, reason)
    invitation = db.session.scalar(
        select(Invitation)
        .where(Invitation.user_id == user.id, Invitation.accepted_at.is_(None))
        .order_by(Invitation.id.desc())
    )
    if invitation is not None:
        invitation.accepted_at = utcnow()


def change_password(user: User, current_password: str, new_password: str) -> None:
    """A signed-in person changes their password, proving the current one.

    :raises ValidationFailed: the current password is wrong.
    """
    if not passwords.verify_password(user.password_hash, current_password):
        raise ValidationFailed("Your current password is not right.")
    set_password(user, new_password)


COMMON_PASSWORDS = {"password1234", "123456789012", "qwertyuiopas", "groupvisits1"}


def check_password_strength(password: str, user: User) -> None:
    """:raises ValidationFailed: too short, too common or built from the email."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise ValidationFailed(f"Use at least {minimum} characters.")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or lowered == (user.email or "").split("@")[0]:
        raise ValidationFailed("That password is too easy to guess. Try a short sentence.")


# Sign-in sessions kept on the server


def authenticate(email: str, password: str) -> User:
    """The active account with this email and password.

    :raises SignInFailed: unknown email, wrong password or inactive account.
    """
    user = find_user_by_email(email)
    if not passwords.verify_password(user.password_hash if user else None, password):
        raise SignInFailed("That email and password do not match an account.")
    if not user.active:
        raise SignInFailed("That email and password do not match an account.")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def start_sign_in(user: User, *, ip_address: str = "", user_agent: str = "") -> SignIn:
    """Open a server-side sign-in; its raw token goes into the browser's cookie."""
    token = secrets.token_urlsafe(32)
    sign_in = SignIn(
        user=user,
        token_hash=SignIn.hash_token(token),
        ip_address=ip_address[:64],
        user_agent=user_agent[:255],
    )
    sign_in.token = token
    user.last_sign_in_at = utcnow()
    db.session.add(sign_in)
    db.session.flush()
    return sign_in


def end_sign_in(sign_in: SignIn, reason: str) -> None:
    """Close one sign-in: its cookie no longer works anywhere."""
    if sign_in.ended_at is None:
        sign_in.ended_at = utcnow()
        sign_in.ended_reason = reason
        # Search words and messages are patient data: they end with the sign-in.
        sign_in.searches = sign_in.messages = None


def end_all_sign_ins(user: User, reason: str) -> None:
    """Close every open sign-in of ``user`` (password change, deactivation)."""
    db.session.execute(
        update(SignIn)
        .where(SignIn.user_id == user.id, SignIn.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason, searches=None, messages=None)
        .execution_options(synchronize_session=False)
    )


@functools.cache
def _sign_in_query():
    """One query for a sign-in, its user and the user's sites (every request runs it).

    Built once: the statement is the same on every request, only the token differs.
    The joins are written out flat: joinedload would nest user_sites JOIN sites inside
    the outer join, which SQLite answers by materializing every user's sites first.
    """
    return (
        select(SignIn)
        .join(SignIn.user)
        .outerjoin(user_sites, user_sites.c.user_id == User.id)
        .outerjoin(Site, Site.id == user_sites.c.site_id)
        .where(SignIn.token_hash == bindparam("token_hash"))
        .order_by(Site.name)
        .options(contains_eager(SignIn.user).contains_eager(User.sites))
    )


def load_sign_in(
    token: str, *, idle_timeout: timedelta, now: datetime | None = None
) -> User | None:
    """The user behind an open, recently used sign-in, or None.

    A sign-in idle for longer than ``idle_timeout`` is ended for good. Its
    ``last_seen_at`` is refreshed at most once a minute, in a small
    transaction of its own so that the request's own work is not committed.
    """
    now = now or utcnow()
    sign_in = (
        db.session.execute(_sign_in_query(), {"token_hash": SignIn.hash_token(token)})
        .unique()
        .scalar_one_or_none()
    )
    if sign_in is None or sign_in.ended_at is not None:
        return None
    if now - sign_in.last_seen_at > idle_timeout:
        _write_apart(sign_in.id, ended_at=now, ended_reason="idle", searches=None, messages=None)
        return None
    if now - sign_in.last_seen_at > timedelta(minutes=1):
        _write_apart(sign_in.id, last_seen_at=now)
    user = sign_in.user
    if not user.active:
        return None
    sign_in.token = token
    user.current_sign_in = sign_in
    return user


def _write_apart(sign_in_id: int, **values) -> None:
    with db.engine.begin() as connection:
        connection.execute(update(SignIn).where(SignIn.id == sign_in_id).values(**values))


def count_open_sign_ins(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(SignIn)
        .where(SignIn.user_id == user.id, SignIn.ended_at.is_(None))
    )


def find_patients(site_id: int, text: str, *, exclude: set[int] = frozenset(), limit: int = 10):
    """Active patients of a site whose name, email, phone or record number contains ``text``."""

    text = text.strip().lower()[:100]
    if len(text) < 2:
        return []
    pattern = f"%{text}%"
    query = (
        select(User)
        .join(user_sites, user_sites.c.user_id == User.id)
        .outerjoin(PatientProfile, PatientProfile.user_id == User.id)
        .where(
            user_sites.c.site_id == site_id,
            User.role == PATIENT,
            User.active.is_(True),
            func.lower(User.given_name).like(pattern)
            | func.lower(User.family_name).like(pattern)
            | func.lower(User.preferred_name).like(pattern)
            # Emails match from their start: "ri" must not find every "@riverside..." address.
            | User.email.like(f"{text}%")
            | User.phone.like(pattern)
            | func.lower(PatientProfile.medical_record_number).like(pattern),
        )
        .order_by(User.family_name, User.given_name, User.id)
        .options(contains_eager(User.patient_profile))
        .limit(limit + len(exclude))
    )
    return [user for user in db.session.scalars(query) if user.id not in exclude][:limit]
