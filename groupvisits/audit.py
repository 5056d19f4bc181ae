"""Audit trail: who read or changed which patient's data, and when."""

from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import ForeignKey, Index, String, insert, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from groupvisits.accounts.models import User, user_sites
from groupvisits.extensions import db
from groupvisits.timeutil import UTCDateTime, utcnow

#: Actions recorded in the trail; keep names stable, reports filter on them.
ACTIONS = {
    "view": "Viewed",
    "create": "Created",
    "update": "Changed",
    "deactivate": "Deactivated",
    "reactivate": "Reactivated",
    "invite": "Invited",
    "export": "Exported",
    "calendar": "Read calendar",
    "trail": "Read in this trail",
}
#: Reads of the trail itself: listed only when asked for, or every reading of
#: the trail would fill the next one.
TRAIL_READ = "trail"


class AuditEvent(db.Model):
    """One read or change of a patient's data. Rows are only ever added."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_patient_at", "patient_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    #: Who did it; None for the system itself (a scheduled job, a calendar client).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(40))
    #: Whose data it was.
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: What was touched, e.g. "profile", "user", "encounter".
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None]
    ip_address: Mapped[str] = mapped_column(String(64), default="")

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    patient: Mapped[User] = relationship(foreign_keys=[patient_id])

    @property
    def action_label(self) -> str:
        return ACTIONS.get(self.action, self.action)


def record(
    actor: User | None,
    action: str,
    patient: User,
    object_type: str,
    object_id: int | None = None,
    *,
    ip_address: str = "",
) -> AuditEvent:
    """Add one audit row to the current transaction.

    The row commits or rolls back with the change it describes, so a change
    is never saved without its audit row.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    ip_address = ip_address or _address_of(actor)
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        action=action,
        patient_id=patient.id,
        object_type=object_type,
        object_id=object_id,
        ip_address=ip_address,
    )
    db.session.add(event)
    return event


def record_many(
    actor: User | None,
    action: str,
    patient_ids,
    object_type: str,
    object_id: int | None = None,
) -> None:
    """One audit row per patient shown on a page, in a single INSERT."""
    record_each(actor, action, object_type, [(pid, object_id) for pid in patient_ids])


def record_each(actor: User | None, action: str, object_type: str, rows) -> None:
    """One audit row per ``(patient id, object id)``, in a single INSERT, loading nobody.

    ``actor`` None is the system (a lapsed offer, say): such rows carry no client address.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    ip_address, now = _address_of(actor), utcnow()
    actor_id = actor.id if actor is not None else None  # once: ``actor`` may be a proxy
    values = [
        {
            "actor_id": actor_id,
            "action": action,
            "patient_id": patient_id,
            "object_type": object_type,
            "object_id": object_id,
            "ip_address": ip_address,
            "occurred_at": now,
        }
        for patient_id, object_id in sorted(set(rows), key=lambda row: (row[0], row[1] or 0))
    ]
    if values:
        # Core's executemany on the session's own connection and transaction: the rows
        # commit or roll back with the request's changes, without the ORM's bulk path,
        # which costs about as much again on a list of fifty people. Changes still pending
        # (audit rows added one by one among them) are written first, so the trail keeps
        # the order things happened in.
        db.session.flush()
        db.session.connection().execute(insert(AuditEvent.__table__), values)


def _address_of(actor: User | None) -> str:
    """The client address for an audit row: none for the system's own changes (actor None),
    whichever request happened to run them."""
    return request_ip() if actor is not None else ""


def request_ip() -> str:
    """The client address of the current request, if any."""
    return (request.remote_addr or "") if has_request_context() else ""


def events_for_sites(
    site_ids: set[int],
    *,
    patient_id: int | None = None,
    actor_id: int | None = None,
    actor_role: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
):
    """A select of the audit rows about patients of the given sites, newest first.

    Reads of the trail itself are left out unless ``action`` asks for them.
    """
    patients_of_sites = select(user_sites.c.user_id).where(user_sites.c.site_id.in_(site_ids))
    query = select(AuditEvent).where(AuditEvent.patient_id.in_(patients_of_sites))
    if patient_id:
        query = query.where(AuditEvent.patient_id == patient_id)
    if actor_id:
        query = query.where(AuditEvent.actor_id == actor_id)
    if actor_role:
        query = query.join(User, User.id == AuditEvent.actor_id).where(User.role == actor_role)
    if action:
        query = query.where(AuditEvent.action == action)
    else:
        query = query.where(AuditEvent.action != TRAIL_READ)
    if since:
        query = query.where(AuditEvent.occurred_at >= since)
    if until:
        query = query.where(AuditEvent.occurred_at < until)
    return query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
