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
DIETS = ["", "", "", "vegetarian", "no pork", "low sodium", "gluten free", "diabetic-friendly"]
ACCESS = ["", "", "", "", "wheelchair user", "large print", "hard of hearing"]


def load_demo(*, password: str) -> Site:
    """Create the demo site, its staff and 30 patients (not committed)."""
    rng = random.Random(2026)
    site = Site(
        name=DEMO_SITE,
        timezone="America/New_York",
        address="120 Riverside Avenue, Suite 3\nSpringfield",
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
    for number in range(1, 31):
        given, family = GIVEN[number - 1], FAMILY[number - 1]
        patient = User(
            email=f"patient{number:02d}@{DEMO_DOMAIN}",
            role=PATIENT,
            given_name=given,
            family_name=family,
            phone=f"555-01{number:02d}",
            password_hash=password_hash,
            sites=[site],
        )
        patient.patient_profile = PatientProfile(
            date_of_birth=date(
                1945 + rng.randrange(40), rng.randrange(1, 13), rng.randrange(1, 29)
            ),
            preferred_language=rng.choice(LANGUAGES),
            dietary_needs=rng.choice(DIETS),
            accessibility_needs=rng.choice(ACCESS),
            medical_record_number=f"RCC-{100000 + number * 37}",
        )
        db.session.add(patient)
    db.session.flush()
    load_demo_groups(site)
    return site


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
