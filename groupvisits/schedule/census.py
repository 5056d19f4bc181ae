"""Census: how full a session will be, against the group's minimum, target and maximum.

Only members who hold a place count towards the minimum: those who said yes, times the
share of yes-sayers who usually come. Support persons and drop-ins take seats (and eat),
so they count towards "full", never towards the minimum. The group's waitlist is shown
beside the numbers and never added to them: nobody on it can come.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from groupvisits.schedule.models import GroupSession

#: A low census is flagged only once answers are in or due: when someone has answered, or
#: when the answer deadline is this near. Weeks ahead, with no answers, nothing is at risk yet.
ANSWERS_DUE_SOON = timedelta(days=7)


@dataclass(frozen=True)
class Counts:
    """Attendance numbers of one session, as the roster knows them."""

    #: Members holding a place in the group who said yes.
    confirmed: int = 0
    maybe: int = 0
    declined: int = 0
    #: People on the group's waitlist: they cannot come to this session.
    waitlisted: int = 0
    #: Non-members added to this one session by staff.
    drop_ins: int = 0
    #: Family members or carers coming with someone.
    support_persons: int = 0
    #: Seats held (confirmed members, their support persons, drop-ins); None: work it out.
    seats: int | None = None
    #: Share of yes-sayers who came, over the group's recent sessions (0–1).
    show_rate: Fraction = Fraction(1)
    #: Whether the group has recent sessions the show rate was learnt from.
    show_rate_known: bool = False
    #: Members holding a place who have not answered yet.
    unanswered: int = 0

    def __post_init__(self) -> None:
        if self.seats is None:
            object.__setattr__(self, "seats", self.confirmed + self.support_persons + self.drop_ins)

    @property
    def answered(self) -> int:
        """Members who have answered at all."""
        return self.confirmed + self.maybe + self.declined


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
    #: True when the session is within the warning window, answers are in or due, and
    #: the expectation is below the minimum.
    warn: bool
    declined: int = 0
    drop_ins: int = 0
    support_persons: int = 0
    seats: int = 0
    show_rate: Fraction = Fraction(1)
    show_rate_known: bool = False
    #: Still to come, and answers not in nor due yet: too early to call it low.
    early: bool = False

    @property
    def answered(self) -> int:
        return self.confirmed + self.maybe + self.declined

    @property
    def level(self) -> str:
        """full, on-target, below-target, early (too soon to tell) or below-minimum."""
        if self.seats >= self.maximum:
            return "full"
        if self.expected >= self.target:
            return "on-target"
        if self.expected >= self.minimum:
            return "below-target"
        if self.early:
            return "early"
        return "below-minimum"

    @property
    def label(self) -> str:
        if self.level == "early":
            return "Answers coming in" if self.answered else "No answers yet"
        return {
            "full": "Full",
            "below-minimum": "Below minimum",
            "below-target": "Below target",
            "on-target": "On target",
        }[self.level]

    @property
    def show_rate_percent(self) -> int:
        return round_half_up(Fraction(self.show_rate) * 100)

    @property
    def explanation(self) -> str:
        """What "expected" means, in one line, with this group's show rate."""
        if not self.show_rate_known:
            return (
                "Expected: members who said yes (no recent sessions yet to learn how many "
                "of those who say yes usually come)."
            )
        return (
            "Expected: members who said yes, times how many of those who say yes usually "
            f"come ({self.show_rate_percent}% lately)."
        )


def round_half_up(value: Fraction) -> int:
    """The nearest whole number, halves up, as people count (Python's round makes 2.5 two)."""
    return math.floor(value + Fraction(1, 2))


def census_of(group_session: GroupSession, counts: Counts, *, now: datetime) -> Census:
    """Apply the group's census rules to one session's numbers.

    Expected attendance is the number of members who said yes times the group's recent
    show rate, rounded to the nearest person (halves up). A session is flagged below the
    minimum only when all of these hold: it is still to come and not cancelled, it starts
    within the group's ``census_warning_days``, and answers are in or due (someone has
    answered, or the answer deadline is at most :data:`ANSWERS_DUE_SOON` away). Until
    then it is "early": nobody has been asked for long enough to call it low.
    """
    group = group_session.group
    expected = round_half_up(counts.confirmed * Fraction(counts.show_rate))
    until_start = group_session.starts_at - now
    upcoming = until_start.total_seconds() >= 0 and not group_session.is_cancelled
    answers_due = bool(counts.answered) or (
        group_session.answers_close_at - now <= ANSWERS_DUE_SOON
    )
    watching = upcoming and until_start.days <= group.census_warning_days and answers_due
    return Census(
        confirmed=counts.confirmed,
        maybe=counts.maybe,
        declined=counts.declined,
        waitlisted=counts.waitlisted,
        drop_ins=counts.drop_ins,
        support_persons=counts.support_persons,
        seats=counts.seats,
        expected=expected,
        minimum=group.min_members,
        target=group.target_members,
        maximum=group.max_members,
        days_ahead=until_start.days,
        show_rate=Fraction(counts.show_rate),
        show_rate_known=counts.show_rate_known,
        warn=watching and expected < group.min_members,
        early=upcoming and not watching,
    )


def census_for(
    sessions: list[GroupSession], counts: dict[int, Counts], *, now: datetime
) -> dict[int, Census]:
    """The census of each session, by session id (no numbers yet counts as zero)."""
    empty = Counts()
    return {s.id: census_of(s, counts.get(s.id, empty), now=now) for s in sessions}
