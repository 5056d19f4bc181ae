"""Dietary needs from one list, so that the session meal counts "low salt" as low sodium.

Plain Python with no imports from the app: the migration that turns the free text
typed before into codes uses the same mapping (copied into it, as migrations import no
app code).
"""

import re

#: The needs a patient ticks, in the order forms and lists show them: code -> label.
DIETARY_NEEDS = {
    "low_sodium": "low sodium",
    "diabetic": "diabetic-friendly",
    "vegetarian": "vegetarian",
    "gluten_free": "gluten free",
    "halal": "halal",
    "kosher": "kosher",
}
#: The checkbox that goes with the "other" text.
OTHER = "other"
#: Longest "other" text a form takes (as the free-text field it replaces).
OTHER_MAX_LENGTH = 1000

#: Words people typed for each need, written as :func:`_words` leaves them.
SYNONYMS = {
    "low_sodium": (
        "low sodium",
        "low salt",
        "no salt",
        "no added salt",
        "salt free",
        "reduced salt",
        "less salt",
        "reduced sodium",
        "sodium restricted",
        "salt restricted",
    ),
    "diabetic": (
        "diabetic",
        "diabetic friendly",
        "diabetes",
        "diabetes friendly",
        "low sugar",
        "no sugar",
        "sugar free",
        "no added sugar",
        "reduced sugar",
        "carb controlled",
        "carbohydrate controlled",
    ),
    "vegetarian": ("vegetarian", "veggie", "veg", "no meat", "meatless", "meat free"),
    "gluten_free": (
        "gluten free",
        "no gluten",
        "coeliac",
        "celiac",
        "coeliac disease",
        "celiac disease",
        "gf",
    ),
    "halal": ("halal",),
    "kosher": ("kosher",),
}
#: What people typed to say they have no dietary need.
NOTHING = ("", "none", "no", "nil", "n a", "na", "nothing", "no needs", "no restrictions")
#: Words around a need that do not change it ("vegetarian diet", "strict halal").
_FILLER = re.compile(r"^(?:strict|strictly)\s+|\s+(?:diet|food|foods|meal|meals|only|please)$")
#: How people separated needs: commas, semicolons, slashes, new lines, "and", "&", "+".
_SEPARATORS = re.compile(r"[,;/\n]+|\s+(?:and|&|\+)\s+")

_LOOKUP = {word: code for code, words in SYNONYMS.items() for word in words}


def _words(text: str) -> str:
    """A need as compared: lower case, hyphens and dots as spaces, filler words gone."""
    words = " ".join(re.sub(r"[-_.()/]", " ", text.lower()).split())
    previous = None
    while previous != words:
        previous, words = words, _FILLER.sub("", words).strip()
    return words


def normalise_dietary_text(text: str) -> tuple[list[str], str]:
    """Free text ("Low salt; veggie, no nuts") as (codes in list order, other text).

    Parts that name a need of the list become its code; the rest is kept as typed, as
    the "other" text. If no part names a need, the whole text is kept as typed.
    """
    text = text or ""
    if _words(text) in NOTHING:
        return [], ""
    parts = [part.strip() for part in _SEPARATORS.split(text) if part.strip()]
    codes, unknown = set(), []
    for part in parts:
        words = _words(part)
        if words in _LOOKUP:
            codes.add(_LOOKUP[words])
        elif words not in NOTHING:
            unknown.append(part)
    if not codes:
        other = text if unknown else ""  # as typed, to the last character
    else:
        other = ", ".join(unknown)
    return [code for code in DIETARY_NEEDS if code in codes], other


def stored_codes(codes) -> str:
    """Codes as the ``dietary_needs`` column keeps them: list order, comma-separated."""
    chosen = set(codes)
    return ",".join(code for code in DIETARY_NEEDS if code in chosen)


def read_codes(stored: str) -> list[str] | None:
    """The codes of a ``dietary_needs`` value, or None if it is not a list of codes."""
    tokens = [token for token in (stored or "").split(",") if token]
    if all(token in DIETARY_NEEDS for token in tokens):
        return [code for code in DIETARY_NEEDS if code in tokens]
    return None
