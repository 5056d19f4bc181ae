"""Demo data: a small living clinic for trying GroupVisits out."""

import random
from datetime import date

from groupvisits.accounts import passwords
from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT, PatientProfile, User
from groupvisits.extensions import db
from groupvisits.sites.models import Site

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
    return site
