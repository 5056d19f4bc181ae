"""Network-sized demo data: 5 sites, 60 groups, 900 patients, 3 years of monthly sessions.

Used by ``seed-demo --scale large`` for benchmarks and load tests: it shows
how pages behave with years of data. Rows are written in bulk.
"""

import random
from datetime import date, time, timedelta

from sqlalchemy import insert, select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT, PatientProfile, User
from groupvisits.demo import ACCESS, DIETS, FAMILY, GIVEN, LANGUAGES
from groupvisits.extensions import db
from groupvisits.groups.models import DEFAULT_PLAN, GroupPlanSegment, VisitGroup
from groupvisits.roster.models import (
    AgreementAcceptance,
    Attendance,
    GroupAgreement,
    Membership,
    MembershipEvent,
)
from groupvisits.roster.services import DEFAULT_AGREEMENT
from groupvisits.schedule import recurrence
from groupvisits.schedule.models import GroupSession, SessionSegment
from groupvisits.sites.models import Site
from groupvisits.timeutil import utcnow

SITES = [
    ("Lakeside Family Health", "America/Chicago"),
    ("Mesa Community Clinic", "America/Denver"),
    ("Harbor Health Center", "America/Los_Angeles"),
    ("Northgate Practice", "Europe/London"),
]
TOTAL_SITES, TOTAL_GROUPS, TOTAL_PATIENTS = 5, 60, 900
MEMBERS_PER_GROUP, WAITING_PER_GROUP = 12, 2
YEARS_OF_HISTORY = 3
WEEKDAYS = ["MO", "TU", "WE", "TH"]
TIMES = [time(17, 0), time(17, 30), time(18, 0), time(12, 0)]


def load_large(*, password_hash: str, seed: int = 2027) -> dict[str, int]:
    """Grow the demo clinic to network size (call after ``load_demo``); returns counts."""
    rng = random.Random(seed)
    today = utcnow().date()
    start = date(today.year - YEARS_OF_HISTORY, today.month, 1)
    until = today + timedelta(days=183)
    sites = list(db.session.scalars(select(Site).order_by(Site.id)))
    for name, zone in SITES[: TOTAL_SITES - len(sites)]:
        site = Site(name=name, timezone=zone, address=f"1 {name.split()[0]} Road")
        db.session.add(site)
        sites.append(site)
        slug = name.split()[0].lower()
        for local, role, discipline, year in (
            ("coordinator", COORDINATOR, None, None),
            ("attending", CLINICIAN, "attending", None),
            ("resident1", CLINICIAN, "resident", 1),
            ("resident2", CLINICIAN, "resident", 2),
            ("nurse", CLINICIAN, "registered_nurse", None),
            ("dietitian", CLINICIAN, "dietitian", None),
        ):
            db.session.add(
                User(
                    email=f"{local}@{slug}.example.org",
                    role=role,
                    given_name=rng.choice(GIVEN),
                    family_name=rng.choice(FAMILY),
                    discipline=discipline,
                    training_year=year,
                    password_hash=password_hash,
                    sites=[site],
                )
            )
    db.session.flush()

    existing_patients = db.session.scalar(
        select(db.func.count()).select_from(User).where(User.role == PATIENT)
    )
    per_site = TOTAL_PATIENTS // len(sites)
    patients_by_site: dict[int, list[User]] = {site.id: [] for site in sites}
    for user in db.session.scalars(select(User).where(User.role == PATIENT)):
        patients_by_site[user.sites[0].id].append(user)
    number = existing_patients
    for site in sites:
        while len(patients_by_site[site.id]) < per_site:
            number += 1
            user = User(
                email=f"patient{number:04d}@network.example.org",
                role=PATIENT,
                given_name=rng.choice(GIVEN),
                family_name=rng.choice(FAMILY),
                phone=f"555-{number:04d}",
                password_hash=password_hash,
                sites=[site],
            )
            user.patient_profile = PatientProfile(
                date_of_birth=date(1940 + rng.randrange(45), rng.randrange(1, 13), 1),
                preferred_language=rng.choice(LANGUAGES),
                dietary_needs=rng.choice(DIETS),
                accessibility_needs=rng.choice(ACCESS),
            )
            db.session.add(user)
            patients_by_site[site.id].append(user)
    db.session.flush()

    groups_per_site = TOTAL_GROUPS // len(sites)
    now = utcnow()
    counts = {"sessions": 0, "attendances": 0, "memberships": 0}
    for site in sites:
        existing = db.session.scalars(select(VisitGroup).where(VisitGroup.site_id == site.id)).all()
        pool = [p for p in patients_by_site[site.id]]
        rng.shuffle(pool)
        for index in range(groups_per_site - len(existing)):
            group = _group(site, index, rng, start)
            members = pool[: MEMBERS_PER_GROUP + WAITING_PER_GROUP]
            pool = pool[MEMBERS_PER_GROUP + WAITING_PER_GROUP :] or list(patients_by_site[site.id])
            counts_for_group = _fill_group(group, members, rng, start, until, now)
            for key, value in counts_for_group.items():
                counts[key] += value
    db.session.flush()
    return counts


def _group(site: Site, index: int, rng: random.Random, start: date) -> VisitGroup:
    weekday = WEEKDAYS[index % len(WEEKDAYS)]
    nth = index % 4 + 1
    group = VisitGroup(
        site=site,
        name=f"{site.name.split()[0]} group {index + 1}",
        calendar_name="Group visit",
        focus=rng.choice(["type 2 diabetes", "heart health", "chronic pain", "prenatal care"]),
        description="A monthly group visit.",
        modality="in_person",
        location=f"Room {100 + index}",
        length_minutes=120,
        status="active",
        recurrence_rule=recurrence.build_rule("monthly", weekday, nth),
        schedule_start_date=start,
        schedule_start_time=TIMES[index % len(TIMES)],
        plan=[
            GroupPlanSegment(position=i, kind=kind, name=name, minutes=minutes)
            for i, (kind, name, minutes) in enumerate(DEFAULT_PLAN)
        ],
    )
    db.session.add(group)
    db.session.flush()
    return group


def _fill_group(group, members, rng, start, until, now) -> dict[str, int]:
    zone = group.site.timezone
    occurrences = recurrence.local_occurrences(
        group.recurrence_rule,
        group.schedule_start_date,
        group.schedule_start_time,
        window_start=start,
        window_end=until,
    )
    session_rows = []
    for local_start in occurrences:
        starts_at = recurrence.to_utc(local_start, zone)
        session_rows.append(
            {
                "group_id": group.id,
                "occurrence_key": recurrence.occurrence_key(local_start),
                "starts_at": starts_at,
                "ends_at": starts_at + timedelta(minutes=group.length_minutes),
                "status": "scheduled",
                "cancel_reason": "",
                "edited": False,
                "is_extra": False,
                "location": "",
                "video_url": "",
                "theme": "",
                "notes": "",
                "sequence": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
    session_ids = list(
        db.session.scalars(
            insert(GroupSession).returning(GroupSession.id, sort_by_parameter_order=True),
            session_rows,
        )
    )
    segments = [
        {"session_id": sid, "position": i, "kind": kind, "name": name, "minutes": minutes}
        for sid in session_ids
        for i, (kind, name, minutes) in enumerate(DEFAULT_PLAN)
    ]
    db.session.execute(insert(SessionSegment), segments)
    group.generated_until = until

    agreement = GroupAgreement(group_id=group.id, version=1, text=DEFAULT_AGREEMENT)
    db.session.add(agreement)
    active, waiting = members[:MEMBERS_PER_GROUP], members[MEMBERS_PER_GROUP:]
    memberships = []
    for position, patient in enumerate(waiting, start=1):
        memberships.append(
            Membership(
                group_id=group.id,
                patient_id=patient.id,
                status="waitlisted",
                waitlist_position=position,
            )
        )
    for patient in active:
        memberships.append(
            Membership(group_id=group.id, patient_id=patient.id, status="active", joined_at=now)
        )
    db.session.add_all(memberships)
    db.session.flush()
    db.session.execute(
        insert(MembershipEvent),
        [
            {"membership_id": m.id, "kind": m.status, "note": "", "occurred_at": now}
            for m in memberships
        ],
    )
    db.session.execute(
        insert(AgreementAcceptance),
        [
            {
                "agreement_id": agreement.id,
                "patient_id": p.id,
                "method": "app",
                "accepted_on": start,
                "recorded_at": now,
            }
            for p in active
        ],
    )
    attendance = []
    by_patient = {m.patient_id: m.id for m in memberships}
    for session_id, row in zip(session_ids, session_rows, strict=True):
        past = row["starts_at"] < now
        if not past and row["starts_at"] > now + timedelta(days=40):
            continue
        for patient in active:
            answer = "yes" if rng.random() < 0.8 else rng.choice(["no", "maybe"])
            came = rng.random()
            check_in = None
            if past and answer == "yes":
                check_in = "arrived" if came < 0.8 else "late" if came < 0.9 else "no_show"
            attendance.append(
                {
                    "session_id": session_id,
                    "patient_id": patient.id,
                    "membership_id": by_patient[patient.id],
                    "is_drop_in": False,
                    "rsvp": answer,
                    "answered_at": row["starts_at"] - timedelta(days=3),
                    "brings_support_person": rng.random() < 0.1,
                    "check_in": check_in,
                    "checked_in_at": row["starts_at"] if check_in else None,
                    "mode": "in_person" if check_in in ("arrived", "late") else None,
                    "updated_at": now,
                }
            )
    if attendance:
        db.session.execute(insert(Attendance), attendance)
    return {
        "sessions": len(session_ids),
        "attendances": len(attendance),
        "memberships": len(memberships),
    }
