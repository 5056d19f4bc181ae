"""The main pages of each role, and how to find a URL for each in any database."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from groupvisits.accounts.models import User
from groupvisits.encounters.models import EncounterNote, OneOnOneSlot
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.roster.models import Membership
from groupvisits.schedule import feeds
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow

DEMO = "riverside.example.org"


@dataclass(frozen=True)
class Page:
    """A page to measure: who asks for it and its address."""

    name: str
    user: str  # email of the signed-in person ("" for a feed, which needs no sign-in)
    url: str
    #: A search to post before each visit (address, fields): search words never go in a URL.
    search: tuple[str, dict] | None = None


def busiest_group() -> VisitGroup:
    """The demo group with the most sessions (the one with the longest history)."""
    group_id = db.session.scalar(
        select(GroupSession.group_id)
        .join(VisitGroup, VisitGroup.id == GroupSession.group_id)
        .where(VisitGroup.site_id == 1)
        .group_by(GroupSession.group_id)
        .order_by(func.count().desc(), GroupSession.group_id)
        .limit(1)
    )
    return db.session.get(VisitGroup, group_id)


def other_pages(group: VisitGroup | None = None) -> list[Page]:
    """Every other page a signed-in person can open, around ``group``: forms, history, search.

    Not timed by the benchmark, but held to the same rules as the main pages.
    """
    group = group or busiest_group()
    session_id = _next_session(group).id
    member = _first_member(group)
    membership_id = db.session.scalar(
        select(Membership.id).where(
            Membership.group_id == group.id, Membership.patient_id == member.id
        )
    )
    coordinator = f"coordinator@{DEMO}"
    site = group.site_id
    staff_pages = [
        ("group form", "/groups/new"),
        ("group edit", f"/groups/{group.id}/edit"),
        ("group plan", f"/groups/{group.id}/plan"),
        ("group schedule", f"/groups/{group.id}/schedule"),
        ("agreement (staff)", f"/groups/{group.id}/agreement"),
        ("roster CSV", f"/groups/{group.id}/roster.csv"),
        ("membership history", f"/memberships/{membership_id}/history"),
        ("past members", f"/groups/{group.id}/roster/past"),
        ("new session form", f"/groups/{group.id}/sessions/new"),
        ("session edit", f"/sessions/{session_id}/edit"),
        ("session plan", f"/sessions/{session_id}/plan"),
        ("session download", f"/sessions/{session_id}/calendar.ics"),
        ("sign-in sheet", f"/sessions/{session_id}/sign-in-sheet"),
        ("person", f"/people/{member.id}"),
        ("person edit", f"/people/{member.id}/edit"),
        ("person form", "/people/new"),
        ("sites", "/sites/"),
        ("site", f"/sites/{site}"),
        ("site edit", f"/sites/{site}/edit"),
        ("site form", "/sites/new"),
        ("audit trail", f"/sites/{site}/audit"),
        ("audit trail, filtered", f"/sites/{site}/audit?patient={member.id}&action=view"),
        ("calendar settings (staff)", "/calendar"),
        ("password form", "/account/password"),
    ]
    patient_pages = [
        ("group (patient)", f"/groups/{group.id}"),
        ("session (patient)", f"/sessions/{session_id}"),
        ("agreement (patient)", f"/groups/{group.id}/agreement"),
        ("session download (patient)", f"/sessions/{session_id}/calendar.ics"),
        ("calendar settings (patient)", "/calendar"),
        # Both questions need a feed: main_pages made one for this member.
        ("new calendar address? (patient)", "/calendar/feed/new"),
        ("turn the calendar off? (patient)", "/calendar/feed/revoke"),
        ("profile (patient)", "/profile"),
    ]
    searches = [
        Page(
            "roster search",
            coordinator,
            f"/groups/{group.id}/roster",
            (f"/groups/{group.id}/roster/find", {"find": "an"}),
        ),
        Page(
            "attendance search",
            coordinator,
            f"/sessions/{session_id}/attendance",
            (f"/sessions/{session_id}/attendance/find", {"find": "an"}),
        ),
        Page(
            "people search",
            coordinator,
            "/people/?role=patient",
            ("/people/find", {"q": "an", "role": "patient"}),
        ),
    ]
    return (
        [Page(name, coordinator, url) for name, url in staff_pages]
        + searches
        + [Page(name, member.email, url) for name, url in patient_pages]
    )


def _next_session(group: VisitGroup) -> GroupSession:
    return db.session.scalar(
        select(GroupSession)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at >= utcnow())
        .order_by(GroupSession.starts_at)
        .limit(1)
    )


def _last_held_session(group: VisitGroup) -> GroupSession:
    """The group's latest past session with one-on-one visits (and so notes)."""
    return db.session.scalar(
        select(GroupSession)
        .join(OneOnOneSlot, OneOnOneSlot.session_id == GroupSession.id)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at < utcnow())
        .order_by(GroupSession.starts_at.desc())
        .limit(1)
    )


def _resident_note(group_session: GroupSession) -> EncounterNote:
    """A resident's note at the session, of a patient who signs in (an email)."""
    author, patient = aliased(User), aliased(User)
    return db.session.scalar(
        select(EncounterNote)
        .join(author, author.id == EncounterNote.author_id)
        .join(patient, patient.id == EncounterNote.patient_id)
        .where(
            EncounterNote.session_id == group_session.id,
            author.discipline == "resident",
            patient.email.is_not(None),
        )
        .order_by(EncounterNote.id)
        .limit(1)
    )


def encounter_pages(group: VisitGroup) -> list[Page]:
    """The one-on-one and notes pages of each role, around the group's last held session."""
    held = _last_held_session(group)
    note = _resident_note(held)
    resident = db.session.get(User, note.author_id)
    attending = db.session.get(User, note.preceptor_id) if note.preceptor_id else resident
    member = db.session.get(User, note.patient_id)
    coordinator_email = f"coordinator@{DEMO}"
    return [
        Page("one-on-ones", coordinator_email, f"/sessions/{held.id}/one-on-ones"),
        Page("run sheet", coordinator_email, f"/sessions/{held.id}/run-sheet"),
        Page("note tracker", coordinator_email, f"/sessions/{held.id}/tracker"),
        Page("group note", coordinator_email, f"/sessions/{held.id}/group-note"),
        Page("encounter note (resident)", resident.email, f"/notes/{note.id}"),
        Page("my notes (resident)", resident.email, "/my/encounters"),
        Page("encounter log (resident)", resident.email, "/my/encounters/log"),
        Page("attestation queue", attending.email, "/attestations"),
        Page("patient record", attending.email, f"/patients/{member.id}/record"),
        Page("encounter log CSV", resident.email, "/my/encounters/log.csv"),
        Page("my visits (patient)", member.email, "/my/visits"),
        Page("my goals (patient)", member.email, "/my/goals"),
    ]


def agenda_pages(group, next_session, member_email: str, coordinator_email: str) -> list[Page]:
    """The agenda's pages: a group's topics and history, a session's agenda and question box."""
    return [
        Page("topics (patient)", member_email, f"/groups/{group.id}/topics"),
        Page("topics (coordinator)", coordinator_email, f"/groups/{group.id}/topics"),
        Page("session agenda", coordinator_email, f"/sessions/{next_session.id}/agenda"),
        Page("question box (patient)", member_email, f"/sessions/{next_session.id}/questions"),
        Page("what we talked about", member_email, f"/groups/{group.id}/talked-about"),
    ]


def _first_member(group: VisitGroup) -> User:
    return db.session.scalar(
        select(User)
        .join(Membership, Membership.patient_id == User.id)
        .where(Membership.group_id == group.id, Membership.status == "active")
        .order_by(User.id)
        .limit(1)
    )


def _feed_token(user: User) -> str:
    """The token of the person's feed address, made anew if it cannot be shown."""
    feed = feeds.active_feed(user)
    token = feeds.feed_token(feed) if feed else None
    return token or feeds.feed_token(feeds.renew_feed(user))


def main_pages(group: VisitGroup | None = None) -> list[Page]:
    """Every main page of each role, around ``group`` (default: the busiest demo group)."""
    group = group or busiest_group()
    now = utcnow()
    next_session = _next_session(group)
    member = _first_member(group)
    coordinator = db.session.scalar(select(User).where(User.email == f"coordinator@{DEMO}"))
    clinician = db.session.scalar(select(User).where(User.email == f"attending@{DEMO}"))
    patient_token, staff_token = _feed_token(member), _feed_token(coordinator)
    clinician_token = _feed_token(clinician)
    db.session.commit()
    month = (now + timedelta(days=3)).strftime("%Y-%m")
    coordinator_email, clinician_email = coordinator.email, f"attending@{DEMO}"
    return [
        Page("coordinator dashboard", coordinator_email, "/"),
        Page("clinician dashboard", clinician_email, "/"),
        Page("patient dashboard", member.email, "/"),
        Page("group list", coordinator_email, "/groups/"),
        Page("group", coordinator_email, f"/groups/{group.id}"),
        Page("session", coordinator_email, f"/sessions/{next_session.id}"),
        Page("roster", coordinator_email, f"/groups/{group.id}/roster"),
        Page("attendance", coordinator_email, f"/sessions/{next_session.id}/attendance"),
        Page("check-in", coordinator_email, f"/sessions/{next_session.id}/check-in"),
        Page("month calendar", coordinator_email, f"/sites/{group.site_id}/calendar?month={month}"),
        Page("team coverage", coordinator_email, f"/sites/{group.site_id}/coverage"),
        Page("group staffing", coordinator_email, f"/groups/{group.id}/team"),
        Page("people", coordinator_email, "/people/"),
        Page("my sessions (patient)", member.email, "/my/sessions"),
        Page("my groups (patient)", member.email, "/my/groups"),
        Page("my schedule (clinician)", clinician_email, "/my/schedule"),
        Page("patient calendar feed", "", f"/feeds/{patient_token}.ics"),
        Page("clinician calendar feed", "", f"/feeds/{clinician_token}.ics"),
        Page("group feed, 3 years", "", f"/feeds/{staff_token}/groups/{group.id}.ics"),
        *encounter_pages(group),
        *agenda_pages(group, next_session, member.email, coordinator_email),
    ]
