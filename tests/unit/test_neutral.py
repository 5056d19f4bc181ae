"""Names that travel in calendars never hint at a condition; ordinary places pass."""

import pytest

from groupvisits.errors import ValidationFailed
from groupvisits.neutral import (
    check_calendar_name,
    check_place,
    check_video_link,
    is_secure_link,
    link_names_a_condition,
    names_a_condition,
    normalised,
)

CONDITIONS = [
    # the four reported misses: a condition word inside another word, or a phrase
    "Prediabetes group",
    "Type2Diabetes",
    "Weightloss",
    "High blood pressure",
    # the same, written otherwise
    "HIGH BLOOD PRESSURE",
    "HighBloodPressure",
    "blood-pressure check",
    "Obesity-clinic",
    "hypertensión",
    "Hipertensión arterial",
    "weight-loss",
    "Weight_Loss_Group",
    "Weight management clinic",
    "dia\u00adbetes",  # a soft hyphen, invisible on screen
    "Ｄｉａｂｅｔｅｓ",  # full-width letters
    "DIABÈTE",
    "CenteringPregnancy",
    "PreDiabetic lunch",
    "Anti-depression walk",
    "Postpartum circle",
    "Blood sugar basics",
    "Living with COPD",
    "Cardiopulmonary rehab",
    # words found before, still found
    "Diabetes group",
    "Tuesday diabetic lunch",
    "Cardiac rehab group",
    "Grupo VIH / SIDA",
    "HIV+ support",
    "Sugar and cholesterol club",
    "Chronic pain circle",
    "Oncology wing, room 3",
    "Grupo de embarazadas",
    "Adicciones",
    "Autism parents",
    "Alcoholics anonymous",
    "Mental health group",
    "Salud mental",
    "Quit smoking group",
]

#: Words that hospitals and streets hold too: refused in a calendar name only.
CONDITIONS_IN_NAMES = ["heart health", "Healthy hearts", "Stroke survivors", "Sugar club"]

ORDINARY = [
    "Group visit",
    "Tuesday evening group",
    "Wednesday evening group",
    "Community room",
    "Community room, 2nd floor",
    "Teaching kitchen, ground floor",
    "Room 204",
    "Cardiff Bay Health Centre",
    "Painswick Road",
    "Spain Street",
    "Painting studio",
    "Braids Road",
    "Arsenal Way",
    "Heartland Clinic",
    "Hearthside room",
    "Weighbridge",
    "Liverpool Road",
    "Dolores Park",
    "The Hive Centre",
    "Plasma Lane",
    "Departmental meeting room",
    "Fundamental skills",
    "Brushstrokes art room",
    "Bautista Avenue",
    "Healthy eating",
    "Cooking together",
    "Salle communautaire, bâtiment Émile-Zola",
    "https://video.example.org/j/8812345",
]

#: Hospitals, streets and towns may hold these words as a place, never as a calendar name.
PLACES_ONLY = [
    "Sacred Heart Medical Center",
    "Hospital del Sagrado Corazón",
    "12 Stroke Lane",
    "Sugar Land Clinic",
    "Liver Building, Pier Head",
    "Parkinson Building, room 2",
    "Tobacco Road Clinic",
    "Le Pain Quotidien, Main Street",
]


@pytest.mark.parametrize("text", CONDITIONS)
def test_condition_words_are_found_anywhere_in_names_and_places(text):
    assert names_a_condition(text)
    assert names_a_condition(text, place=True)
    with pytest.raises(ValidationFailed, match="calendar name"):
        check_calendar_name(text)
    with pytest.raises(ValidationFailed, match="calendars"):
        check_place(text, "")


@pytest.mark.parametrize("text", CONDITIONS_IN_NAMES)
def test_words_of_places_are_found_in_calendar_names(text):
    assert names_a_condition(text)
    with pytest.raises(ValidationFailed, match="calendar name"):
        check_calendar_name(text)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_names_and_places_pass(text):
    assert not names_a_condition(text)
    check_calendar_name(text)
    check_place(text, "")


@pytest.mark.parametrize("place", PLACES_ONLY)
def test_hospital_and_street_names_are_fine_as_places_but_not_as_calendar_names(place):
    check_place(place, "")
    with pytest.raises(ValidationFailed):
        check_calendar_name(place)


@pytest.mark.parametrize(
    "place", ["Heart failure clinic", "Sacred Heart Diabetes Centre", "Weight loss room 3"]
)
def test_a_place_word_does_not_excuse_a_condition_phrase_in_a_place(place):
    with pytest.raises(ValidationFailed, match="calendars"):
        check_place(place, "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HIGH-Blood_Pressure!", "high blood pressure"),
        ("hipertensión", "hipertension"),
        ("dia\u00adbe\u200btes", "diabetes"),
        ("  Room   204 ", "room 204"),
    ],
)
def test_text_is_compared_in_lower_case_without_accents_or_invisible_characters(text, expected):
    assert normalised(text) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://meet.example.org/diabetes-group",
        "https://meet.example.org/j/123?room=weightloss",
        "https://meet.example.org/j/123#HighBloodPressure",
        "https://meet.example.org/%64iabetes",  # "d", percent-encoded
        "https://meet.example.org/rooms/heart-group",
        "https://diabetes.example.org/room/7",
    ],
)
def test_video_links_naming_a_condition_are_refused(url):
    assert link_names_a_condition(url)
    with pytest.raises(ValidationFailed, match="calendars"):
        check_place("Room 2", url)


@pytest.mark.parametrize(
    "url",
    [
        "https://video.riverside.example.org/grupo-miercoles",
        "https://sacred-heart.example.org/room/4",  # the hospital's own address
        "https://meet.example.org/j/8812345?pwd=Zx81kQ",
    ],
)
def test_ordinary_video_links_pass(url):
    assert not link_names_a_condition(url)
    check_place("Room 2", url)


@pytest.mark.parametrize(
    "url",
    [
        "http://video.example.org/room/7",
        "HTTP://video.example.org/room/7",
        "ftp://video.example.org/room/7",
        "javascript:alert(1)",
        "//video.example.org/room/7",
        "video.example.org/room/7",
        "https://",
        "https:///room/7",
        "https://video.example.org:port/room",
        "https://meet.example.org@evil.example.net/room",
        "https://video.example.org/room 7",
        "https://video.example.org/room\n7",
    ],
)
def test_video_links_other_than_https_with_a_host_are_refused(url):
    assert not is_secure_link(url)
    with pytest.raises(ValidationFailed, match="https://") as raised:
        check_video_link(url)
    assert raised.value.field == "video_url"
    with pytest.raises(ValidationFailed, match="https://"):
        check_place("Room 2", url)


@pytest.mark.parametrize(
    "url",
    ["https://video.example.org/room/7", "HTTPS://Video.Example.org:8443/r?id=1", "https://meet"],
)
def test_https_video_links_with_a_host_pass(url):
    assert is_secure_link(url)
    check_video_link(url)
    check_place("", url)


def test_no_video_link_is_fine():
    check_video_link("")
    check_place("Room 2", "")
