"""What a provider reads before a visit: the patient's last measures, open goals and earlier
follow-up items at the note's site, and the topics the patient proposed for their group that
are open or on this session's agenda (the agenda's models are read here, never its
services). Each part is one query, whatever the patient's history.
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, cast, func, literal, null, or_, select, union_all

from groupvisits.accounts.models import User
from groupvisits.agenda.models import ANONYMOUS, TOPIC, AgendaItem, AgendaTopic
from groupvisits.agenda.models import KEPT as TOPIC_KEPT
from groupvisits.agenda.models import OPEN as TOPIC_OPEN
from groupvisits.agenda.models import STATUSES as TOPIC_STATUSES
from groupvisits.encounters.models import OPEN, PROGRESS, EncounterNote, GoalProgress, PatientGoal
from groupvisits.encounters.note_reading import person_name
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.roster import history
from groupvisits.roster.models import Attendance
from groupvisits.schedule.models import GroupSession

#: Follow-up items of earlier visits shown before a visit, newest first.
FOLLOW_UPS_SHOWN = 5


@dataclass(frozen=True)
class Measure:
    """The latest value of one measure, in words, with when and where it was taken."""

    label: str
    text: str
    taken_at: datetime
    source: str


@dataclass(frozen=True)
class GoalWord:
    """The patient's latest word on how a goal is going."""

    state: str
    comment: str
    created_at: datetime

    @property
    def state_label(self) -> str:
        return PROGRESS[self.state]


@dataclass(frozen=True)
class GoalStatus:
    """An open goal with the patient's latest word on it (None: nothing said yet)."""

    goal_id: int
    text: str
    latest: GoalWord | None


@dataclass(frozen=True)
class FollowUp:
    """A follow-up item written at an earlier visit."""

    text: str
    visit_at: datetime
    author_name: str


@dataclass(frozen=True)
class ProposedTopic:
    """A topic the patient put forward, by name, for their group's agenda."""

    id: int
    title: str
    status: str
    #: On the agenda of the note's own session.
    on_this_agenda: bool

    @property
    def status_label(self) -> str:
        return "On this session's agenda" if self.on_this_agenda else TOPIC_STATUSES[self.status]


@dataclass(frozen=True)
class PreVisit:
    """What a provider reads before a visit: last measures, open goals, follow-up items,
    and the topics the patient proposed for the group."""

    measures: list[Measure]
    goals: list[GoalStatus]
    follow_ups: list[FollowUp]
    topics: list[ProposedTopic] = field(default_factory=list)


#: The measures a note records, by key, with the column that holds each.
_NOTE_MEASURES = {
    "bp": EncounterNote.systolic,
    "weight": EncounterNote.weight_kg,
    "hba1c": EncounterNote.hba1c,
    "glucose": EncounterNote.glucose,
}
#: Topics a patient proposed that are shown before their visit, at most.
TOPICS_SHOWN = 10


@functools.cache
def _pre_visit_queries():
    """The patient's latest measures, earlier follow-up items, open goals and proposed
    topics, at the note's site (built once; each a single query whatever the history)."""
    at_site = (GroupSession.group_id == VisitGroup.id) & (VisitGroup.site_id == bindparam("site"))
    earlier = (
        (EncounterNote.patient_id == bindparam("patient"))
        & EncounterNote.signed_at.is_not(None)
        & (EncounterNote.id != bindparam("note"))
        & (GroupSession.starts_at < bindparam("before"))
    )
    no_value = null()

    def latest_in_notes(key: str, column):
        return (
            select(
                literal(key).label("kind"),
                EncounterNote.systolic,
                EncounterNote.diastolic,
                EncounterNote.weight_kg,
                EncounterNote.hba1c,
                EncounterNote.glucose,
                GroupSession.starts_at.label("taken_at"),
            )
            .join(GroupSession, GroupSession.id == EncounterNote.session_id)
            .join(VisitGroup, at_site)
            .where(earlier, column.is_not(None))
            .order_by(GroupSession.starts_at.desc(), EncounterNote.id.desc())
            .limit(1)
            .subquery()
        )

    def latest_at_check_in(key: str, column):
        return (
            select(
                literal(key).label("kind"),
                Attendance.systolic,
                Attendance.diastolic,
                Attendance.weight_kg,
                # Typed: PostgreSQL reads an untyped NULL as text, which no number unites with.
                cast(no_value, EncounterNote.hba1c.type).label("hba1c"),
                cast(no_value, EncounterNote.glucose.type).label("glucose"),
                Attendance.vitals_at.label("taken_at"),
            )
            .join(GroupSession, GroupSession.id == Attendance.session_id)
            .join(VisitGroup, at_site)
            .where(
                Attendance.patient_id == bindparam("patient"),
                Attendance.vitals_at.is_not(None),
                GroupSession.starts_at <= bindparam("before"),
                column.is_not(None),
            )
            .order_by(Attendance.vitals_at.desc())
            .limit(1)
            .subquery()
        )

    # Check-in values first: of a check-in and a note of the same time, the check-in shows.
    latest = [
        latest_at_check_in("check-in bp", Attendance.systolic),
        latest_at_check_in("check-in weight", Attendance.weight_kg),
        *[latest_in_notes(key, column) for key, column in _NOTE_MEASURES.items()],
    ]
    measures = union_all(*[select(*sub.c) for sub in latest])
    follow_ups = (
        select(
            EncounterNote.follow_up,
            GroupSession.starts_at,
            User.given_name,
            User.preferred_name,
            User.family_name,
        )
        .join(GroupSession, GroupSession.id == EncounterNote.session_id)
        .join(VisitGroup, at_site)
        .join(User, User.id == EncounterNote.author_id)
        .where(earlier, func.trim(EncounterNote.follow_up) != "")
        .order_by(GroupSession.starts_at.desc(), EncounterNote.id.desc())
        .limit(FOLLOW_UPS_SHOWN)
    )
    newest_word = (
        select(func.max(GoalProgress.id))
        .where(GoalProgress.goal_id == PatientGoal.id)
        .correlate(PatientGoal)
        .scalar_subquery()
    )
    goals = (
        select(
            PatientGoal.id,
            PatientGoal.text,
            GoalProgress.state,
            GoalProgress.comment,
            GoalProgress.created_at,
        )
        .join(VisitGroup, VisitGroup.id == PatientGoal.group_id)
        .outerjoin(GoalProgress, GoalProgress.id == newest_word)
        .where(
            PatientGoal.patient_id == bindparam("patient"),
            PatientGoal.status == OPEN,
            VisitGroup.site_id == bindparam("site"),
            or_(PatientGoal.note_id.is_(None), PatientGoal.note_id != bindparam("note")),
        )
        .order_by(PatientGoal.created_at, PatientGoal.id)
    )
    on_this_agenda = (
        select(AgendaItem.id)
        .where(AgendaItem.topic_id == AgendaTopic.id, AgendaItem.session_id == bindparam("session"))
        .correlate(AgendaTopic)
        .exists()
    )
    topics = (
        select(AgendaTopic.id, AgendaTopic.title, AgendaTopic.status, on_this_agenda)
        .where(
            AgendaTopic.group_id == bindparam("group"),
            AgendaTopic.proposer_id == bindparam("patient"),
            AgendaTopic.kind == TOPIC,
            # Put forward anonymously: never shown as theirs, even to their care team.
            AgendaTopic.shown_as != ANONYMOUS,
            AgendaTopic.hidden_at.is_(None),
            # Still open to votes (kept for later too), or on this session's agenda.
            or_(AgendaTopic.status.in_((TOPIC_OPEN, TOPIC_KEPT)), on_this_agenda),
        )
        .order_by(on_this_agenda.desc(), AgendaTopic.created_at.desc(), AgendaTopic.id.desc())
        .limit(TOPICS_SHOWN)
    )
    return measures, follow_ups, goals, topics


def pre_visit(note: EncounterNote) -> PreVisit:
    """The patient's last measures, open goals, earlier follow-up items, and the topics they
    proposed for the group that are open or on this session's agenda (four queries).

    Measures are the latest of earlier signed notes and check-in vitals (this session's
    included), each with its date; only what was recorded at the note's site is shown,
    as only its clinicians read the note. Weights are in the site's unit. Topics proposed
    anonymously, and topics staff hid, are not shown.
    """
    group_session = note.group_session
    site = group_session.group.site
    params = {
        "patient": note.patient_id,
        "site": site.id,
        "note": note.id,
        "before": group_session.starts_at,
        "group": group_session.group_id,
        "session": group_session.id,
    }
    measures_query, follow_ups_query, goals_query, topics_query = _pre_visit_queries()

    found: dict[str, Measure] = {}

    def offer(key: str, label: str, text: str, taken_at: datetime, source: str) -> None:
        if key not in found or taken_at > found[key].taken_at:
            found[key] = Measure(label, text, taken_at, source)

    for kind, systolic, diastolic, weight_kg, hba1c, glucose, taken_at in db.session.execute(
        measures_query, params
    ):
        source = "check-in" if kind.startswith("check-in") else "visit note"
        if kind.endswith("bp"):
            offer("bp", "Blood pressure", f"{systolic}/{diastolic} mmHg", taken_at, source)
        elif kind.endswith("weight"):
            offer("weight", "Weight", _weight(weight_kg, site), taken_at, source)
        elif kind == "hba1c":
            offer("hba1c", "HbA1c", f"{hba1c}%", taken_at, source)
        elif kind == "glucose":
            offer("glucose", "Glucose", f"{glucose} mg/dL", taken_at, source)
    measures = [found[key] for key in ("bp", "weight", "hba1c", "glucose") if key in found]
    follow_ups = [
        FollowUp(text, visit_at, person_name(given, preferred, family))
        for text, visit_at, given, preferred, family in db.session.execute(follow_ups_query, params)
    ]
    goals = [
        GoalStatus(goal_id, text, GoalWord(state, comment, said_at) if state else None)
        for goal_id, text, state, comment, said_at in db.session.execute(goals_query, params)
    ]
    topics = [
        ProposedTopic(topic_id, title, status, bool(on_agenda))
        for topic_id, title, status, on_agenda in db.session.execute(topics_query, params)
    ]
    return PreVisit(measures=measures, goals=goals, follow_ups=follow_ups, topics=topics)


def _weight(weight_kg, site) -> str:
    return history.weight_words(weight_kg, site.weight_unit)
