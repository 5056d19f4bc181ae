"""What patients read of their own records: their after-visit summaries and goals (with
the progress they report). A clinician's encounter log is in :mod:`.encounter_log`.

Patients read the plan, goals and follow-up of their signed notes, never the assessment,
concerns, vitals or billing. Every page's data comes in a fixed number of queries.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, load_only

from groupvisits import audit
from groupvisits.accounts.models import User
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
from groupvisits.encounters.note_reading import with_session
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
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
        .where(EncounterNote.patient_id == patient.id, EncounterNote.status.in_(REVIEWED_STATUSES))
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
