"""Who takes part in which groups and sessions: the basis of dashboards and feeds."""

import functools

from sqlalchemy import bindparam, select

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
    by_status = groups_of_patient_by_status(patient, statuses)
    return set().union(*by_status.values())


def groups_of_patient_by_status(
    patient: User, statuses: tuple[str, ...] = (ACTIVE, OFFERED, WAITLISTED)
) -> dict[str, set[int]]:
    """The groups of :func:`group_ids_of_patient`, by the patient's status, in one query."""
    by_status: dict[str, set[int]] = {status: set() for status in statuses}
    rows = db.session.execute(
        _statuses_of_patient_query(), {"patient_id": patient.id, "statuses": list(statuses)}
    )
    for group_id, status in rows:
        by_status[status].add(group_id)
    return by_status


@functools.cache
def _statuses_of_patient_query():
    return select(Membership.group_id, Membership.status).where(
        Membership.patient_id == bindparam("patient_id"),
        Membership.status.in_(bindparam("statuses", expanding=True)),
    )


def active_group_ids_of_patient(patient: User) -> set[int]:
    """The groups in which a patient holds a place: their sessions are theirs."""
    return group_ids_of_patient(patient, (ACTIVE,))


def group_ids_of_staff(user: User) -> set[int]:
    """The groups a staff member works in: those of the sites they serve."""
    return set(db.session.scalars(_group_ids_of_sites_query(), {"site_ids": sorted(user.site_ids)}))


@functools.cache
def _group_ids_of_sites_query():
    return select(VisitGroup.id).where(
        VisitGroup.site_id.in_(bindparam("site_ids", expanding=True))
    )


def group_ids_for(user: User) -> set[int]:
    """The groups whose sessions ``user`` takes part in."""
    if user.is_patient:
        return active_group_ids_of_patient(user)
    return group_ids_of_staff(user)
