"""Words that leave the clinic stay neutral: no condition names in calendars.

A calendar name, a room or a video link travels in feeds and invitations to
phones and shared calendars. A word such as "diabetes" there tells anyone who
glances at the screen why the person goes to the clinic. The list catches the
usual words (in English and Spanish); it cannot catch every phrasing, so the
messages also say why.
"""

import re

from groupvisits.errors import ValidationFailed

#: Condition words, as the start of a word ("diabet" finds "Diabetes" and "diabetic");
#: short or common ones only as whole words, so that "Cardiff" or "Painswick Road" pass.
CONDITION_WORDS = (
    *("diabet diabète insulin glucos cancer oncolog chemo depress obes bariatric".split()),
    *("pregnan embaraz prenatal hypertens cholesterol cardiac cardio stroke kidney".split()),
    *("dialys asthma addict substance opioid alcohol mental psych dementia".split()),
    *("hepatitis epilep".split()),
)
WHOLE_WORDS = ("hiv", "vih", "aids", "sida", "heart", "renal", "copd", "pain", "weight")
#: Words in the names of hospitals and streets ("Sacred Heart", "Stroke Lane"): a place
#: may hold them, a calendar name may not.
PLACE_NAME_WORDS = ("heart", "stroke", "pain", "weight")


def _matcher(stems, whole_words) -> re.Pattern:
    return re.compile(
        r"\b(?:" + "|".join(stems) + r"|(?:" + "|".join(whole_words) + r")\b)", re.IGNORECASE
    )


_CONDITION = _matcher(CONDITION_WORDS, WHOLE_WORDS)
_CONDITION_IN_PLACE = _matcher(
    [w for w in CONDITION_WORDS if w not in PLACE_NAME_WORDS],
    [w for w in WHOLE_WORDS if w not in PLACE_NAME_WORDS],
)


def names_a_condition(text: str, *, place: bool = False) -> bool:
    return (_CONDITION_IN_PLACE if place else _CONDITION).search(text) is not None


def check_calendar_name(name: str) -> None:
    """:raises ValidationFailed: the calendar name hints at a condition."""
    if names_a_condition(name):
        raise ValidationFailed(
            "The calendar name leaves the clinic (phones, shared calendars): "
            "keep it neutral, such as “Group visit” or “Tuesday evening group”."
        )


def check_place(location: str, video_url: str) -> None:
    """:raises ValidationFailed: the room or the video link hints at a condition."""
    if names_a_condition(location, place=True) or names_a_condition(video_url, place=True):
        raise ValidationFailed(
            "The place and the video link go into patients' calendars: keep condition "
            "words out of them, such as “Room 204” rather than “Diabetes education room”."
        )
