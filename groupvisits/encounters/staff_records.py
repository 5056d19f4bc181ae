"""Where notes stand, for staff: a session's note tracker (written, signed, attested, billed)
and a patient's record across sessions. Both read a note's status, never what it says.

Every page's data comes in a fixed number of queries.
"""

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func, select, union
from sqlalchemy.orm import aliased, joinedload, load_only

from groupvisits.accounts.models import User
from groupvisits.encounters.group_notes import group_note_of
from groupvisits.encounters.models import (
    ATTESTED,
    BILLING_LEVELS,
    DRAFT,
    FINAL,
    MISSED,
    NOTE_STATUSES,
    RETURNED,
    SIGNED,
    EncounterNote,
    GroupNote,
    OneOnOneSlot,
)
from groupvisits.encounters.note_reading import SIGNED_STATUSES, Place, person_name
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.roster.models import ATTENDED, CHECK_INS, NO, YES, Attendance
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import Site

# The session's note tracker

#: Where a patient's note stands, in the order the tracker lists them (work to do first).
NOTE_STATES = {
    "missing": "Not written",
    "returned": "Returned for changes",
    "draft": "Draft, not signed",
    "awaiting": "Signed, awaiting attestation",
    "complete": "Complete",
    "no_visit": "No one-on-one visit",
}
_STATE_OF_STATUS = {
    DRAFT: "draft",
    RETURNED: "returned",
    SIGNED: "awaiting",
    ATTESTED: "complete",
    FINAL: "complete",
}
NO_CHARGE = BILLING_LEVELS["none"]


@dataclass(frozen=True)
class Billing:
    """Whether a visit is billed: ``label`` is "No charge" or a visit level."""

    label: str
    #: Why, or what it waits for ("" when the level is final).
    reason: str = ""
    charge: bool = False


@dataclass
class TrackerRow:
    """One patient expected or present at the session, with their slot and note."""

    patient: User
    attendance: Attendance | None = None
    slot: OneOnOneSlot | None = None
    note: EncounterNote | None = None

    @property
    def attended(self) -> bool:
        return self.attendance is not None and self.attendance.check_in in ATTENDED

    @property
    def attendance_label(self) -> str:
        check_in = self.attendance.check_in if self.attendance else None
        return CHECK_INS.get(check_in, "Not checked in")

    @property
    def had_one_on_one(self) -> bool:
        """Came, and was seen: a note, or a slot marked seen (a missed slot is no visit)."""
        if not self.attended:
            return False
        if self.note is not None:
            return True
        return self.slot is not None and self.slot.status != MISSED

    @property
    def state(self) -> str:
        if self.note is not None:
            return _STATE_OF_STATUS[self.note.status]
        return "missing" if self.had_one_on_one else "no_visit"

    @property
    def state_label(self) -> str:
        return NOTE_STATES[self.state]

    @property
    def written(self) -> bool:
        return self.note is not None

    @property
    def signed(self) -> bool:
        return self.note is not None and self.note.status in SIGNED_STATUSES

    @property
    def attestation_label(self) -> str:
        status = self.note.status if self.note else None
        return {
            ATTESTED: "Attested",
            FINAL: "No attestation needed",
            SIGNED: "Waiting",
        }.get(status, "Not yet" if self.note is not None else "")

    @property
    def billing(self) -> Billing:
        if not self.attended:
            return Billing(NO_CHARGE, f"Absent ({self.attendance_label.lower()})")
        if not self.had_one_on_one:
            return Billing(NO_CHARGE, "No one-on-one visit")
        if self.note is None:
            return Billing("Not known yet", "Waiting for the note")
        if self.note.billing_level == "none":
            return Billing(NO_CHARGE, "Set in the note")
        waiting = {
            DRAFT: "When the note is signed",
            RETURNED: "When the note is signed",
            SIGNED: "When the note is attested",
        }.get(self.note.status, "")
        return Billing(self.note.billing_label, waiting, charge=True)

    @property
    def sort_key(self):
        return (
            list(NOTE_STATES).index(self.state),
            self.patient.family_name.lower(),
            self.patient.given_name.lower(),
            self.patient.id,
        )


@dataclass
class Tracker:
    """A session's patients, work to do first, and the counts the page opens with."""

    group_session: GroupSession
    rows: list[TrackerRow]
    group_note: GroupNote | None
    counts: Counter = field(default_factory=Counter)


#: The note's columns the tracker reads: where it stands, never what it says.
_NOTE_STATUS_COLUMNS = (
    EncounterNote.id,
    EncounterNote.session_id,
    EncounterNote.patient_id,
    EncounterNote.author_id,
    EncounterNote.preceptor_id,
    EncounterNote.slot_id,
    EncounterNote.status,
    EncounterNote.billing_level,
    EncounterNote.signed_at,
    EncounterNote.attested_at,
)


@functools.cache
def _tracker_queries():
    with_slot = select(OneOnOneSlot.patient_id).where(
        OneOnOneSlot.session_id == bindparam("session_id")
    )
    with_note = select(EncounterNote.patient_id).where(
        EncounterNote.session_id == bindparam("session_id")
    )
    attendances = (
        select(Attendance)
        .where(
            Attendance.session_id == bindparam("session_id"),
            (Attendance.rsvp == YES)
            | Attendance.check_in.is_not(None)
            | (Attendance.is_drop_in & (func.coalesce(Attendance.rsvp, "") != NO))
            # Someone seen without saying yes still has their check-in shown.
            | Attendance.patient_id.in_(with_slot)
            | Attendance.patient_id.in_(with_note),
        )
        .options(joinedload(Attendance.patient, innerjoin=True))
    )
    slots = (
        select(OneOnOneSlot)
        .where(OneOnOneSlot.session_id == bindparam("session_id"))
        .options(
            joinedload(OneOnOneSlot.patient, innerjoin=True),
            joinedload(OneOnOneSlot.provider, innerjoin=True),
        )
    )
    notes = (
        select(EncounterNote)
        .where(EncounterNote.session_id == bindparam("session_id"))
        .options(
            load_only(*_NOTE_STATUS_COLUMNS),
            joinedload(EncounterNote.patient, innerjoin=True),
            joinedload(EncounterNote.author, innerjoin=True),
            joinedload(EncounterNote.preceptor),
        )
    )
    return attendances, slots, notes


def session_tracker(group_session: GroupSession) -> Tracker:
    """Everyone expected or present (RSVP yes, checked in, a drop-in, a slot or a note), with
    whether their note is written, signed and attested, and whether the visit is billed.

    Four queries, however many patients; note contents are not even loaded.
    """
    attendances, slots, notes = _tracker_queries()
    params = {"session_id": group_session.id}
    rows: dict[int, TrackerRow] = {}

    def row(patient: User) -> TrackerRow:
        return rows.setdefault(patient.id, TrackerRow(patient))

    for attendance in db.session.scalars(attendances, params):
        row(attendance.patient).attendance = attendance
    for slot in db.session.scalars(slots, params):
        row(slot.patient).slot = slot
    for note in db.session.scalars(notes, params).unique():
        row(note.patient).note = note
    ordered = sorted(rows.values(), key=lambda r: r.sort_key)
    return Tracker(
        group_session=group_session,
        rows=ordered,
        group_note=group_note_of(group_session),
        counts=Counter(r.state for r in ordered),
    )


# A patient's record

#: Sessions a patient's record shows at a time, newest first; older ones are on later pages.
RECORD_PAGE_SIZE = 15


@dataclass(frozen=True)
class RecordNote:
    """A one-on-one note as a patient's record lists it: who wrote it and where it stands."""

    id: int
    author_name: str
    status: str
    preceptor_name: str
    attested_at: datetime | None

    @property
    def status_label(self) -> str:
        return NOTE_STATUSES[self.status]


@dataclass(frozen=True)
class RecordGroupNote:
    """The group note of a session the patient attended."""

    topics: str
    education: str
    minutes: int | None
    signed_at: datetime | None
    author_name: str


@dataclass
class RecordEntry:
    """One session in a patient's record: their one-on-one note and the group note."""

    session_id: int
    visit_at: datetime
    group_name: str
    site: Place
    note: RecordNote | None = None
    group_note: RecordGroupNote | None = None


@dataclass
class RecordPage:
    """One page of a patient's record, newest session first."""

    entries: list[RecordEntry]
    page: int
    has_older: bool


@functools.cache
def _record_queries(at_sites: bool):
    """The sessions of a page of a patient's record, then their notes and group notes."""
    patient = bindparam("patient_id")
    attended = (
        (Attendance.session_id == GroupNote.session_id)
        & (Attendance.patient_id == patient)
        & Attendance.check_in.in_(ATTENDED)
    )
    with_either = union(
        select(EncounterNote.session_id.label("session_id")).where(
            EncounterNote.patient_id == patient
        ),
        select(GroupNote.session_id).join(Attendance, attended),
    ).subquery()
    sessions = (
        select(
            GroupSession.id,
            GroupSession.starts_at,
            VisitGroup.name,
            Site.name,
            Site.timezone,
            Site.locale,
        )
        .join(with_either, with_either.c.session_id == GroupSession.id)
        .join(VisitGroup, VisitGroup.id == GroupSession.group_id)
        .join(Site, Site.id == VisitGroup.site_id)
        .order_by(GroupSession.starts_at.desc(), GroupSession.id.desc())
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    if at_sites:
        sessions = sessions.where(VisitGroup.site_id.in_(bindparam("site_ids", expanding=True)))
    on_page = bindparam("session_ids", expanding=True)
    author, preceptor = aliased(User), aliased(User)
    notes = (
        select(
            EncounterNote.session_id,
            EncounterNote.id,
            author.given_name,
            author.preferred_name,
            author.family_name,
            EncounterNote.status,
            preceptor.given_name,
            preceptor.preferred_name,
            preceptor.family_name,
            EncounterNote.attested_at,
        )
        .join(author, author.id == EncounterNote.author_id)
        .outerjoin(preceptor, preceptor.id == EncounterNote.preceptor_id)
        .where(EncounterNote.patient_id == patient, EncounterNote.session_id.in_(on_page))
    )
    group_notes = (
        select(
            GroupNote.session_id,
            GroupNote.topics,
            GroupNote.education,
            GroupNote.minutes,
            GroupNote.signed_at,
            User.given_name,
            User.preferred_name,
            User.family_name,
        )
        .join(Attendance, attended)
        .join(User, User.id == GroupNote.author_id)
        .where(GroupNote.session_id.in_(on_page))
    )
    return sessions, notes, group_notes


def patient_record(
    patient: User,
    *,
    site_ids: set[int] | None = None,
    page: int = 1,
    size: int = RECORD_PAGE_SIZE,
) -> RecordPage:
    """A page of a patient's record: the sessions with their one-on-one note (status,
    provider, preceptor) or with a group note of a session they attended, newest first,
    in three queries. Note contents are not even read.

    :param site_ids: only sessions at these sites (those the reader serves); None: all.
    """
    sessions, notes, group_notes = _record_queries(site_ids is not None)
    params = {"patient_id": patient.id, "limit": size + 1, "offset": (page - 1) * size}
    if site_ids is not None:
        params["site_ids"] = sorted(site_ids)
    rows = db.session.execute(sessions, params).all()
    entries = {
        session_id: RecordEntry(session_id, starts_at, group_name, Place(*place))
        for session_id, starts_at, group_name, *place in rows[:size]
    }
    if entries:
        params["session_ids"] = list(entries)
        for session_id, note_id, *names, status, pg, pp, pf, attested_at in db.session.execute(
            notes, params
        ):
            entries[session_id].note = RecordNote(
                note_id, person_name(*names), status, person_name(pg, pp, pf), attested_at
            )
        for session_id, topics, education, minutes, signed_at, *names in db.session.execute(
            group_notes, params
        ):
            entries[session_id].group_note = RecordGroupNote(
                topics, education, minutes, signed_at, person_name(*names)
            )
    return RecordPage(entries=list(entries.values()), page=page, has_older=len(rows) > size)
