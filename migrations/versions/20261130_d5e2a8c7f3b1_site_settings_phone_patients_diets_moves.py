"""Site settings, patients reached by phone, dietary needs from a list, where moved sessions were.

- sites: the clinic's phone number, the unit weights are entered in (kg or lb; stored
  values stay kilograms) and the locale dates and times are shown in.
- users.email may be empty for patients, who are then phoned (staff sign in with it).
  Whoever has no email has a phone number.
- patient_profiles: dietary needs become codes from a list ("low_sodium,vegetarian"),
  with what the list lacks in dietary_other. Free text already stored is mapped through
  the same synonyms the app uses ("low salt" is low sodium); words it does not know are
  kept, word for word, as the other text. A mapping of codes back to words undoes it.
- group_sessions.moved_from: the start a moved session had first, so that patients read
  "Moved from Tue 12 Jan". Earlier moves were not recorded and stay unknown.
- Weights keep two decimals of a kilogram, so that a weight entered in pounds reads back
  as entered (180 lb would be 81.6 kg with one decimal, and 179.9 lb again).

Downgrade: patients without email get a placeholder address under the reserved
``.invalid`` domain, so that the column can be NOT NULL again.

Revision ID: d5e2a8c7f3b1
Revises: c41d7e9a2b10
Created: 2026-11-30 15:00:00.000000
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "d5e2a8c7f3b1"
down_revision = "c41d7e9a2b10"
branch_labels = None
depends_on = None

# The dietary list and its synonyms, as they were when this revision was written (a
# migration never imports the app, whose lists may change later).
DIETARY_NEEDS = {
    "low_sodium": "low sodium",
    "diabetic": "diabetic-friendly",
    "vegetarian": "vegetarian",
    "gluten_free": "gluten free",
    "halal": "halal",
    "kosher": "kosher",
}
SYNONYMS = {
    "low_sodium": (
        *("low sodium", "low salt", "no salt", "no added salt", "salt free", "reduced salt"),
        *("less salt", "reduced sodium", "sodium restricted", "salt restricted"),
    ),
    "diabetic": (
        *("diabetic", "diabetic friendly", "diabetes", "diabetes friendly", "low sugar"),
        *("no sugar", "sugar free", "no added sugar", "reduced sugar", "carb controlled"),
        "carbohydrate controlled",
    ),
    "vegetarian": ("vegetarian", "veggie", "veg", "no meat", "meatless", "meat free"),
    "gluten_free": (
        *("gluten free", "no gluten", "coeliac", "celiac", "coeliac disease"),
        *("celiac disease", "gf"),
    ),
    "halal": ("halal",),
    "kosher": ("kosher",),
}
NOTHING = ("", "none", "no", "nil", "n a", "na", "nothing", "no needs", "no restrictions")
_FILLER = re.compile(r"^(?:strict|strictly)\s+|\s+(?:diet|food|foods|meal|meals|only|please)$")
_SEPARATORS = re.compile(r"[,;/\n]+|\s+(?:and|&|\+)\s+")
_LOOKUP = {word: code for code, words in SYNONYMS.items() for word in words}


def _words(text: str) -> str:
    words = " ".join(re.sub(r"[-_.()/]", " ", text.lower()).split())
    previous = None
    while previous != words:
        previous, words = words, _FILLER.sub("", words).strip()
    return words


def map_dietary_text(text: str) -> tuple[str, str]:
    """Old free text: (codes "a,b" in list order, the other text)."""
    text = text or ""
    if _words(text) in NOTHING:
        return "", ""
    codes, unknown = set(), []
    for part in (p.strip() for p in _SEPARATORS.split(text) if p.strip()):
        words = _words(part)
        if words in _LOOKUP:
            codes.add(_LOOKUP[words])
        elif words not in NOTHING:
            unknown.append(part)
    other = (text if unknown else "") if not codes else ", ".join(unknown)
    return ",".join(code for code in DIETARY_NEEDS if code in codes), other


profiles = sa.table(
    "patient_profiles",
    sa.column("user_id", sa.Integer),
    sa.column("dietary_needs", sa.Text),
    sa.column("dietary_other", sa.Text),
)
users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("role", sa.String),
)


def upgrade():
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("phone", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("weight_unit", sa.String(length=2), nullable=False, server_default="kg")
        )
        batch_op.add_column(
            sa.Column("locale", sa.String(length=16), nullable=False, server_default="en_US")
        )
        batch_op.create_check_constraint("weight_unit_known", "weight_unit IN ('kg', 'lb')")

    op.execute("UPDATE users SET email = NULL WHERE email = '' AND role = 'patient'")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=True)
        batch_op.create_check_constraint(
            "staff_have_email", "email IS NOT NULL OR role = 'patient'"
        )
        batch_op.create_check_constraint("email_not_blank", "email IS NULL OR email <> ''")
        batch_op.create_check_constraint("email_or_phone", "email IS NOT NULL OR phone <> ''")

    with op.batch_alter_table("patient_profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dietary_other", sa.Text(), nullable=False, server_default="")
        )
    connection = op.get_bind()
    rows = connection.execute(sa.select(profiles.c.user_id, profiles.c.dietary_needs)).all()
    for user_id, text in rows:
        codes, other = map_dietary_text(text)
        connection.execute(
            profiles.update()
            .where(profiles.c.user_id == user_id)
            .values(dietary_needs=codes, dietary_other=other)
        )

    with op.batch_alter_table("group_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("moved_from", sa.DateTime(timezone=True), nullable=True))

    for table in ("attendances", "attendance_changes"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "weight_kg",
                existing_type=sa.Numeric(precision=5, scale=1),
                type_=sa.Numeric(precision=6, scale=2),
                existing_nullable=True,
            )


def downgrade():
    for table in ("attendances", "attendance_changes"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "weight_kg",
                existing_type=sa.Numeric(precision=6, scale=2),
                type_=sa.Numeric(precision=5, scale=1),
                existing_nullable=True,
            )

    with op.batch_alter_table("group_sessions", schema=None) as batch_op:
        batch_op.drop_column("moved_from")

    connection = op.get_bind()
    rows = connection.execute(
        sa.select(profiles.c.user_id, profiles.c.dietary_needs, profiles.c.dietary_other)
    ).all()
    for user_id, codes, other in rows:
        words = [DIETARY_NEEDS.get(code, code) for code in (codes or "").split(",") if code]
        connection.execute(
            profiles.update()
            .where(profiles.c.user_id == user_id)
            .values(dietary_needs=", ".join(words + ([other] if other else [])))
        )
    with op.batch_alter_table("patient_profiles", schema=None) as batch_op:
        batch_op.drop_column("dietary_other")

    for (user_id,) in connection.execute(
        sa.select(users.c.id).where(users.c.email.is_(None))
    ).all():
        connection.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(email=f"patient-{user_id}@no-email.invalid")
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_users_email_or_phone"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_users_email_not_blank"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_users_staff_have_email"), type_="check")
        batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=False)

    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_sites_weight_unit_known"), type_="check")
        batch_op.drop_column("locale")
        batch_op.drop_column("weight_unit")
        batch_op.drop_column("phone")
