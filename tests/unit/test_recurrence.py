"""Recurrence rules as plain choices, their expansion, and local time across daylight saving."""

from datetime import UTC, date, datetime, time

import pytest

from groupvisits.schedule.recurrence import (
    ORDINALS,
    WEEKDAYS,
    build_rule,
    describe_rule,
    local_occurrences,
    occurrence_key,
    parse_rule,
    to_utc,
)

SECOND_TUESDAY = "FREQ=MONTHLY;BYDAY=2TU"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def dates(occurrences: list[datetime]) -> list[date]:
    return [occurrence.date() for occurrence in occurrences]


# build_rule / parse_rule / describe_rule


def test_build_rule_writes_rfc5545_bodies_for_each_offered_pattern():
    assert build_rule("monthly", "TU", 2) == "FREQ=MONTHLY;BYDAY=2TU"
    assert build_rule("monthly", "FR", -1) == "FREQ=MONTHLY;BYDAY=-1FR"
    assert build_rule("biweekly", "TH") == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"
    assert build_rule("weekly", "MO") == "FREQ=WEEKLY;BYDAY=MO"


@pytest.mark.parametrize("weekday", sorted(WEEKDAYS))
def test_parse_rule_undoes_build_rule_for_every_choice(weekday):
    for nth in ORDINALS:
        assert parse_rule(build_rule("monthly", weekday, nth)) == ("monthly", weekday, nth)
    assert parse_rule(build_rule("biweekly", weekday)) == ("biweekly", weekday, None)
    assert parse_rule(build_rule("weekly", weekday)) == ("weekly", weekday, None)


@pytest.mark.parametrize(
    ("pattern", "weekday", "nth", "words"),
    [
        ("monthly", "TU", 2, "Every month on the second Tuesday"),
        ("monthly", "TH", 3, "Every month on the third Thursday"),
        ("monthly", "WE", 1, "Every month on the first Wednesday"),
        ("monthly", "FR", -1, "Every month on the last Friday"),
        ("biweekly", "TH", None, "Every 2 weeks on Thursday"),
        ("weekly", "MO", None, "Every week on Monday"),
        ("weekly", "SU", None, "Every week on Sunday"),
    ],
)
def test_describe_rule_says_the_choice_in_plain_words(pattern, weekday, nth, words):
    assert describe_rule(build_rule(pattern, weekday, nth)) == words


def test_describe_rule_of_no_rule_says_there_is_no_regular_schedule():
    assert describe_rule("") == "No regular schedule"


@pytest.mark.parametrize(
    ("pattern", "weekday", "nth", "message"),
    [
        ("monthly", "XX", 2, "unknown weekday"),
        ("weekly", "tu", None, "unknown weekday"),
        ("monthly", "TU", None, "which week of the month"),
        ("monthly", "TU", 5, "which week of the month"),
        ("monthly", "TU", 0, "which week of the month"),
        ("daily", "TU", None, "unknown pattern"),
        ("yearly", "TU", 2, "unknown pattern"),
    ],
)
def test_build_rule_refuses_choices_it_does_not_offer(pattern, weekday, nth, message):
    with pytest.raises(ValueError, match=message):
        build_rule(pattern, weekday, nth)


def test_occurrence_key_is_the_local_start_to_the_minute():
    assert occurrence_key(datetime(2026, 12, 8, 17, 0, 59)) == "2026-12-08T17:00"


# local_occurrences


def test_monthly_second_tuesday_across_2026_and_2027_gives_the_exact_dates():
    occurrences = local_occurrences(
        SECOND_TUESDAY,
        date(2026, 1, 1),
        time(17, 0),
        window_start=date(2026, 1, 1),
        window_end=date(2027, 12, 31),
    )

    assert dates(occurrences) == [
        date(2026, 1, 13),
        date(2026, 2, 10),
        date(2026, 3, 10),
        date(2026, 4, 14),
        date(2026, 5, 12),
        date(2026, 6, 9),
        date(2026, 7, 14),
        date(2026, 8, 11),
        date(2026, 9, 8),
        date(2026, 10, 13),
        date(2026, 11, 10),
        date(2026, 12, 8),
        date(2027, 1, 12),
        date(2027, 2, 9),
        date(2027, 3, 9),
        date(2027, 4, 13),
        date(2027, 5, 11),
        date(2027, 6, 8),
        date(2027, 7, 13),
        date(2027, 8, 10),
        date(2027, 9, 14),
        date(2027, 10, 12),
        date(2027, 11, 9),
        date(2027, 12, 14),
    ]
    assert all(o.time() == time(17, 0) and o.tzinfo is None for o in occurrences)


def test_monthly_last_friday():
    occurrences = local_occurrences(
        "FREQ=MONTHLY;BYDAY=-1FR",
        date(2026, 1, 1),
        time(12, 30),
        window_start=date(2026, 1, 1),
        window_end=date(2026, 3, 31),
    )

    assert occurrences == [
        datetime(2026, 1, 30, 12, 30),
        datetime(2026, 2, 27, 12, 30),
        datetime(2026, 3, 27, 12, 30),
    ]


def test_every_two_weeks_on_thursday_skips_every_other_week():
    occurrences = local_occurrences(
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
        date(2026, 1, 1),
        time(18, 0),
        window_start=date(2026, 1, 1),
        window_end=date(2026, 2, 28),
    )

    assert occurrences == [
        datetime(2026, 1, 1, 18, 0),
        datetime(2026, 1, 15, 18, 0),
        datetime(2026, 1, 29, 18, 0),
        datetime(2026, 2, 12, 18, 0),
        datetime(2026, 2, 26, 18, 0),
    ]


def test_every_week_starts_on_the_first_matching_weekday_after_the_start_date():
    occurrences = local_occurrences(
        "FREQ=WEEKLY;BYDAY=MO",
        date(2026, 1, 1),  # a Thursday
        time(9, 0),
        window_start=date(2026, 1, 1),
        window_end=date(2026, 1, 31),
    )

    assert dates(occurrences) == [
        date(2026, 1, 5),
        date(2026, 1, 12),
        date(2026, 1, 19),
        date(2026, 1, 26),
    ]


def test_window_is_inclusive_at_both_ends_and_nothing_comes_before_the_start():
    occurrences = local_occurrences(
        SECOND_TUESDAY,
        date(2026, 2, 1),
        time(17, 0),
        window_start=date(2026, 1, 1),
        window_end=date(2026, 3, 10),
    )

    assert dates(occurrences) == [date(2026, 2, 10), date(2026, 3, 10)]


def test_count_ends_the_rule_after_that_many_sessions():
    occurrences = local_occurrences(
        SECOND_TUESDAY,
        date(2026, 1, 1),
        time(17, 0),
        count=3,
        window_start=date(2026, 1, 1),
        window_end=date(2027, 12, 31),
    )

    assert dates(occurrences) == [date(2026, 1, 13), date(2026, 2, 10), date(2026, 3, 10)]


def test_count_counts_from_the_start_date_whatever_the_window():
    occurrences = local_occurrences(
        SECOND_TUESDAY,
        date(2026, 1, 1),
        time(17, 0),
        count=3,
        window_start=date(2026, 3, 1),
        window_end=date(2027, 12, 31),
    )

    assert dates(occurrences) == [date(2026, 3, 10)]


def test_until_includes_a_session_on_that_day():
    def until(day: date) -> list[date]:
        return dates(
            local_occurrences(
                SECOND_TUESDAY,
                date(2026, 1, 1),
                time(23, 30),
                until=day,
                window_start=date(2026, 1, 1),
                window_end=date(2027, 12, 31),
            )
        )

    assert until(date(2026, 3, 10)) == [date(2026, 1, 13), date(2026, 2, 10), date(2026, 3, 10)]
    assert until(date(2026, 3, 9)) == [date(2026, 1, 13), date(2026, 2, 10)]


# to_utc and daylight saving


@pytest.mark.parametrize(
    ("timezone", "local", "expected"),
    [
        # New York: EST (UTC-5) until 2026-03-08, EDT (UTC-4) until 2026-11-01.
        ("America/New_York", datetime(2026, 3, 7, 17, 0), utc(2026, 3, 7, 22, 0)),
        ("America/New_York", datetime(2026, 3, 8, 17, 0), utc(2026, 3, 8, 21, 0)),
        ("America/New_York", datetime(2026, 10, 31, 17, 0), utc(2026, 10, 31, 21, 0)),
        ("America/New_York", datetime(2026, 11, 1, 17, 0), utc(2026, 11, 1, 22, 0)),
        # London: GMT until 2026-03-29, BST (UTC+1) until 2026-10-25.
        ("Europe/London", datetime(2026, 3, 28, 17, 0), utc(2026, 3, 28, 17, 0)),
        ("Europe/London", datetime(2026, 3, 29, 17, 0), utc(2026, 3, 29, 16, 0)),
        ("Europe/London", datetime(2026, 10, 24, 17, 0), utc(2026, 10, 24, 16, 0)),
        ("Europe/London", datetime(2026, 10, 25, 17, 0), utc(2026, 10, 25, 17, 0)),
    ],
)
def test_to_utc_follows_the_offset_of_that_local_day(timezone, local, expected):
    instant = to_utc(local, timezone)

    assert instant == expected
    assert instant.utcoffset().total_seconds() == 0


def weekly_at_five_in_utc(weekday: str, timezone: str, first: date, last: date) -> list[datetime]:
    occurrences = local_occurrences(
        f"FREQ=WEEKLY;BYDAY={weekday}",
        first,
        time(17, 0),
        window_start=first,
        window_end=last,
    )
    assert all(o.time() == time(17, 0) for o in occurrences)
    return [to_utc(o, timezone) for o in occurrences]


def test_weekly_session_stays_at_five_pm_in_new_york_across_the_march_change():
    assert weekly_at_five_in_utc(
        "SU", "America/New_York", date(2026, 2, 22), date(2026, 3, 15)
    ) == [
        utc(2026, 2, 22, 22, 0),
        utc(2026, 3, 1, 22, 0),
        utc(2026, 3, 8, 21, 0),  # the day the clocks go forward
        utc(2026, 3, 15, 21, 0),
    ]


def test_weekly_session_stays_at_five_pm_in_new_york_across_the_november_change():
    assert weekly_at_five_in_utc(
        "TH", "America/New_York", date(2026, 10, 22), date(2026, 11, 12)
    ) == [
        utc(2026, 10, 22, 21, 0),
        utc(2026, 10, 29, 21, 0),
        utc(2026, 11, 5, 22, 0),
        utc(2026, 11, 12, 22, 0),
    ]


def test_weekly_session_stays_at_five_pm_in_london_across_the_march_change():
    assert weekly_at_five_in_utc("SU", "Europe/London", date(2026, 3, 15), date(2026, 4, 5)) == [
        utc(2026, 3, 15, 17, 0),
        utc(2026, 3, 22, 17, 0),
        utc(2026, 3, 29, 16, 0),  # the day the clocks go forward
        utc(2026, 4, 5, 16, 0),
    ]


def test_weekly_session_stays_at_five_pm_in_london_across_the_october_change():
    assert weekly_at_five_in_utc("TH", "Europe/London", date(2026, 10, 15), date(2026, 11, 5)) == [
        utc(2026, 10, 15, 16, 0),
        utc(2026, 10, 22, 16, 0),
        utc(2026, 10, 29, 17, 0),
        utc(2026, 11, 5, 17, 0),
    ]


def test_monthly_five_pm_session_is_22z_in_winter_and_21z_in_summer_in_new_york():
    occurrences = local_occurrences(
        SECOND_TUESDAY,
        date(2026, 1, 1),
        time(17, 0),
        window_start=date(2026, 1, 1),
        window_end=date(2026, 12, 31),
    )
    hours = {o.date(): to_utc(o, "America/New_York").hour for o in occurrences}

    assert hours == {
        date(2026, 1, 13): 22,
        date(2026, 2, 10): 22,
        date(2026, 3, 10): 21,
        date(2026, 4, 14): 21,
        date(2026, 5, 12): 21,
        date(2026, 6, 9): 21,
        date(2026, 7, 14): 21,
        date(2026, 8, 11): 21,
        date(2026, 9, 8): 21,
        date(2026, 10, 13): 21,
        date(2026, 11, 10): 22,
        date(2026, 12, 8): 22,
    }
