"""Census: how full a session will be, against the group's minimum, target and maximum."""

import math
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from groupvisits.schedule.models import GroupSession


@dataclass(frozen=True)
class Counts:
    """Attendance numbers of one session, as the roster knows them."""

    confirmed: int = 0
    maybe: int = 0
    waitlisted: int = 0
    #: Share of confirmed members who came, over the group's recent sessions (0–1).
    show_rate: Fraction = Fraction(1)


@dataclass(frozen=True)
class Census:
    """A session's census and whether to warn about it."""

    confirmed: int
    maybe: int
    waitlisted: int
    expected: int
    minimum: int
    target: int
    maximum: int
    days_ahead: int
    #: True when the session is within the warning window and expected below minimum.
    warn: bool

    @property
    def level(self) -> str:
        """below-minimum, below-target, on-target or full."""
        if self.confirmed >= self.maximum:
            return "full"
        if self.expected < self.minimum:
            return "below-minimum"
        if self.expected < self.target:
            return "below-target"
        return "on-target"

    @property
    def label(self) -> str:
        return {
            "full": "Full",
            "below-minimum": "Below minimum",
            "below-target": "Below target",
            "on-target": "On target",
        }[self.level]


def round_half_up(value: Fraction) -> int:
    """The nearest whole number, halves up, as people count (Python's round makes 2.5 two)."""
    return math.floor(value + Fraction(1, 2))


def census_of(group_session: GroupSession, counts: Counts, *, now: datetime) -> Census:
    """Apply the group's census rules to one session's numbers.

    Expected attendance is the confirmed count times the group's recent show
    rate, rounded to the nearest person (halves up). A warning is raised for sessions
    starting within ``census_warning_days`` whose expectation is below the minimum.
    """
    group = group_session.group
    expected = round_half_up(counts.confirmed * Fraction(counts.show_rate))
    days_ahead = (group_session.starts_at - now).days
    warn = (
        not group_session.is_cancelled
        and 0 <= (group_session.starts_at - now).total_seconds()
        and days_ahead <= group.census_warning_days
        and expected < group.min_members
    )
    return Census(
        confirmed=counts.confirmed,
        maybe=counts.maybe,
        waitlisted=counts.waitlisted,
        expected=expected,
        minimum=group.min_members,
        target=group.target_members,
        maximum=group.max_members,
        days_ahead=days_ahead,
        warn=warn,
    )


def census_for(
    sessions: list[GroupSession], counts: dict[int, Counts], *, now: datetime
) -> dict[int, Census]:
    """The census of each session, by session id (no numbers yet counts as zero)."""
    empty = Counts()
    return {s.id: census_of(s, counts.get(s.id, empty), now=now) for s in sessions}


def counts_for(session_ids: list[int]) -> dict[int, Counts]:
    """Each session's numbers from the roster (RSVPs, waitlist, show rate)."""
    from groupvisits.roster.attendance import counts_for_sessions

    return counts_for_sessions(session_ids)
