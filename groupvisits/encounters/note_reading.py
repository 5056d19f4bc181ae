"""Reading encounter notes: one note with what its page shows, its history, and the lists
around notes (the attending's queue, a clinician's own notes). Also the pieces the records'
queries share: which notes count as signed, a note's place, a person's name, and a join of
a note's session, group and site. What a provider reads before a visit is in
:mod:`.pre_visit`.
"""

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    bindparam,
    case,
    func,
    select,
    union_all,
)
from sqlalchemy.orm import aliased, contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from groupvisits.accounts.models import User
from groupvisits.encounters.models import (
    ATTESTED,
    DRAFT,
    FINAL,
    RETURNED,
    SIGNED,
    EncounterNote,
    NoteAddendum,
    NoteEvent,
    OneOnOneSlot,
)
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import Site

#: Notes that are signed: the patient's summary shows them, the resident's log counts them.
SIGNED_STATUSES = (SIGNED, ATTESTED, FINAL)
#: Notes awaiting attestation, and attested or final ones, listed on a clinician's page.
FINISHED_SHOWN = 15


# Reading notes


def _with_context(query):
    """Load what pages show of a note with it: its session, group, site and people."""
    return query.options(
        joinedload(EncounterNote.group_session, innerjoin=True)
        .joinedload(GroupSession.group, innerjoin=True)
        .joinedload(VisitGroup.site, innerjoin=True),
        joinedload(EncounterNote.patient, innerjoin=True),
        joinedload(EncounterNote.author, innerjoin=True),
        joinedload(EncounterNote.preceptor),
    )


def with_session(query, model):
    """Join a note's (or group note's) session, group and site, loading them in the same query."""
    return (
        query.join(model.group_session)
        .join(GroupSession.group)
        .join(VisitGroup.site)
        .options(
            contains_eager(model.group_session)
            .contains_eager(GroupSession.group)
            .contains_eager(VisitGroup.site)
        )
    )


@functools.cache
def _note_queries():
    """A note with the rows its page shows (session, group, site, people), then its addenda
    with their authors: plain joins, each row loaded once and found by the relationships."""
    patient, author, preceptor, attested_by = (aliased(User) for _ in range(4))
    note = (
        select(
            EncounterNote, GroupSession, VisitGroup, Site, patient, author, preceptor, attested_by
        )
        .join(GroupSession, GroupSession.id == EncounterNote.session_id)
        .join(VisitGroup, VisitGroup.id == GroupSession.group_id)
        .join(Site, Site.id == VisitGroup.site_id)
        .join(patient, patient.id == EncounterNote.patient_id)
        .join(author, author.id == EncounterNote.author_id)
        .outerjoin(preceptor, preceptor.id == EncounterNote.preceptor_id)
        .outerjoin(attested_by, attested_by.id == EncounterNote.attested_by_id)
        .where(EncounterNote.id == bindparam("note_id"))
    )
    addenda = (
        select(NoteAddendum, User)
        .join(User, User.id == NoteAddendum.author_id)
        .where(NoteAddendum.note_id == bindparam("note_id"))
        .order_by(NoteAddendum.id)
    )
    return note, addenda


def load_note(note_id: int) -> EncounterNote | None:
    """A note with its session, site, people and addenda (in two queries); None if none.

    The session, group, site and people are loaded in the note's query: reading them from
    the note (``note.group_session.group.site``) finds them without another query.
    """
    note_query, addenda_query = _note_queries()
    params = {"note_id": note_id}
    row = db.session.execute(note_query, params).first()
    if row is None:
        return None
    note, group_session, group, site, patient, author, preceptor, attested_by = row
    # Tie each row to the note: the session holds loaded rows only weakly.
    set_committed_value(group, "site", site)
    set_committed_value(group_session, "group", group)
    for name, value in (
        ("group_session", group_session),
        ("patient", patient),
        ("author", author),
        ("preceptor", preceptor),
        ("attested_by", attested_by),
    ):
        set_committed_value(note, name, value)
    addenda = []
    for addendum, addendum_author in db.session.execute(addenda_query, params):
        set_committed_value(addendum, "author", addendum_author)
        addenda.append(addendum)
    set_committed_value(note, "addenda", addenda)
    return note


def load_slot(slot_id: int) -> OneOnOneSlot | None:
    """A slot with its session, group and site; None if none."""
    return db.session.scalar(
        select(OneOnOneSlot)
        .where(OneOnOneSlot.id == slot_id)
        .options(
            joinedload(OneOnOneSlot.group_session, innerjoin=True)
            .joinedload(GroupSession.group, innerjoin=True)
            .joinedload(VisitGroup.site, innerjoin=True)
        )
    )


def note_of_slot(slot: OneOnOneSlot) -> EncounterNote | None:
    """The note of the slot's patient at the slot's session, if one was started."""
    return db.session.scalar(
        select(EncounterNote).where(
            EncounterNote.session_id == slot.session_id,
            EncounterNote.patient_id == slot.patient_id,
        )
    )


def note_history(note: EncounterNote) -> list[NoteEvent]:
    """The note's steps (signed, returned with comment, signed again, attested), oldest
    first, each with its actor (one query)."""
    events = []
    for event, actor in db.session.execute(
        select(NoteEvent, User)
        .join(User, User.id == NoteEvent.actor_id)
        .where(NoteEvent.note_id == note.id)
        .order_by(NoteEvent.occurred_at, NoteEvent.id)
    ):
        set_committed_value(event, "actor", actor)
        events.append(event)
    return events


def attestation_queue(attending: User) -> list[EncounterNote]:
    """The signed notes waiting for ``attending``, oldest signature first (one query)."""
    return list(
        db.session.scalars(
            _with_context(select(EncounterNote))
            .where(EncounterNote.preceptor_id == attending.id, EncounterNote.status == SIGNED)
            .order_by(EncounterNote.signed_at, EncounterNote.id)
        )
    )


def notes_waiting(clinician: User) -> dict[str, int]:
    """What waits for ``clinician``, for their home page (one query): their notes returned
    to them and their drafts, and the signed notes they are to attest."""
    mine = EncounterNote.author_id == clinician.id

    def how_many(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    returned, drafts, to_attest = db.session.execute(
        select(
            how_many(mine & (EncounterNote.status == RETURNED)),
            how_many(mine & (EncounterNote.status == DRAFT)),
            how_many(
                (EncounterNote.preceptor_id == clinician.id) & (EncounterNote.status == SIGNED)
            ),
        ).where(
            (mine & EncounterNote.status.in_((RETURNED, DRAFT)))
            | ((EncounterNote.preceptor_id == clinician.id) & (EncounterNote.status == SIGNED))
        )
    ).one()
    return {"returned": returned, "drafts": drafts, "to_attest": to_attest}


#: The order a clinician's page lists their notes in: what needs them first.
MY_ORDER = (RETURNED, DRAFT, SIGNED, ATTESTED, FINAL)
#: Statuses whose notes a clinician's page lists in full: their own work to do.
TO_DO = (RETURNED, DRAFT)


@dataclass(frozen=True)
class Place:
    """Where a visit took place, as a list shows its time: a site's name, zone and locale."""

    name: str
    timezone: str
    locale: str


@dataclass(frozen=True)
class NoteLine:
    """One of a clinician's notes as their list shows it: whose, when, and where it stands.

    Read as plain columns: never what the note says, but the attending's comment on a
    returned note (the author's to answer).
    """

    id: int
    patient_id: int
    patient_name: str
    status: str
    visit_at: datetime
    group_name: str
    site: Place
    preceptor_name: str
    return_comment: str
    returned_at: datetime | None


@dataclass
class MyNotes:
    """A clinician's notes by status, in :data:`MY_ORDER`, and how many of each there are."""

    by_status: dict[str, list[NoteLine]]
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def listed(self) -> list[NoteLine]:
        return [line for lines in self.by_status.values() for line in lines]


def person_name(given: str | None, preferred: str | None, family: str | None) -> str:
    """A person's name as :attr:`User.full_name` says it."""
    return f"{preferred or given or ''} {family or ''}".strip()


@functools.cache
def _my_notes_queries():
    """How many notes of each status, and the notes a clinician's page lists (built once)."""
    mine = EncounterNote.author_id == bindparam("author_id")
    counts = select(EncounterNote.status, func.count()).where(mine).group_by(EncounterNote.status)

    def picked(statuses, *order):
        return (
            select(EncounterNote.id)
            .where(mine, EncounterNote.status.in_(statuses))
            .order_by(*order)
            .limit(bindparam("shown"))
            .subquery()
        )

    # Waiting for the attending: those waiting longest. Finished: the latest signed.
    waiting = picked((SIGNED,), EncounterNote.signed_at, EncounterNote.id)
    finished = picked((ATTESTED, FINAL), EncounterNote.signed_at.desc(), EncounterNote.id.desc())
    listed = union_all(
        select(EncounterNote.id).where(mine, EncounterNote.status.in_(TO_DO)),
        select(waiting.c.id),
        select(finished.c.id),
    ).subquery()
    patient, preceptor = aliased(User), aliased(User)
    lines = (
        select(
            EncounterNote.id,
            EncounterNote.patient_id,
            patient.given_name,
            patient.preferred_name,
            patient.family_name,
            EncounterNote.status,
            GroupSession.starts_at,
            VisitGroup.name,
            Site.name,
            Site.timezone,
            Site.locale,
            preceptor.given_name,
            preceptor.preferred_name,
            preceptor.family_name,
            EncounterNote.return_comment,
            EncounterNote.returned_at,
            EncounterNote.signed_at,
        )
        .join(listed, listed.c.id == EncounterNote.id)
        .join(GroupSession, GroupSession.id == EncounterNote.session_id)
        .join(VisitGroup, VisitGroup.id == GroupSession.group_id)
        .join(Site, Site.id == VisitGroup.site_id)
        .join(patient, patient.id == EncounterNote.patient_id)
        .outerjoin(preceptor, preceptor.id == EncounterNote.preceptor_id)
    )
    return counts, lines


def my_encounters(clinician: User, *, shown: int = FINISHED_SHOWN) -> MyNotes:
    """A clinician's notes by status, in :data:`MY_ORDER` (every key present; two queries).

    Returned notes and drafts, the clinician's work, are all listed (oldest session first);
    of those awaiting attestation the ``shown`` waiting longest; of attested and final notes
    the latest ``shown`` signed. The counts say how many there are of each.
    """
    counts_query, lines_query = _my_notes_queries()
    params = {"author_id": clinician.id, "shown": shown}
    counts = dict.fromkeys(MY_ORDER, 0)
    counts.update(db.session.execute(counts_query, params).all())
    rows: dict[str, list] = {status: [] for status in MY_ORDER}
    for row in db.session.execute(lines_query, params):
        rows[row[5]].append(row)
    for status, listed in rows.items():
        if status in TO_DO:
            listed.sort(key=lambda row: (row[6], row[0]))  # oldest session first
        elif status == SIGNED:
            listed.sort(key=lambda row: (row[16], row[0]))  # waiting longest first
        else:
            listed.sort(key=lambda row: (row[16], row[0]), reverse=True)  # latest first
    return MyNotes(
        by_status={status: [_note_line(row) for row in listed] for status, listed in rows.items()},
        counts=counts,
    )


def _note_line(row) -> NoteLine:
    note_id, patient_id, given, preferred, family, status, starts_at, group_name = row[:8]
    site_name, timezone, locale, p_given, p_preferred, p_family = row[8:14]
    return_comment, returned_at = row[14:16]
    return NoteLine(
        id=note_id,
        patient_id=patient_id,
        patient_name=person_name(given, preferred, family),
        status=status,
        visit_at=starts_at,
        group_name=group_name,
        site=Place(site_name, timezone, locale),
        preceptor_name=person_name(p_given, p_preferred, p_family),
        return_comment=return_comment,
        returned_at=returned_at,
    )
