"""People as team pages read them, from a few columns rather than whole ``User`` objects,
and who may join a team: the clinic's staff and the group's willing peer mentors."""

from sqlalchemy import literal_column, select, union_all

from groupvisits.accounts.models import (
    CLINICIAN,
    COORDINATOR,
    PATIENT,
    PlainPerson,
    User,
    user_sites,
)
from groupvisits.roster.models import ACTIVE, Membership


class Person(PlainPerson):
    """A person as team pages show them: who they are, their role and discipline."""

    __slots__ = (
        "id",
        "role",
        "given_name",
        "family_name",
        "preferred_name",
        "discipline",
        "training_year",
    )


#: The columns a :class:`Person` is made of, in its order.
PERSON_COLUMNS = tuple(getattr(User, name) for name in Person.__slots__)
PERSON_WIDTH = len(PERSON_COLUMNS)


def one_each(known: dict[int, Person], columns) -> Person:
    """The :class:`Person` of these columns (id first): one object a person, however many
    rows name them."""
    return known.get(columns[0]) or known.setdefault(columns[0], Person(*columns))


def candidates_query(*lead, site_id, group_id, staff_also=(), members_also=()):
    """Who may join a team: the site's active staff (by family name), then the group's
    members who said they are willing to be peer mentors (by first name).

    Each row is ``lead``, four ordering columns, then a :class:`Person`'s columns.

    :param site_id: the site, as a value or a column; ``group_id`` likewise.
    :param staff_also: more conditions on the staff; ``members_also`` on the members.
    """
    staff = (
        select(*lead, literal_column("0").label("kind"), User.family_name.label("k1"))
        .add_columns(User.given_name.label("k2"), User.id.label("k3"), *PERSON_COLUMNS)
        .join_from(User, user_sites, user_sites.c.user_id == User.id)
        .where(
            user_sites.c.site_id == site_id,
            User.role.in_((COORDINATOR, CLINICIAN)),
            User.active.is_(True),
            *staff_also,
        )
    )
    members = (
        select(*lead, literal_column("1").label("kind"), User.given_name.label("k1"))
        .add_columns(User.family_name.label("k2"), User.id.label("k3"), *PERSON_COLUMNS)
        .join_from(User, Membership, Membership.patient_id == User.id)
        .where(
            Membership.group_id == group_id,
            Membership.status == ACTIVE,
            Membership.peer_mentor_since.is_not(None),
            User.role == PATIENT,
            User.active.is_(True),
            *members_also,
        )
    )
    keys = [column.name for column in lead]
    return union_all(staff, members).order_by(*keys, "kind", "k1", "k2", "k3")


#: Where a :class:`Person` starts in a row of :func:`candidates_query` after its lead.
CANDIDATE_OFFSET = 4
