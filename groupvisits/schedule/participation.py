"""Who takes part in which groups and sessions: the basis of dashboards and feeds."""

import functools

from sqlalchemy import bindparam, select

from groupvisits.accounts.models import User
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.roster.models import ACTIVE, group_ids_of_patient


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
