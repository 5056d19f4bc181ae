"""Demo one-on-one visits: slots, notes and their attestation, group notes, goals and progress.

Every past session where patients checked in gets a slot per patient with one of the
clinic's providers (never two overlapping slots for a provider or a patient, as the
database requires), a note per slot and the facilitator's group note. Notes older than two
weeks are finished (a resident's attested by an attending, anyone else's signed); the last
two weeks hold work in progress: drafts, notes awaiting attestation and one returned. Rows
go in by bulk insert, so three years of a network stay quick to load.
"""

import random
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from groupvisits.accounts.models import CLINICIAN, User, user_sites
from groupvisits.encounters.models import (
    ATTESTED,
    DRAFT,
    FINAL,
    RETURNED,
    SEEN,
    SIGNED,
    EncounterNote,
    GoalProgress,
    GroupNote,
    NoteAddendum,
    NoteEvent,
    OneOnOneSlot,
    PatientGoal,
)
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.roster.models import ATTENDED, Attendance
from groupvisits.schedule.models import SCHEDULED, GroupSession

#: Who sees patients one-on-one, and who precepts.
PROVIDER_DISCIPLINES = ("resident", "attending", "nurse_practitioner", "pharmacist")
FACILITATOR_DISCIPLINES = ("behavioural_health", "registered_nurse")
#: One-on-ones start after arrival and vitals (the default plan's first 15 minutes).
WINDOW_OFFSET = timedelta(minutes=15)
#: Notes this recent are still being written, signed and attested.
IN_PROGRESS = timedelta(days=14)
PROVIDERS_PER_SESSION = 3

CONCERNS = [
    "Sugars higher after dinner this month.",
    "Feet tingling at night.",
    "Forgetting the evening tablet.",
    "Tired in the afternoons.",
    "Wants to start walking again.",
    "Questions about the new insulin pen.",
    "Knee pain makes walking hard.",
    "Stress at work, sleeping badly.",
]
ASSESSMENTS = [
    "Type 2 diabetes, improving control.",
    "Type 2 diabetes, above target; adherence barriers.",
    "Hypertension, at goal on current regimen.",
    "Hypertension, above goal; possible white-coat component.",
    "Peripheral neuropathy symptoms; monofilament intact.",
]
PLANS = [
    "Keep the same medicines. Check sugar before breakfast three days a week.",
    "Take the evening tablet with dinner; set a phone reminder.",
    "Walk 10 minutes after lunch on weekdays.",
    "Blood test (HbA1c) before the next session.",
    "Try the low-salt recipes from the group; check blood pressure at home twice a week.",
    "Foot check every evening; bring your home readings next time.",
]
GOALS = [
    "Walk after lunch five days a week",
    "Swap soda for water at dinner",
    "Check my feet every night",
    "Take my evening tablet with dinner",
    "Cook the group's low-salt recipe once a week",
    "Bed by 11 on work nights",
]
ACTIONS = [
    "Put my walking shoes by the door.",
    "Buy a water bottle for work.",
    "Ask my daughter to remind me.",
    "Write the readings in the booklet.",
]
TOPICS = [
    "Reading food labels; carbohydrate counting with everyday meals.",
    "Low blood sugar: signs and what to do.",
    "Foot care and footwear.",
    "Salt in restaurant and take-away food.",
    "Stress, sleep and blood sugar.",
    "Staying active with sore joints.",
    "Medicines: questions members brought.",
]
ADDENDA = [
    "Correction: the blood pressure was taken on the left arm.",
    "Spoke with the pharmacist after the visit: the dose stays the same.",
    "Lab result received: HbA1c as recorded.",
]
RETURN_COMMENT = "Please add the foot examination findings and the follow-up interval."


def load_encounters(group_ids: list[int], rng: random.Random, now: datetime) -> dict[str, int]:
    """Slots, notes, group notes and goals for the past sessions of ``group_ids``."""
    if not group_ids:
        return {}
    groups = {
        g.id: g for g in db.session.scalars(select(VisitGroup).where(VisitGroup.id.in_(group_ids)))
    }
    clinicians: dict[int, list[User]] = {}
    for user, site_id in db.session.execute(
        select(User, user_sites.c.site_id)
        .join(user_sites, user_sites.c.user_id == User.id)
        .where(User.role == CLINICIAN, User.active.is_(True))
        .order_by(User.id)
    ):
        clinicians.setdefault(site_id, []).append(user)
    sessions = db.session.execute(
        select(GroupSession.id, GroupSession.group_id, GroupSession.starts_at)
        .where(
            GroupSession.group_id.in_(group_ids),
            GroupSession.status == SCHEDULED,
            GroupSession.starts_at < now,
        )
        .order_by(GroupSession.starts_at, GroupSession.id)
    ).all()
    attendees: dict[int, list[int]] = {}
    for session_id, patient_id in db.session.execute(
        select(Attendance.session_id, Attendance.patient_id)
        .join(GroupSession, GroupSession.id == Attendance.session_id)
        .where(
            GroupSession.group_id.in_(group_ids),
            GroupSession.starts_at < now,
            Attendance.check_in.in_(ATTENDED),
        )
        .order_by(Attendance.session_id, Attendance.patient_id)
    ):
        attendees.setdefault(session_id, []).append(patient_id)

    # Slots already in the database (an earlier load) hold their provider's and patient's time.
    busy: dict[int, list[tuple[datetime, datetime]]] = {}
    for provider_id, patient_id, start, end in db.session.execute(
        select(
            OneOnOneSlot.provider_id,
            OneOnOneSlot.patient_id,
            OneOnOneSlot.starts_at,
            OneOnOneSlot.ends_at,
        )
    ):
        busy.setdefault(provider_id, []).append((start, end))
        busy.setdefault(patient_id, []).append((start, end))

    def free(person: int, start: datetime, end: datetime) -> bool:
        return not any(s < end and start < e for s, e in busy.get(person, ()))

    slots, notes, group_notes = [], [], []
    for session_id, group_id, starts_at in sessions:
        group = groups[group_id]
        pool = clinicians.get(group.site_id, [])
        providers = [u for u in pool if u.discipline in PROVIDER_DISCIPLINES]
        attendings = [u for u in pool if u.discipline == "attending"]
        facilitators = [u for u in pool if u.discipline in FACILITATOR_DISCIPLINES]
        patients = list(attendees.get(session_id, []))
        if not patients or not providers:
            continue
        slot = timedelta(minutes=group.slot_minutes)
        window_start = starts_at + WINDOW_OFFSET
        per_provider = -(-len(patients) // PROVIDERS_PER_SESSION)
        block_end = window_start + per_provider * slot
        chosen = [
            u for u in rng.sample(providers, len(providers)) if free(u.id, window_start, block_end)
        ]
        chosen = chosen[:PROVIDERS_PER_SESSION]
        if not chosen:
            continue
        rng.shuffle(patients)
        per_provider = -(-len(patients) // len(chosen))
        preceptor = next(
            (a for a in attendings if a not in chosen), attendings[0] if attendings else None
        )
        recent = now - starts_at < IN_PROGRESS
        for index, patient_id in enumerate(patients):
            provider = chosen[index // per_provider]
            start = window_start + (index % per_provider) * slot
            if not free(patient_id, start, start + slot):
                continue
            busy.setdefault(patient_id, []).append((start, start + slot))
            slots.append(
                {
                    "session_id": session_id,
                    "patient_id": patient_id,
                    "provider_id": provider.id,
                    "starts_at": start,
                    "ends_at": start + slot,
                    "status": SEEN,
                    "placed_by": "planner",
                    "created_at": starts_at,
                    "updated_at": starts_at,
                }
            )
            notes.append(
                _note(session_id, patient_id, provider, preceptor, start, recent, rng, now)
            )
        for provider in chosen:
            busy.setdefault(provider.id, []).append((window_start, block_end))
        if facilitators:
            group_notes.append(
                {
                    "session_id": session_id,
                    "author_id": rng.choice(facilitators).id,
                    "topics": rng.choice(TOPICS),
                    "education": "Handout and a short demonstration.",
                    "minutes": 45,
                    "signed_at": None
                    if recent and rng.random() < 0.5
                    else starts_at + timedelta(hours=3),
                    "created_at": starts_at,
                    "updated_at": starts_at,
                }
            )
    # A returned note among the recent ones, so that the resident's list shows one.
    for note in reversed(notes):
        if note["status"] == SIGNED:
            note.update(status=RETURNED, returned_at=note["signed_at"] + timedelta(days=1))
            note["return_comment"] = RETURN_COMMENT
            break

    slot_ids = _insert(OneOnOneSlot, slots)
    for note, slot_id in zip(notes, slot_ids, strict=True):
        note["slot_id"] = slot_id
    note_ids = _insert(EncounterNote, [{k: v for k, v in n.items() if k != "_goal"} for n in notes])
    events, goals, addenda = [], [], []
    session_groups = {sid: gid for sid, gid, _ in sessions}
    for note, note_id in zip(notes, note_ids, strict=True):
        if note["signed_at"]:
            events.append(_event(note_id, note["author_id"], "signed", note["signed_at"]))
        if note["status"] == ATTESTED:
            events.append(_event(note_id, note["attested_by_id"], "attested", note["attested_at"]))
        if note["status"] == RETURNED:
            comment = note["return_comment"]
            events.append(
                _event(note_id, note["preceptor_id"], "returned", note["returned_at"], comment)
            )
        if note["signed_at"] and rng.random() < 0.03:
            # Now and then a correction after signing: added, signed, never an edit.
            addenda.append(
                {
                    "note_id": note_id,
                    "author_id": note["author_id"],
                    "text": rng.choice(ADDENDA),
                    "signed_at": note["signed_at"] + timedelta(hours=2),
                }
            )
        if note["_goal"] and note["signed_at"]:
            old = now - note["signed_at"] > timedelta(days=120)
            goals.append(
                {
                    "patient_id": note["patient_id"],
                    "group_id": session_groups[note["session_id"]],
                    "note_id": note_id,
                    "text": note["goals"],
                    "status": rng.choice(("met", "stopped", "met")) if old else "open",
                    "created_at": note["signed_at"],
                }
            )
    _insert(NoteEvent, events)
    _insert(NoteAddendum, addenda)
    goal_ids = _insert(PatientGoal, goals)
    progress = []
    for goal, goal_id in zip(goals, goal_ids, strict=True):
        if goal["status"] != "open":
            continue
        for week in range(1, rng.randrange(1, 4)):
            progress.append(
                {
                    "goal_id": goal_id,
                    "state": rng.choice(("not_started", "some", "most", "most", "done")),
                    "comment": rng.choice(
                        ("", "", "Harder on rainy days.", "Doing it with my sister.")
                    ),
                    "created_at": goal["created_at"] + timedelta(days=7 * week),
                }
            )
    _insert(GoalProgress, progress)
    _insert(GroupNote, group_notes)
    return {
        "one_on_one_slots": len(slots),
        "encounter_notes": len(notes),
        "group_notes": len(group_notes),
        "note_addenda": len(addenda),
        "patient_goals": len(goals),
        "goal_progress": len(progress),
    }


def _note(session_id, patient_id, provider, preceptor, start, recent, rng, now) -> dict:
    resident = provider.discipline == "resident"
    signed_at = start + timedelta(hours=rng.randrange(2, 30))
    if recent:
        roll = rng.random()
        status = DRAFT if roll < 0.25 else (SIGNED if resident else FINAL)
        if resident and roll > 0.75 and preceptor is not None:
            status = ATTESTED
    else:
        status = ATTESTED if resident and preceptor is not None else FINAL
    if resident and preceptor is None and status != DRAFT:
        status = FINAL
    if status == DRAFT or signed_at > now:
        signed_at = None
        status = DRAFT
    attested_at = signed_at + timedelta(days=rng.randrange(1, 5)) if status == ATTESTED else None
    if attested_at and attested_at > now:
        attested_at = now
    goal = rng.random() < 0.4
    return {
        "session_id": session_id,
        "patient_id": patient_id,
        "author_id": provider.id,
        "preceptor_id": preceptor.id if resident and preceptor is not None else None,
        "status": status,
        "concerns": rng.choice(CONCERNS),
        "systolic": rng.randrange(108, 168),
        "diastolic": rng.randrange(64, 100),
        "weight_kg": round(rng.uniform(58, 125), 1),
        "hba1c": round(rng.uniform(5.9, 10.4), 1),
        "glucose": rng.randrange(90, 240),
        "assessment": rng.choice(ASSESSMENTS),
        "plan": rng.choice(PLANS),
        "goals": rng.choice(GOALS) if goal else "",
        "action_plan": rng.choice(ACTIONS) if goal else "",
        "follow_up": "Next group session.",
        "billing_level": rng.choice(("99213", "99213", "99214", "99212")),
        "minutes": rng.randrange(7, 16),
        "signed_at": signed_at,
        "attested_at": attested_at,
        "attested_by_id": preceptor.id if attested_at else None,
        "returned_at": None,
        "return_comment": "",
        "created_at": start,
        "updated_at": signed_at or start,
        "_goal": goal,
    }


def _event(note_id, actor_id, kind, at, comment="") -> dict:
    return {
        "note_id": note_id,
        "actor_id": actor_id,
        "kind": kind,
        "comment": comment,
        "occurred_at": at,
    }


def _insert(model, rows: list[dict]) -> list[int]:
    """Insert rows in order and return their ids, in the same order."""
    if not rows:
        return []
    return list(
        db.session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows)
    )
