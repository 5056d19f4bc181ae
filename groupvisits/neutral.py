"""Words that leave the clinic stay neutral: no condition names in calendars.

A calendar name, a room or a video link travels in feeds and invitations to
phones and shared calendars. A word such as "diabetes" there tells anyone who
glances at the screen why the person goes to the clinic. The list catches the
usual words (in English and Spanish); it cannot catch every phrasing, so the
messages also say why.

Text is compared in one form: lower case, accents and invisible characters
dropped, and any run of other characters (spaces, hyphens, slashes) made one
space, so "HIGH-BLOOD-PRESSURE", "hipertensión" and "dia\u00adbetes" are all found.
"""

import re
import unicodedata
from urllib.parse import unquote_plus, urlsplit

from groupvisits.errors import ValidationFailed

#: Long, distinctive stems, found anywhere, even inside another word ("Prediabetes",
#: "Type2Diabetes", "CenteringPregnancy"). A space stands for an optional separator,
#: so "weight loss" finds "Weightloss" and "weight-loss" too.
ANYWHERE = (
    # metabolism
    *("diabet insulin glucos glycem glycaem glucem hba1c".split()),
    "blood sugar",
    *("cholesterol colesterol lipid obesi obese overweight sobrepeso bariatri".split()),
    *("weight loss", "weight manag", "perdida de peso", "bajar de peso"),
    # heart, blood pressure, stroke
    *("cardiac cardio hypertens hipertens".split()),
    *("blood pressure", "presion arterial", "tension arterial", "presion alta"),
    *("heart failure", "heart disease", "heart attack", "infarto"),
    # cancer
    *("cancer oncolog tumor tumour chemother quimioter radiother radioter".split()),
    *("leukemi leukaemi leucemi lymphom linfom melanom carcinom mastectom prostat".split()),
    # kidneys, liver, lungs
    *("kidney nephro dialys dialis transplant hepatit cirrhos cirrosis".split()),
    *("asthma copd emphysem enfisem pulmonar tuberculos".split()),
    # pregnancy and fertility
    *("pregnan embaraz prenatal antenatal perinatal postpartum posparto".split()),
    *("obstetric fertilit infertil miscarr abortion aborto".split()),
    # mind and memory
    *("depres anxiet ansiedad psych psiqu bipolar schizo esquizo suicid ptsd".split()),
    *("anorex bulimi adhd asperger dementia demencia alzheim".split()),
    "eating disorder",
    # substance use
    *("addict substance opioid opiat alcohol methadon metadon".split()),
    *("buprenorph suboxon naloxon overdos nicotin".split()),
    # other long-term conditions
    *("epilep seizure arthrit artrit osteopor lupus fibromyalg fibromialg".split()),
    *("incontinen menopaus erectil".split()),
    "sexually transmitted",
    *("chronic pain", "pain clinic", "pain manag", "dolor cronico"),
)
#: Found at the start of a word only: "brushstroke", "departmental", "flautist",
#: "contradicción" and "apropiación" are no conditions.
WORD_START = ("stroke", "mental", "parkinson", "quimio", "autis", "adicc", "opiac")
#: Short or common words, found only whole (with a plural "s"): "Braids", "Spain",
#: "painting", "hearth", "Arsenal", "Liverpool", "Dolores" and "plasma" pass.
WHOLE_WORDS = (
    *("hiv vih aids sida heart corazon renal rinon liver pain dolor weight peso".split()),
    *("sugar azucar asma chemo epoc ictus ivf smoking tobacco tabaco".split()),
)
#: Words in the names of hospitals, streets and towns ("Sacred Heart", "Stroke Lane",
#: "Sugar Land", "Liverpool's Liver Building"): a place may hold them, a calendar name
#: may not. The phrases above ("heart failure", "blood sugar") are refused even there.
PLACE_NAME_WORDS = frozenset(
    "heart corazon stroke parkinson liver pain weight peso sugar azucar tobacco tabaco".split()
)


def _matcher(*, anywhere, word_start, whole_words) -> re.Pattern:
    def alternatives(words):
        return "|".join(re.escape(word).replace(r"\ ", " ?") for word in words)

    return re.compile(
        rf"{alternatives(anywhere)}"
        rf"|(?<![a-z])(?:{alternatives(word_start)})"
        rf"|(?<![a-z])(?:{alternatives(whole_words)})s?(?![a-z])"
    )


def _not_in_places(words):
    return [word for word in words if word not in PLACE_NAME_WORDS]


_CONDITION = _matcher(anywhere=ANYWHERE, word_start=WORD_START, whole_words=WHOLE_WORDS)
_CONDITION_IN_PLACE = _matcher(
    anywhere=ANYWHERE,
    word_start=_not_in_places(WORD_START),
    whole_words=_not_in_places(WHOLE_WORDS),
)


def normalised(text: str) -> str:
    """Lower case, no accents or invisible characters, every other mark a single space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Cf"))
    return re.sub(r"[^a-z0-9]+", " ", letters).strip()


def names_a_condition(text: str, *, place: bool = False) -> bool:
    """Whether ``text`` holds a condition word; ``place`` allows hospital and street words."""
    return (_CONDITION_IN_PLACE if place else _CONDITION).search(normalised(text)) is not None


def link_names_a_condition(url: str) -> bool:
    """Whether a link hints at a condition: its host as a place, the rest as a name."""
    parts = urlsplit(url.strip())
    rest = unquote_plus(f"{parts.path} {parts.query} {parts.fragment}")
    return names_a_condition(unquote_plus(parts.netloc), place=True) or names_a_condition(rest)


def check_calendar_name(name: str) -> None:
    """:raises ValidationFailed: the calendar name hints at a condition."""
    if names_a_condition(name):
        raise ValidationFailed(
            "The calendar name leaves the clinic (phones, shared calendars): "
            "keep it neutral, such as “Group visit” or “Tuesday evening group”."
        )


VIDEO_LINK_MESSAGE = (
    "Give the video link as a secure address starting with https:// and the name of the "
    "video service, such as https://video.example.org/room-7."
)


def is_secure_link(url: str) -> bool:
    """Whether ``url`` is an https:// address with a host and nothing that hides one."""
    if not url or any(c.isspace() or not c.isprintable() for c in url):
        return False
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError:
        return False
    return parts.scheme.lower() == "https" and bool(host) and "@" not in parts.netloc


def check_video_link(url: str) -> None:
    """:raises ValidationFailed: a video link that is not an https:// address with a host."""
    if url and not is_secure_link(url):
        raise ValidationFailed(VIDEO_LINK_MESSAGE, field="video_url")


def check_place(location: str, video_url: str) -> None:
    """:raises ValidationFailed: the link is not https, or the room or link hints at a condition."""
    check_video_link(video_url.strip())
    if names_a_condition(location, place=True) or link_names_a_condition(video_url):
        raise ValidationFailed(
            "The place and the video link go into patients' calendars: keep condition "
            "words out of them, such as “Room 204” rather than “Diabetes education room”."
        )
