"""Staff assignments to sessions, staffing templates, core teams and time off."""

import functools
from datetime import datetime

from sqlalchemy import (
    DDL,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    literal_column,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from groupvisits.accounts.models import User
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import UTCDateTime, utcnow

FACILITATOR = "facilitator"
PROVIDER = "provider"
PRECEPTOR = "precepting_attending"
DOCUMENTER = "documenter"
EDUCATOR = "educator"
VITALS = "vitals"
BEHAVIOURAL_HEALTH = "behavioural_health"
SUPPORT = "support"
PEER_MENTOR = "peer_mentor"

#: Roles in a session, in the order pages list them.
TEAM_ROLES = {
    FACILITATOR: "Facilitator",
    PROVIDER: "Provider (one-on-one visits)",
    PRECEPTOR: "Precepting attending",
    DOCUMENTER: "Documenter",
    EDUCATOR: "Educator",
    VITALS: "Vitals",
    BEHAVIOURAL_HEALTH: "Behavioural health",
    SUPPORT: "Support",
    PEER_MENTOR: "Peer mentor",
}

#: Disciplines a staffing rule allows unless the coordinator says otherwise; a role not
#: listed allows any discipline. Keys are those of ``accounts.models.DISCIPLINES``.
DEFAULT_DISCIPLINES = {
    FACILITATOR: ("behavioural_health", "registered_nurse"),
    PROVIDER: ("attending", "resident", "nurse_practitioner", "pharmacist"),
    PRECEPTOR: ("attending",),
    VITALS: ("medical_assistant", "registered_nurse"),
}

#: Residents one precepting attending supervises at once, unless the site says otherwise.
DEFAULT_SUPERVISION_RATIO = 4

_ROLE_CHECK = f"role IN {tuple(TEAM_ROLES)!r}"


@functools.lru_cache(maxsize=256)
def split_disciplines(disciplines: str) -> tuple[str, ...]:
    """A rule's stored comma list of disciplines as a tuple ("" allows any: empty)."""
    return tuple(part for part in (disciplines or "").split(",") if part)


class StaffAssignment(db.Model):
    """One person in one role at one session; a person may hold several roles in a session.

    ``starts_at``/``ends_at`` copy the session's time so that the database itself can
    refuse one person in two overlapping sessions (an exclusion constraint on PostgreSQL).
    """

    __tablename__ = "staff_assignments"
    __table_args__ = (
        UniqueConstraint("session_id", "user_id", "role"),
        CheckConstraint(_ROLE_CHECK, name="role_known"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        # A person's assignments by time: the overlap check on SQLite, "my sessions".
        Index("ix_staff_assignments_user_id_starts_at", "user_id", "starts_at"),
        # Nobody in two overlapping sessions, at any site; several roles in one session
        # are fine (session_id <>). On SQLite, triggers below hold the same rule.
        ExcludeConstraint(
            (literal_column("user_id"), "="),
            (func.tstzrange(literal_column("starts_at"), literal_column("ends_at")), "&&"),
            (literal_column("session_id"), "<>"),
            name="ex_staff_assignments_no_overlap",
            using="gist",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("group_sessions.id", ondelete="RESTRICT"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: See TEAM_ROLES; a peer mentor is a patient, every other role is staff.
    role: Mapped[str] = mapped_column(String(30))
    #: The session's start and end, copied (kept in step by ``sync_session_times``).
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: A provider free for one-on-one visits during part of the window only: from and/or
    #: until these times (None: the whole window).
    available_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    available_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    group_session: Mapped[GroupSession] = relationship()
    user: Mapped[User] = relationship()

    @property
    def role_label(self) -> str:
        return TEAM_ROLES.get(self.role, self.role)

    def __repr__(self) -> str:
        return f"<StaffAssignment {self.session_id} {self.user_id} {self.role}>"


# The exclusion constraint compares integers with = and <> inside a GiST index.
event.listen(
    StaffAssignment.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS btree_gist").execute_if(dialect="postgresql"),
)

#: SQLite has no exclusion constraints: triggers refuse the same overlap, with the same name,
#: so that the database holds the rule on both (times are stored as sortable UTC text).
SQLITE_NO_OVERLAP_TRIGGERS = [
    f"""CREATE TRIGGER ex_staff_assignments_no_overlap_{when}
BEFORE {what} ON staff_assignments
WHEN EXISTS (
    SELECT 1 FROM staff_assignments AS other
    WHERE other.user_id = NEW.user_id AND other.session_id <> NEW.session_id
      AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at
)
BEGIN SELECT RAISE(ABORT, 'ex_staff_assignments_no_overlap'); END"""
    for when, what in (
        ("insert", "INSERT"),
        ("update", "UPDATE OF user_id, session_id, starts_at, ends_at"),
    )
]
for _trigger in SQLITE_NO_OVERLAP_TRIGGERS:
    event.listen(
        StaffAssignment.__table__, "after_create", DDL(_trigger).execute_if(dialect="sqlite")
    )


class StaffingRule(db.Model):
    """The staffing template of a group: how many people of a role, of which disciplines."""

    __tablename__ = "staffing_rules"
    __table_args__ = (
        UniqueConstraint("group_id", "role"),
        CheckConstraint(_ROLE_CHECK, name="role_known"),
        CheckConstraint("count >= 1", name="count_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("visit_groups.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(30))
    #: People needed in this role at every session.
    count: Mapped[int] = mapped_column(Integer, default=1)
    #: Allowed disciplines as a comma list of DISCIPLINES keys; "" allows any.
    disciplines: Mapped[str] = mapped_column(String(400), default="", server_default="")

    group: Mapped[VisitGroup] = relationship()

    @property
    def allowed(self) -> tuple[str, ...]:
        return split_disciplines(self.disciplines)

    def allows(self, user: User) -> bool:
        """True if ``user``'s discipline may fill this role."""
        return not self.allowed or (user.discipline or "") in self.allowed


class CoreTeamMember(db.Model):
    """A person who staffs every session of a group in a role, unless changed per session."""

    __tablename__ = "core_team_members"
    __table_args__ = (
        UniqueConstraint("group_id", "user_id", "role"),
        CheckConstraint(_ROLE_CHECK, name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("visit_groups.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    role: Mapped[str] = mapped_column(String(30))

    group: Mapped[VisitGroup] = relationship()
    user: Mapped[User] = relationship()

    @property
    def role_label(self) -> str:
        return TEAM_ROLES.get(self.role, self.role)


class TimeOff(db.Model):
    """A span when a clinician is away; it blocks assignment."""

    __tablename__ = "time_off"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_time_off_user_id_starts_at", "user_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Staff-only note (leave, conference); never shown to patients.
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()
