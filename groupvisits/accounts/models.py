"""People and their sign-ins: one account per person, with a role."""

import hashlib
import re
import secrets
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from groupvisits.accounts.diets import DIETARY_NEEDS, normalise_dietary_text, read_codes
from groupvisits.extensions import db
from groupvisits.sites.models import Site
from groupvisits.timeutil import UTCDateTime, utcnow

COORDINATOR = "coordinator"
CLINICIAN = "clinician"
PATIENT = "patient"
ROLES = (COORDINATOR, CLINICIAN, PATIENT)
ROLE_LABELS = {COORDINATOR: "Coordinator", CLINICIAN: "Clinician", PATIENT: "Patient"}

#: Clinical disciplines of staff, in the order the forms offer them.
DISCIPLINES = {
    "attending": "Attending physician",
    "resident": "Resident physician",
    "nurse_practitioner": "Nurse practitioner",
    "registered_nurse": "Registered nurse",
    "dietitian": "Dietitian",
    "pharmacist": "Pharmacist",
    "behavioural_health": "Behavioural health clinician",
    "community_health_worker": "Community health worker",
    "medical_assistant": "Medical assistant",
    "social_worker": "Social worker",
}

#: Which sites a person belongs to: the sites staff serve, or a patient's clinics.
user_sites = Table(
    "user_sites",
    db.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    # The key serves "the sites of a person"; this index serves "the people of a site".
    Index("ix_user_sites_site_id_user_id", "site_id", "user_id"),
)


def new_stamp() -> str:
    """A random value that changes whenever a password changes."""
    return secrets.token_hex(16)


class User(UserMixin, db.Model):
    """One person: a coordinator, a clinician or a patient."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES!r}", name="role_known"),
        CheckConstraint(
            "discipline IS NULL OR role <> 'patient'", name="patients_have_no_discipline"
        ),
        CheckConstraint(
            "training_year IS NULL OR (training_year BETWEEN 1 AND 8)",
            name="training_year_range",
        ),
        # Staff sign in with their email; a patient may have none (the clinic phones them).
        CheckConstraint("email IS NOT NULL OR role = 'patient'", name="staff_have_email"),
        # No address is None, never "": two people without one must not clash.
        CheckConstraint("email IS NULL OR email <> ''", name="email_not_blank"),
        # Whoever has no email can at least be phoned.
        CheckConstraint("email IS NOT NULL OR phone <> ''", name="email_or_phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-cased; one account per address. None: a patient without email, who
    #: cannot sign in (the clinic records their answers by phone).
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), index=True)
    given_name: Mapped[str] = mapped_column(String(80))
    family_name: Mapped[str] = mapped_column(String(80))
    #: The first name the person wants to be called by, shown to their group.
    preferred_name: Mapped[str] = mapped_column(String(80), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    #: Clinicians only: see DISCIPLINES.
    discipline: Mapped[str | None] = mapped_column(String(40))
    #: Residents only: postgraduate year (PGY).
    training_year: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Rotated when the password changes, so earlier links stop working.
    security_stamp: Mapped[str] = mapped_column(String(32), default=new_stamp)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    sites: Mapped[list[Site]] = relationship(secondary=user_sites, order_by=Site.name)
    patient_profile: Mapped["PatientProfile | None"] = relationship(
        back_populates="user", cascade="all, delete-orphan", uselist=False
    )

    #: The sign-in this request belongs to (set by the user loader; not a column).
    current_sign_in = None

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str | None:
        """Flask-Login keeps the sign-in token, not the user id, in the cookie."""
        return self.current_sign_in.token if self.current_sign_in else None

    # UserMixin compares people by get_id(), which is None for everyone not
    # signed in in this request: any two such people would be "equal". One
    # database session holds one object per row, so identity is equality.
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    @property
    def is_coordinator(self) -> bool:
        return self.role == COORDINATOR

    @property
    def is_clinician(self) -> bool:
        return self.role == CLINICIAN

    @property
    def is_patient(self) -> bool:
        return self.role == PATIENT

    @property
    def is_staff(self) -> bool:
        return self.role in (COORDINATOR, CLINICIAN)

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def can_sign_in(self) -> bool:
        """An active account with an email and a password: it answers in the app itself."""
        return bool(self.email) and self.has_password and self.active

    @property
    def first_name(self) -> str:
        return self.preferred_name or self.given_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.family_name}".strip()

    @property
    def group_name(self) -> str:
        """How fellow group members see this person: first name and last initial."""
        initial = f" {self.family_name[:1]}." if self.family_name else ""
        return f"{self.first_name}{initial}"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def discipline_label(self) -> str:
        label = DISCIPLINES.get(self.discipline or "", "")
        if self.discipline == "resident" and self.training_year:
            label = f"{label} (PGY-{self.training_year})"
        return label

    @property
    def site_ids(self) -> set[int]:
        return {site.id for site in self.sites}

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class PlainPerson:
    """A person read as a few columns rather than a whole ``User``, for long read-only lists
    (an ORM object each costs a list of fifty about as much as all else it does).

    A subclass names its columns in ``__slots__`` (``id``, ``role`` and the name parts
    first) and is made from them in that order. The names and labels are ``User``'s own
    properties, so a list reads as every other page does.
    """

    __slots__ = ()
    first_name = User.first_name
    full_name = User.full_name
    is_patient = User.is_patient
    role_label = User.role_label
    discipline_label = User.discipline_label

    def __init__(self, *columns) -> None:
        for name, value in zip(self.__slots__, columns, strict=True):
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.role}>"


class PatientProfile(db.Model):
    """A patient's personal and clinical details: protected health information."""

    __tablename__ = "patient_profiles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    preferred_language: Mapped[str] = mapped_column(String(60), default="English")
    #: Codes of :data:`~groupvisits.accounts.diets.DIETARY_NEEDS`, comma-separated in list
    #: order ("low_sodium,vegetarian"); used for the session meal.
    dietary_needs: Mapped[str] = mapped_column(Text, default="")
    #: A need not on the list, in the patient's words ("no nuts").
    dietary_other: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: Free text, e.g. "wheelchair user, large print".
    accessibility_needs: Mapped[str] = mapped_column(Text, default="")
    #: The clinic's medical record number, when known.
    medical_record_number: Mapped[str | None] = mapped_column(String(40), unique=True)

    user: Mapped[User] = relationship(back_populates="patient_profile")

    @property
    def diet(self) -> tuple[list[str], str]:
        """(codes, other text); text not yet turned into codes is read through the synonyms."""
        codes = read_codes(self.dietary_needs)
        if codes is not None:
            return codes, self.dietary_other or ""
        codes, other = normalise_dietary_text(self.dietary_needs)
        return codes, ", ".join(part for part in (other, self.dietary_other) if part)

    @property
    def dietary_labels(self) -> list[str]:
        """The needs in words: list labels first, then the other text."""
        codes, other = self.diet
        return [DIETARY_NEEDS[code] for code in codes] + ([other] if other else [])

    @property
    def dietary_summary(self) -> str:
        """The needs on one line ("low sodium, vegetarian, no nuts"); "" for none."""
        return ", ".join(self.dietary_labels)

    @property
    def meal_needs(self) -> list[str]:
        """What the meal count adds up: list labels, and each part of the other text."""
        codes, other = self.diet
        parts = [part.strip().lower() for part in re.split(r"[,;]", other) if part.strip()]
        return [DIETARY_NEEDS[code] for code in codes] + parts


class SignIn(db.Model):
    """One signed-in browser: ended on sign-out or after the idle timeout."""

    __tablename__ = "sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the token held in the browser's cookie; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: "signed out", "idle", "password changed", "deactivated".
    ended_reason: Mapped[str | None] = mapped_column(String(40))
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    #: Words typed to find patients, by page (see groupvisits.searches): patient data,
    #: so they live here on the server, never in the cookie, and go when the sign-in ends.
    searches: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    #: One-time messages for the next page, [category, text] pairs (see groupvisits.messages):
    #: they often name a patient, so they too stay here rather than in the cookie.
    messages: Mapped[list | None] = mapped_column(JSON(none_as_null=True))

    user: Mapped[User] = relationship()

    #: The raw token, known only in the request that created or presented it.
    token = None

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class Invitation(db.Model):
    """A record that a coordinator invited someone; the link itself is signed, not stored."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])


class PasswordResetRequest(db.Model):
    """An address someone typed on "Forgot password", waiting for ``send-mail``.

    The request itself only writes this row, for known and unknown addresses
    alike, so that its answer (and how long it takes) reveals nobody. The
    ``send-mail`` command looks the address up, mails a link if it belongs to
    an active account, and deletes the row either way.
    """

    __tablename__ = "password_reset_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: As typed, normalised; it may belong to nobody here.
    email: Mapped[str] = mapped_column(String(254))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
