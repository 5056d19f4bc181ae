"""Network-sized demo data: 5 sites, 60 groups, 900 patients, 3 years of monthly sessions.

Every group also has a staffing template, a core team and staff on its recent and
coming sessions.

Used by ``seed-demo --scale large`` for benchmarks and load tests: it shows
how pages behave with years of data. Rows are written in bulk.
"""

import random
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert, select

from groupvisits.accounts.models import (
    CLINICIAN,
    COORDINATOR,
    DISCIPLINES,
    PATIENT,
    PatientProfile,
    User,
)
from groupvisits.demo import ACCESS, DIETS, FAMILY, GIVEN, LANGUAGES
from groupvisits.demo_agenda import load_agenda
from groupvisits.demo_encounters import load_encounters
from groupvisits.extensions import db
from groupvisits.groups.models import DEFAULT_PLAN, GroupPlanSegment, VisitGroup
from groupvisits.roster.models import (
    DECLINED,
    ENDED,
    WITHDRAWN,
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
from groupvisits.team.models import (
    DEFAULT_DISCIPLINES,
    FACILITATOR,
    PRECEPTOR,
    PROVIDER,
    VITALS,
    CoreTeamMember,
    StaffAssignment,
    StaffingRule,
    TimeOff,
)
from groupvisits.timeutil import utcnow

SITES = [
    ("Lakeside Family Health", "America/Chicago", "(555) 010-0310", "en_US", "lb"),
    ("Mesa Community Clinic", "America/Denver", "(555) 010-0420", "es_US", "lb"),
    ("Harbor Health Center", "America/Los_Angeles", "(555) 010-0530 ext. 2", "en_US", "lb"),
    ("Northgate Practice", "Europe/London", "+44 20 7946 0640", "en_GB", "kg"),
]
TOTAL_SITES, TOTAL_GROUPS, TOTAL_PATIENTS = 5, 60, 900
MEMBERS_PER_GROUP, WAITING_PER_GROUP = 12, 2
#: Turnover over the years: people who left, were ended or were declined.
PAST_PER_GROUP = 18
END_REASONS = ["Moved away", "Care moved to another clinic", "Schedule no longer fits", ""]
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
    # The small demo's groups already have their one-on-one visits and notes.
    small_demo_groups = set(db.session.scalars(select(VisitGroup.id)))
    for name, zone, phone, locale, unit in SITES[: TOTAL_SITES - len(sites)]:
        site = Site(
            name=name,
            timezone=zone,
            address=f"1 {name.split()[0]} Road",
            phone=phone,
            locale=locale,
            weight_unit=unit,
        )
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
            born = date(1940 + rng.randrange(45), rng.randrange(1, 13), 1)
            language = rng.choice(LANGUAGES)
            dietary_needs, dietary_other = rng.choice(DIETS)
            user.patient_profile = PatientProfile(
                date_of_birth=born,
                preferred_language=language,
                dietary_needs=dietary_needs,
                dietary_other=dietary_other,
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
            others = [p for p in patients_by_site[site.id] if p not in members]
            past = rng.sample(others, min(PAST_PER_GROUP, len(others)))
            counts_for_group = _fill_group(group, members, past, rng, start, until, now)
            for key, value in counts_for_group.items():
                counts[key] += value
    db.session.flush()
    counts.update(load_team(sites, rng, password_hash, now))
    db.session.flush()
    new_groups = set(db.session.scalars(select(VisitGroup.id))) - small_demo_groups
    counts.update(load_encounters(sorted(new_groups), rng, now))
    counts.update(load_agenda(sorted(new_groups), rng, now))
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


def _fill_group(group, members, past, rng, start, until, now) -> dict[str, int]:
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
            Membership(
                group_id=group.id,
                patient_id=patient.id,
                status="active",
                joined_at=now,
                # Asked with the agreement: most let fellow members see "First L.".
                share_name=rng.random() < 0.85,
            )
        )
    history_start = datetime.combine(start, time(12), UTC)
    left = [_past_membership(group, patient, rng, history_start, now) for patient in past]
    db.session.add_all(memberships + left)
    db.session.flush()
    db.session.execute(
        insert(MembershipEvent),
        [
            {"membership_id": m.id, "kind": m.status, "note": "", "occurred_at": now}
            for m in memberships
        ]
        + [
            {"membership_id": m.id, "kind": kind, "note": note, "occurred_at": at}
            for m in left
            for kind, note, at in _past_events(m)
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
    stayed = [m for m in left if m.joined_at]
    for session_id, row in zip(session_ids, session_rows, strict=True):
        past = row["starts_at"] < now
        if not past and row["starts_at"] > now + timedelta(days=40):
            continue
        for m in stayed:
            if m.joined_at <= row["starts_at"] < m.ended_at:
                came = rng.random() < 0.75
                attendance.append(
                    {
                        "session_id": session_id,
                        "patient_id": m.patient_id,
                        "membership_id": m.id,
                        "is_drop_in": False,
                        "rsvp": "yes",
                        "answered_at": row["starts_at"] - timedelta(days=3),
                        "brings_support_person": False,
                        "check_in": "arrived" if came else "no_show",
                        "checked_in_at": row["starts_at"] if came else None,
                        "mode": "in_person" if came else None,
                        "updated_at": now,
                    }
                )
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
        "memberships": len(memberships) + len(left),
    }


def _past_membership(group, patient, rng, history_start, now) -> Membership:
    """A membership that ended some time in the last years (or a request that was declined)."""
    span = (now - history_start).days - 90
    began = history_start + timedelta(days=rng.randrange(max(span, 1)))
    ended = min(began + timedelta(days=rng.randrange(60, 400)), now - timedelta(days=1))
    kind = rng.choice([ENDED, ENDED, WITHDRAWN, WITHDRAWN, DECLINED])
    return Membership(
        group_id=group.id,
        patient_id=patient.id,
        status=kind,
        joined_at=None if kind == DECLINED else began,
        ended_at=ended,
        end_reason=rng.choice(END_REASONS) if kind == ENDED else "",
        request_message="I would like to join." if kind == DECLINED else "",
        reply_message="The group is full for this year." if kind == DECLINED else "",
        created_at=began,
        updated_at=ended,
    )


def _past_events(membership: Membership) -> list[tuple[str, str, datetime]]:
    if membership.status == DECLINED:
        return [
            ("requested", membership.request_message, membership.created_at),
            ("declined", membership.reply_message, membership.ended_at),
        ]
    return [
        ("enrolled", "", membership.joined_at),
        (membership.status, membership.end_reason, membership.ended_at),
    ]


#: Every group's staffing template: (role, people per session).
TEAM_TEMPLATE = [(FACILITATOR, 1), (PROVIDER, 2), (PRECEPTOR, 1), (VITALS, 1)]
#: Disciplines of each role's pool (disjoint, so nobody is wanted twice in one session),
#: and the discipline (email local part) of the staff created when a site has too few.
TEAM_POOLS = {
    FACILITATOR: (("behavioural_health",), "behavioural_health", "behavioural"),
    PROVIDER: (("resident", "nurse_practitioner", "pharmacist"), "resident", "resident"),
    PRECEPTOR: (("attending",), "attending", "attending"),
    VITALS: (("medical_assistant", "registered_nurse"), "medical_assistant", "ma"),
}
#: Separate core teams per site: groups of a site meeting at the same time get different ones.
TEAMS_PER_SITE = 3
TEAM_PAST_DAYS, TEAM_AHEAD_DAYS = 120, 56


def load_team(sites, rng: random.Random, password_hash: str, now: datetime) -> dict[str, int]:
    """Staffing templates, core teams and staff assignments for every group of ``sites``.

    Assignments cover the sessions of the last months and the coming eight weeks. Nobody is
    put in two overlapping sessions (the database refuses it): a busy core member is replaced
    by a free colleague of the same pool, or the place stays open. Some places stay open on
    purpose (every 5th session has no precepting attending) and some staff have time off.
    """
    window_start = now - timedelta(days=TEAM_PAST_DAYS)
    window_end = now + timedelta(days=TEAM_AHEAD_DAYS)
    busy: dict[int, list[tuple[datetime, datetime, int]]] = {}
    for user_id, session_id, starts_at, ends_at in db.session.execute(
        select(
            StaffAssignment.user_id,
            StaffAssignment.session_id,
            StaffAssignment.starts_at,
            StaffAssignment.ends_at,
        )
    ):
        busy.setdefault(user_id, []).append((starts_at, ends_at, session_id))
    away: dict[int, list[tuple[datetime, datetime]]] = {}
    for user_id, starts_at, ends_at in db.session.execute(
        select(TimeOff.user_id, TimeOff.starts_at, TimeOff.ends_at)
    ):
        away.setdefault(user_id, []).append((starts_at, ends_at))
    staffed = set(db.session.scalars(select(StaffingRule.group_id)))

    def free(user_id: int, starts_at: datetime, ends_at: datetime, session_id: int) -> bool:
        return not any(
            s < ends_at and starts_at < e and sid != session_id
            for s, e, sid in busy.get(user_id, ())
        ) and not any(s < ends_at and starts_at < e for s, e in away.get(user_id, ()))

    rules, core, assignments, time_off = [], [], [], []
    for site in sites:
        pools = _site_pools(site, rng, password_hash)
        groups = db.session.scalars(
            select(VisitGroup).where(VisitGroup.site_id == site.id).order_by(VisitGroup.id)
        ).all()
        teams = [
            {role: pools[role][t * count : (t + 1) * count] for role, count in TEAM_TEMPLATE}
            for t in range(TEAMS_PER_SITE)
        ]
        # Two spans of time off per site: one past, one in the coming weeks.
        for days, person in ((-45, pools[VITALS][0]), (20, pools[PROVIDER][2])):
            start = datetime.combine(now.date() + timedelta(days=days), time(0), UTC)
            span = (start, start + timedelta(days=4))
            away.setdefault(person.id, []).append(span)
            time_off.append(
                {
                    "user_id": person.id,
                    "starts_at": span[0],
                    "ends_at": span[1],
                    "reason": "Annual leave" if days < 0 else "Conference",
                    "created_at": now,
                }
            )
        for position, group in enumerate(groups):
            if group.id in staffed:
                continue  # the small demo's own team stays as it is
            team = teams[position % TEAMS_PER_SITE]
            for role, count in TEAM_TEMPLATE:
                allowed = DEFAULT_DISCIPLINES[role]
                rules.append(
                    {
                        "group_id": group.id,
                        "role": role,
                        "count": count,
                        "disciplines": ",".join(d for d in DISCIPLINES if d in allowed),
                    }
                )
                core += [{"group_id": group.id, "user_id": u.id, "role": role} for u in team[role]]
            sessions = db.session.execute(
                select(GroupSession.id, GroupSession.starts_at, GroupSession.ends_at)
                .where(
                    GroupSession.group_id == group.id,
                    GroupSession.status == "scheduled",
                    GroupSession.starts_at >= window_start,
                    GroupSession.starts_at < window_end,
                )
                .order_by(GroupSession.starts_at)
            ).all()
            for number, (session_id, starts_at, ends_at) in enumerate(sessions, start=1):
                in_session: set[int] = set()
                for role, count in TEAM_TEMPLATE:
                    if role == PRECEPTOR and (number + position) % 5 == 0:
                        continue  # on purpose: the coverage check shows the missing preceptor
                    wanted = team[role] + [u for u in pools[role] if u not in team[role]]
                    filled = 0
                    for person in wanted:
                        if filled == count:
                            break
                        if person.id in in_session or not free(
                            person.id, starts_at, ends_at, session_id
                        ):
                            continue
                        filled += 1
                        in_session.add(person.id)
                        busy.setdefault(person.id, []).append((starts_at, ends_at, session_id))
                        assignments.append(
                            {
                                "session_id": session_id,
                                "user_id": person.id,
                                "role": role,
                                "starts_at": starts_at,
                                "ends_at": ends_at,
                                "created_at": now,
                            }
                        )
    for model, rows in (
        (StaffingRule, rules),
        (CoreTeamMember, core),
        (TimeOff, time_off),
        (StaffAssignment, assignments),
    ):
        if rows:
            db.session.execute(insert(model), rows)
    return {
        "staffing_rules": len(rules),
        "core_team_members": len(core),
        "staff_assignments": len(assignments),
        "time_off": len(time_off),
    }


def _site_pools(site: Site, rng: random.Random, password_hash: str) -> dict[str, list[User]]:
    """The site's clinicians who can fill each role, creating staff where there are too few."""
    staff = db.session.scalars(
        select(User)
        .where(User.role.in_((CLINICIAN, COORDINATOR)), User.sites.any(Site.id == site.id))
        .order_by(User.id)
    ).all()
    domain = staff[0].email.split("@")[1]
    taken = {user.email for user in staff}
    pools = {}
    for role, count in TEAM_TEMPLATE:
        disciplines, new_discipline, local = TEAM_POOLS[role]
        pool = [u for u in staff if u.role == CLINICIAN and u.discipline in disciplines]
        number = 1
        while len(pool) < count * TEAMS_PER_SITE:
            email = f"{local}{number}@{domain}"
            number += 1
            if email in taken or db.session.scalar(select(User.id).where(User.email == email)):
                continue
            user = User(
                email=email,
                role=CLINICIAN,
                given_name=rng.choice(GIVEN),
                family_name=rng.choice(FAMILY),
                discipline=new_discipline,
                training_year=rng.randrange(1, 4) if new_discipline == "resident" else None,
                password_hash=password_hash,
                sites=[site],
            )
            db.session.add(user)
            taken.add(email)
            pool.append(user)
        pools[role] = pool
    db.session.flush()
    return pools
