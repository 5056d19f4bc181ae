"""What people read of their own records: a patient's after-visit summaries and goals (with
the progress they report), and a clinician's encounter log.

Patients read the plan, goals and follow-up of their signed notes, never the assessment,
concerns, vitals or billing. Every page's data comes in a fixed number of queries.
"""

import functools
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from babel.dates import format_date
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased, joinedload, load_only

from groupvisits import audit
from groupvisits.accounts.models import PatientProfile, User
from groupvisits.encounters.models import (
    ATTESTED,
    FINAL,
    MET,
    OPEN,
    PROGRESS,
    RETURNED,
    SIGNED,
    STOPPED,
    EncounterNote,
    GoalProgress,
    PatientGoal,
)
from groupvisits.encounters.note_reading import SIGNED_STATUSES, with_session
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.localtime import site_locale
from groupvisits.locking import lock_row
from groupvisits.schedule import participation
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import Site
from groupvisits.timeutil import to_local, utcnow

#: Longest comment a patient leaves on a goal's progress.
PROGRESS_COMMENT_MAX = 500


# After-visit summaries


@dataclass(frozen=True)
class AfterVisitSummary:
    """What a patient reads of a signed note: never the assessment, concerns, vitals or billing.

    A plain record rather than the note itself, so that no page can show more by mistake.
    """

    note_id: int
    visit_at: datetime
    site: Site
    group_name: str
    provider_name: str
    plan: str
    goals: list[str]
    action_plan: str
    follow_up: str
    next_session: GroupSession | None

    @property
    def local_year(self) -> int:
        return to_local(self.visit_at, self.site.timezone).year


#: Notes a patient reads as their summary: signed by someone who needs no attestation, or
#: attested. A resident's plan waits for the attending's review (it may come back changed).
REVIEWED_STATUSES = (ATTESTED, FINAL)


def summaries_in_review(patient: User) -> int:
    """The patient's visits whose summary waits for the attending's review (one query)."""
    return db.session.scalar(
        select(func.count(EncounterNote.id)).where(
            EncounterNote.patient_id == patient.id,
            EncounterNote.status.in_((SIGNED, RETURNED)),
        )
    )


def my_summaries(patient: User, *, now: datetime | None = None) -> list[AfterVisitSummary]:
    """The patient's reviewed notes as after-visit summaries, newest first (three queries)."""
    notes = db.session.scalars(
        with_session(select(EncounterNote), EncounterNote)
        .where(
            EncounterNote.patient_id == patient.id, EncounterNote.status.in_(REVIEWED_STATUSES)
        )
        .options(
            load_only(
                EncounterNote.id,
                EncounterNote.session_id,
                EncounterNote.author_id,
                EncounterNote.plan,
                EncounterNote.goals,
                EncounterNote.action_plan,
                EncounterNote.follow_up,
            ),
            joinedload(EncounterNote.author, innerjoin=True),
        )
        .order_by(GroupSession.starts_at.desc(), EncounterNote.id.desc())
    ).unique()
    notes = list(notes)
    # The next session only of groups the patient still holds a place in.
    group_ids = {n.group_session.group_id for n in notes}
    if group_ids:
        group_ids &= participation.active_group_ids_of_patient(patient)
    upcoming = schedule.next_sessions(sorted(group_ids), now or utcnow())
    return [
        AfterVisitSummary(
            note_id=note.id,
            visit_at=note.group_session.starts_at,
            site=note.group_session.group.site,
            group_name=note.group_session.group.name,
            provider_name=note.author.full_name,
            plan=note.plan.strip(),
            goals=[line.strip() for line in note.goals.splitlines() if line.strip()],
            action_plan=note.action_plan.strip(),
            follow_up=note.follow_up.strip(),
            next_session=upcoming.get(note.group_session.group_id),
        )
        for note in notes
    ]


# Goals


@dataclass
class GoalWithProgress:
    """An open goal and the patient's latest word on it (None: nothing said yet)."""

    goal: PatientGoal
    latest: GoalProgress | None


def my_goals(patient: User) -> list[GoalWithProgress]:
    """The patient's open goals, oldest first, each with its latest progress (two queries)."""
    goals = list(
        db.session.scalars(
            select(PatientGoal)
            .where(PatientGoal.patient_id == patient.id, PatientGoal.status == OPEN)
            .options(
                joinedload(PatientGoal.group, innerjoin=True).joinedload(
                    VisitGroup.site, innerjoin=True
                )
            )
            .order_by(PatientGoal.created_at, PatientGoal.id)
        )
    )
    latest: dict[int, GoalProgress] = {}
    if goals:
        newest = (
            select(func.max(GoalProgress.id))
            .where(GoalProgress.goal_id.in_([g.id for g in goals]))
            .group_by(GoalProgress.goal_id)
        )
        for progress in db.session.scalars(select(GoalProgress).where(GoalProgress.id.in_(newest))):
            latest[progress.goal_id] = progress
    return [GoalWithProgress(goal, latest.get(goal.id)) for goal in goals]


def record_progress(
    goal: PatientGoal,
    state: str,
    comment: str = "",
    *,
    actor: User,
    stop: bool = False,
    now: datetime | None = None,
) -> GoalProgress:
    """The patient says how a goal is going; "done" marks it met, ``stop`` stops it.

    :raises NotAllowed: ``actor`` is not the goal's patient.
    :raises ValidationFailed: ``state`` is not one of PROGRESS, or the comment is too long.
    :raises Conflict: the goal is already met or stopped.
    """
    if not actor.is_authenticated or actor.id != goal.patient_id:
        raise NotAllowed("Only the patient whose goal it is says how it is going.")
    if state not in PROGRESS:
        raise ValidationFailed("Choose how it is going.", field="state")
    comment = (comment or "").strip()
    if len(comment) > PROGRESS_COMMENT_MAX:
        raise ValidationFailed(
            f"Keep it to {PROGRESS_COMMENT_MAX} characters or fewer.", field="comment"
        )
    goal = lock_row(PatientGoal, goal.id)
    if goal.status != OPEN:
        raise Conflict("This goal is already finished.")
    progress = GoalProgress(
        goal_id=goal.id, state=state, comment=comment, created_at=now or utcnow()
    )
    db.session.add(progress)
    if stop:
        goal.status = STOPPED
    elif state == "done":
        goal.status = MET
    db.session.flush()
    audit.record(actor, "create", actor, "goal progress", progress.id)
    if goal.status != OPEN:
        audit.record(actor, "update", actor, "goal", goal.id)
    return progress


# Residents' encounter log


@dataclass(frozen=True)
class LogEntry:
    """One signed note in a clinician's log: no patient name, their record number only."""

    note_id: int
    patient_id: int
    visit_at: datetime
    site: Site
    group_name: str
    record_number: str
    status: str
    preceptor_name: str
    attested_at: datetime | None

    @property
    def local_date(self) -> date:
        return to_local(self.visit_at, self.site.timezone).date()

    @property
    def attested_on(self) -> date | None:
        return to_local(self.attested_at, self.site.timezone).date() if self.attested_at else None

    @property
    def status_label(self) -> str:
        return {SIGNED: "Awaiting attestation", ATTESTED: "Attested", FINAL: "Signed"}[self.status]


@dataclass
class EncounterLog:
    """A clinician's signed notes, newest first, counted by month, group and preceptor."""

    entries: list[LogEntry]
    #: (label, count) pairs: months newest first; groups and preceptors by count.
    by_month: list[tuple[str, int]]
    by_group: list[tuple[str, int]]
    by_preceptor: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return len(self.entries)


#: Log entries whose note needs no attestation are counted under this preceptor.
NO_PRECEPTOR = "None (no attestation needed)"


@functools.cache
def _log_query():
    preceptor = aliased(User)
    return (
        select(
            EncounterNote.id,
            EncounterNote.patient_id,
            GroupSession.starts_at,
            Site,
            VisitGroup.name,
            PatientProfile.medical_record_number,
            EncounterNote.status,
            preceptor.given_name,
            preceptor.preferred_name,
            preceptor.family_name,
            EncounterNote.attested_at,
        )
        .join(GroupSession, GroupSession.id == EncounterNote.session_id)
        .join(VisitGroup, VisitGroup.id == GroupSession.group_id)
        .join(Site, Site.id == VisitGroup.site_id)
        .outerjoin(PatientProfile, PatientProfile.user_id == EncounterNote.patient_id)
        .outerjoin(preceptor, preceptor.id == EncounterNote.preceptor_id)
        .where(
            EncounterNote.author_id == bindparam("author_id"),
            EncounterNote.status.in_(SIGNED_STATUSES),
        )
        .order_by(GroupSession.starts_at.desc(), EncounterNote.id.desc())
    )


def encounter_log(clinician: User) -> EncounterLog:
    """The clinician's signed notes (signed, attested, final), in one query.

    Patients appear by medical record number: the log is checked against the chart.
    """
    entries = []
    for row in db.session.execute(_log_query(), {"author_id": clinician.id}):
        note_id, patient_id, starts_at, site, group_name, mrn, status = row[:7]
        given, preferred, family, attested_at = row[7:]
        preceptor = f"{preferred or given} {family}".strip() if family or given else ""
        entries.append(
            LogEntry(
                note_id=note_id,
                patient_id=patient_id,
                visit_at=starts_at,
                site=site,
                group_name=group_name,
                record_number=mrn or "",
                status=status,
                preceptor_name=preceptor,
                attested_at=attested_at,
            )
        )
    months: dict[tuple[int, int], list] = {}
    for entry in entries:
        on = entry.local_date
        months.setdefault((on.year, on.month), [_month_words(on, entry.site), 0])[1] += 1
    return EncounterLog(
        entries=entries,
        by_month=[tuple(months[key]) for key in sorted(months, reverse=True)],
        by_group=_counted(entry.group_name for entry in entries),
        by_preceptor=_counted(entry.preceptor_name or NO_PRECEPTOR for entry in entries),
    )


def _month_words(on: date, site: Site) -> str:
    """The month in the site's language: "January 2027"."""
    return format_date(on, "LLLL y", locale=site_locale(site))


def _counted(names) -> list[tuple[str, int]]:
    """Names with their counts, most first, then by name."""
    return sorted(Counter(names).items(), key=lambda item: (-item[1], item[0]))
