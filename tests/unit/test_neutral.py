"""Names that travel in calendars never hint at a condition; ordinary places pass."""

import pytest

from groupvisits.errors import ValidationFailed
from groupvisits.neutral import check_calendar_name, check_place, names_a_condition


@pytest.mark.parametrize(
    "text",
    [
        "Diabetes group",
        "Tuesday diabetic lunch",
        "Cardiac rehab group",
        "Grupo VIH / SIDA",
        "Sugar and cholesterol club",
        "Chronic pain circle",
        "heart health",
        "Oncology wing, room 3",
        "https://video.example.org/j/diabetes-group",
        "Grupo de embarazadas",
    ],
)
def test_condition_words_are_found(text):
    assert names_a_condition(text)


@pytest.mark.parametrize(
    "text",
    [
        "Group visit",
        "Room 204",
        "Cardiff Bay Health Centre",
        "Painswick Road",
        "Heartland Clinic",
        "Braids Hall",
        "https://video.example.org/j/8812345",
    ],
)
def test_ordinary_names_and_places_pass(text):
    assert not names_a_condition(text)
    check_calendar_name(text)
    check_place(text, "")


def test_a_place_or_link_naming_a_condition_is_refused_with_the_reason():
    with pytest.raises(ValidationFailed, match="calendars"):
        check_place("Diabetes education room", "")
    with pytest.raises(ValidationFailed, match="calendars"):
        check_place("Room 2", "https://video.example.org/hiv-support")


@pytest.mark.parametrize("place", ["Sacred Heart Medical Center", "12 Stroke Lane", "Weighbridge"])
def test_hospital_and_street_names_are_fine_as_places_but_not_as_calendar_names(place):
    check_place(place, "")
    if "Heart" in place:
        with pytest.raises(ValidationFailed):
            check_calendar_name(place)
