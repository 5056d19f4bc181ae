"""Who takes part in which groups and sessions: the basis of dashboards and feeds."""

from sqlalchemy import select

from groupvisits.accounts.models import User
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.roster.models import ACTIVE, OFFERED, WAITLISTED, Membership


def group_ids_of_patient(
    patient: User, statuses: tuple[str, ...] = (ACTIVE, OFFERED, WAITLISTED)
) -> set[int]:
    """The groups a patient belongs to: as a member, offered a place, or waiting.

    A request to join that nobody has answered yet does not open the group.
    """
    return set(
        db.session.scalars(
            select(Membership.group_id).where(
                Membership.patient_id == patient.id, Membership.status.in_(statuses)
            )
        )
    )


def active_group_ids_of_patient(patient: User) -> set[int]:
    """The groups in which a patient holds a place: their sessions are theirs."""
    return group_ids_of_patient(patient, (ACTIVE,))


def group_ids_of_staff(user: User) -> set[int]:
    """The groups a staff member works in: those of the sites they serve."""
    return set(
        db.session.scalars(select(VisitGroup.id).where(VisitGroup.site_id.in_(user.site_ids)))
    )


def group_ids_for(user: User) -> set[int]:
    """The groups whose sessions ``user`` takes part in."""
    if user.is_patient:
        return active_group_ids_of_patient(user)
    return group_ids_of_staff(user)
