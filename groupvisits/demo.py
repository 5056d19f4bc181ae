"""Demo data: a small living clinic for trying GroupVisits out."""

import random
from datetime import date, time, timedelta

from groupvisits.accounts import passwords
from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT, PatientProfile, User
from groupvisits.extensions import db
from groupvisits.sites.models import Site
from groupvisits.timeutil import utcnow

DEMO_DOMAIN = "riverside.example.org"
DEMO_SITE = "Riverside Community Clinic"

STAFF = [
    # (email local part, role, given, family, discipline, training year)
    ("coordinator", COORDINATOR, "Carmen", "Alvarez", None, None),
    ("attending", CLINICIAN, "Daniel", "Okafor", "attending", None),
    ("resident1", CLINICIAN, "Priya", "Natarajan", "resident", 1),
    ("resident2", CLINICIAN, "Tomás", "Herrera", "resident", 2),
    ("resident3", CLINICIAN, "Grace", "Liu", "resident", 3),
    ("nurse", CLINICIAN, "Maureen", "Byrne", "registered_nurse", None),
    ("dietitian", CLINICIAN, "Samuel", "Adeyemi", "dietitian", None),
    ("pharmacist", CLINICIAN, "Hannah", "Kowalski", "pharmacist", None),
    ("behavioural", CLINICIAN, "Jordan", "Reyes", "behavioural_health", None),
]

GIVEN = [
    "Ana",
    "Robert",
    "Linh",
    "James",
    "Fatima",
    "George",
    "Maria",
    "Kwame",
    "Dorothy",
    "Luis",
    "Aisha",
    "Frank",
    "Mei",
    "Harold",
    "Rosa",
    "Tyrone",
    "Olga",
    "Samir",
    "Beatrice",
    "Chen",
    "Gloria",
    "Ibrahim",
    "Patricia",
    "Hector",
    "Yolanda",
    "Walter",
    "Nadia",
    "Curtis",
    "Elena",
    "Raymond",
]
FAMILY = [
    "Moreno",
    "Johnson",
    "Nguyen",
    "Smith",
    "Hassan",
    "Brown",
    "Garcia",
    "Mensah",
    "Williams",
    "Rivera",
    "Bello",
    "Miller",
    "Wang",
    "Davis",
    "Lopez",
    "Jackson",
    "Petrova",
    "Haddad",
    "Thompson",
    "Zhao",
    "Ortiz",
    "Diallo",
    "Wilson",
    "Cruz",
    "Martinez",
    "Anderson",
    "Rahman",
    "Taylor",
    "Popescu",
    "Clark",
]
LANGUAGES = ["English"] * 6 + ["Spanish", "Spanish", "Vietnamese", "Arabic"]
#: (dietary need codes, other text), as PatientProfile keeps them.
DIETS = [
    ("", ""),
    ("", ""),
    ("", ""),
    ("vegetarian", ""),
    ("", "no pork"),
    ("low_sodium", ""),
    ("gluten_free", ""),
    ("diabetic,low_sodium", ""),
]
#: Demo patients with no email address (by number): the clinic phones them.
PHONE_ONLY = {28, 30}
ACCESS = ["", "", "", "", "wheelchair user", "large print", "hard of hearing"]


def load_demo(*, password: str) -> Site:
    """Create the demo site, its staff and 30 patients (not committed)."""
    rng = random.Random(2026)
    site = Site(
        name=DEMO_SITE,
        timezone="America/New_York",
        address="120 Riverside Avenue, Suite 3\nSpringfield",
        phone="(555) 010-0120",
        locale="en_US",
    )
    db.session.add(site)
    password_hash = passwords.hash_password(password)
    for local, role, given, family, discipline, year in STAFF:
        db.session.add(
            User(
                email=f"{local}@{DEMO_DOMAIN}",
                role=role,
                given_name=given,
                family_name=family,
                discipline=discipline,
                training_year=year,
                password_hash=password_hash,
                sites=[site],
            )
        )
    patients = {}
    for number in range(1, 31):
        given, family = GIVEN[number - 1], FAMILY[number - 1]
        phone_only = number in PHONE_ONLY
        patient = User(
            email=None if phone_only else f"patient{number:02d}@{DEMO_DOMAIN}",
            role=PATIENT,
            given_name=given,
            family_name=family,
            phone=f"555-01{number:02d}",
            password_hash=None if phone_only else password_hash,
            sites=[site],
        )
        born = date(1945 + rng.randrange(40), rng.randrange(1, 13), rng.randrange(1, 29))
        language = rng.choice(LANGUAGES)
        dietary_needs, dietary_other = rng.choice(DIETS)
        patient.patient_profile = PatientProfile(
            date_of_birth=born,
            preferred_language=language,
            dietary_needs=dietary_needs,
            dietary_other=dietary_other,
            accessibility_needs=rng.choice(ACCESS),
            medical_record_number=f"RCC-{100000 + number * 37}",
        )
        db.session.add(patient)
        patients[number] = patient
    db.session.flush()
    groups = load_demo_groups(site)
    load_demo_rosters(groups, rng, patients)
    load_demo_team(groups[0])
    db.session.flush()
    from groupvisits.demo_agenda import load_agenda
    from groupvisits.demo_encounters import load_encounters

    load_encounters([group.id for group in groups], rng, utcnow())
    load_agenda([group.id for group in groups], rng, utcnow())
    return site


def load_demo_team(group) -> None:
    """The first group's staffing template and core team, on its next sessions; time off."""
    from datetime import datetime

    from sqlalchemy import select

    from groupvisits.roster.models import Membership
    from groupvisits.schedule.models import GroupSession
    from groupvisits.team import services as team
    from groupvisits.team.models import FACILITATOR, PEER_MENTOR, PRECEPTOR, PROVIDER, VITALS

    def person(local: str) -> User:
        return db.session.scalar(select(User).where(User.email == f"{local}@{DEMO_DOMAIN}"))

    coordinator = person("coordinator")
    for role, count in ((FACILITATOR, 1), (PROVIDER, 3), (PRECEPTOR, 1), (VITALS, 1)):
        team.set_staffing_rule(group, role, count, actor=coordinator)
    for local, role in (
        ("behavioural", FACILITATOR),
        ("attending", PRECEPTOR),
        ("resident1", PROVIDER),
        ("resident3", PROVIDER),
        ("pharmacist", PROVIDER),
        ("nurse", VITALS),
    ):
        team.add_core_member(group, person(local), role, actor=coordinator)
    # A long-standing member who offered to mentor newer ones co-leads the group parts.
    mentor = db.session.scalar(
        select(Membership)
        .join(User, User.id == Membership.patient_id)
        .where(
            Membership.group_id == group.id,
            Membership.status == "active",
            User.email.is_not(None),
        )
        .order_by(Membership.id)
        .limit(1)
    )
    if mentor is not None:
        mentor.peer_mentor_since = utcnow()
        db.session.flush()
        team.add_core_member(group, mentor.patient, PEER_MENTOR, actor=coordinator)
    now = utcnow()
    upcoming = db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at > now)
        .order_by(GroupSession.starts_at)
        .limit(2)
    ).all()
    for group_session in upcoming:
        team.copy_core_team(group_session, actor=coordinator)
    # A resident away for a conference in two months: the coverage check shows the gap.
    start = datetime.combine(now.date() + timedelta(days=60), time(0), tzinfo=now.tzinfo)
    team.add_time_off(
        person("resident2"), start, start + timedelta(days=3), "Conference", actor=coordinator
    )


#: Three monthly evening groups of two hours with a shared meal.
DEMO_GROUPS = [
    {
        "name": "Tuesday evening diabetes group",
        "calendar_name": "Tuesday evening group",
        "focus": "type 2 diabetes",
        "description": "Living well with type 2 diabetes: food, movement, medicines and "
        "each other. A shared meal is part of every session.",
        "modality": "in_person",
        "location": "Community room, 2nd floor",
        "rule": ("monthly", "TU", 2),
        "start_time": time(17, 30),
    },
    {
        "name": "Thursday heart health group",
        "calendar_name": "Thursday evening group",
        "focus": "high blood pressure and heart health",
        "description": "Blood pressure, salt, stress and sleep, with a dietitian and a "
        "pharmacist at every session.",
        "modality": "in_person",
        "location": "Teaching kitchen, ground floor",
        "rule": ("monthly", "TH", 1),
        "start_time": time(18, 0),
    },
    {
        "name": "Grupo de diabetes en español",
        "calendar_name": "Wednesday evening group",
        "focus": "type 2 diabetes (Spanish-speaking)",
        "description": "Sesiones en español, en persona o por video.",
        "modality": "hybrid",
        "location": "Community room, 2nd floor",
        "video_url": "https://video.riverside.example.org/grupo-miercoles",
        "rule": ("monthly", "WE", 3),
        "start_time": time(17, 0),
    },
]


def load_demo_groups(site: Site) -> list:
    """Create the demo groups with four months of history and six months ahead."""
    from groupvisits.groups import services as groups
    from groupvisits.schedule import recurrence
    from groupvisits.schedule import services as schedule

    today = utcnow().date()
    start = (today.replace(day=1) - timedelta(days=100)).replace(day=1)
    created = []
    for spec in DEMO_GROUPS:
        fields = {k: v for k, v in spec.items() if k not in ("rule", "start_time")}
        fields.update(length_minutes=120, min_members=8, target_members=12, max_members=15)
        group = groups.create_group(site, fields, actor=None)
        group.status = "active"
        pattern, weekday, nth = spec["rule"]
        group.recurrence_rule = recurrence.build_rule(pattern, weekday, nth)
        group.schedule_start_date, group.schedule_start_time = start, spec["start_time"]
        schedule.generate_sessions(group, until=schedule.horizon(today), since=start)
        created.append(group)
    return created


#: Which demo patients (by number) belong to which demo group; the first is full.
DEMO_ROSTERS = [list(range(1, 18)), list(range(18, 28)), [7, 9, 12] + list(range(24, 31))]


def load_demo_rosters(groups: list, rng: random.Random, patients: dict) -> None:
    """Members (one group full, two waiting), agreements, RSVPs and past attendance.

    :param patients: the demo patients by their number.
    """
    from sqlalchemy import select

    from groupvisits.accounts.models import User
    from groupvisits.roster import services as roster
    from groupvisits.roster.models import (
        ARRIVED,
        CHECK_IN_ENTRY,
        EXCUSED,
        LATE,
        NO,
        NO_SHOW,
        YES,
        Attendance,
        AttendanceChange,
    )
    from groupvisits.schedule.models import GroupSession

    now = utcnow()
    nurse = db.session.scalar(select(User).where(User.email == f"nurse@{DEMO_DOMAIN}"))
    for group, numbers in zip(groups, DEMO_ROSTERS, strict=True):
        agreement = roster.publish_agreement(group, roster.DEFAULT_AGREEMENT, actor=None)
        members = []
        for number in numbers:
            membership = roster.enrol(group, patients[number], actor=None, now=now)
            if membership.status == "active":
                members.append(membership)
        sessions = db.session.scalars(
            select(GroupSession)
            .where(GroupSession.group_id == group.id)
            .order_by(GroupSession.starts_at)
        ).all()
        past = [s for s in sessions if s.starts_at < now]
        upcoming = [s for s in sessions if s.starts_at >= now][:1]
        for membership in members:
            patient = membership.patient
            # Asked with the agreement, the demo members let fellow members see "First L.".
            membership.share_name = True
            db.session.add(
                roster.AgreementAcceptance(
                    agreement_id=agreement.id,
                    patient_id=patient.id,
                    # Without email, no app: the agreement was signed on paper.
                    method="app" if rng.random() < 0.8 and patient.email else "paper",
                    accepted_on=(past[0].starts_at if past else now).date(),
                )
            )
            for group_session in past:
                answer = YES if rng.random() < 0.85 else NO
                came = rng.random()
                check_in = (
                    (ARRIVED if came < 0.75 else LATE if came < 0.85 else NO_SHOW)
                    if answer == YES
                    else (EXCUSED if came < 0.5 else None)
                )
                attendance = Attendance(
                    session_id=group_session.id,
                    patient_id=patient.id,
                    membership_id=membership.id,
                    rsvp=answer,
                    answered_at=group_session.starts_at,
                    check_in=check_in,
                    checked_in_at=group_session.starts_at if check_in else None,
                    mode="in_person" if check_in in (ARRIVED, LATE) else None,
                )
                db.session.add(attendance)
                if check_in:
                    # The check-in's history, as the nurse at the door recorded it.
                    db.session.add(
                        AttendanceChange(
                            attendance=attendance,
                            kind=CHECK_IN_ENTRY,
                            check_in=check_in,
                            mode=attendance.mode,
                            recorded_at=group_session.starts_at,
                            recorded_by=nurse,
                        )
                    )
            for group_session in upcoming:
                if rng.random() < 0.7:
                    db.session.add(
                        Attendance(
                            session_id=group_session.id,
                            patient_id=patient.id,
                            membership_id=membership.id,
                            rsvp=YES if rng.random() < 0.8 else "maybe",
                            brings_support_person=rng.random() < 0.15,
                            answered_at=now,
                        )
                    )
    db.session.flush()
