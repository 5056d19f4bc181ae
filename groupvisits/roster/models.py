"""Membership of patients in groups, with its history and the waitlist."""

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from groupvisits.accounts.models import User
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.timeutil import UTCDateTime, utcnow

REQUESTED = "requested"  # the patient asked to join; a coordinator decides
ACTIVE = "active"  # holds a place in the group
WAITLISTED = "waitlisted"  # waits for a place, in waitlist_position order
OFFERED = "offered"  # a place is held for them until offer_expires_at
WITHDRAWN = "withdrawn"  # the patient left
ENDED = "ended"  # a coordinator ended it, with a reason
DECLINED = "declined"  # a request to join was declined

STATUSES = {
    REQUESTED: "Asked to join",
    ACTIVE: "Member",
    WAITLISTED: "On the waitlist",
    OFFERED: "Offered a place",
    WITHDRAWN: "Withdrew",
    ENDED: "Ended",
    DECLINED: "Request declined",
}
#: A patient has at most one membership in one of these states per group.
CURRENT = (REQUESTED, ACTIVE, WAITLISTED, OFFERED)
#: States that take a place in the group.
HOLDS_PLACE = (ACTIVE, OFFERED)


class Membership(db.Model):
    """A patient's membership of one group; never deleted, its history is kept."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(f"status IN {tuple(STATUSES)!r}", name="status_known"),
        # One current membership per patient and group, enforced by the database.
        Index(
            "uq_memberships_current",
            "group_id",
            "patient_id",
            unique=True,
            postgresql_where=text(f"status IN {CURRENT!r}"),
            sqlite_where=text(f"status IN {CURRENT!r}"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("visit_groups.id", ondelete="RESTRICT"), index=True
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    #: Order on the waitlist (1 = next); None when not waiting.
    waitlist_position: Mapped[int | None] = mapped_column(Integer)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str] = mapped_column(Text, default="")
    #: The patient's note when asking to join, and the coordinator's answer.
    request_message: Mapped[str] = mapped_column(Text, default="")
    reply_message: Mapped[str] = mapped_column(Text, default="")
    #: The member lets fellow members see their first name and last initial.
    share_name: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    group: Mapped[VisitGroup] = relationship()
    patient: Mapped[User] = relationship()

    @property
    def status_label(self) -> str:
        return STATUSES[self.status]

    @property
    def is_current(self) -> bool:
        return self.status in CURRENT
