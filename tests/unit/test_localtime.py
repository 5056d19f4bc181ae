"""Dates and times in a site's words and clock, as Jinja filters and Site helpers.

The expected strings are written out by hand: "5:00 PM" for en_US, "17:00" for en_GB,
and the wall-clock hour of each instant worked out from the clock-change rules.
"""

from datetime import UTC, date, datetime

import pytest
from flask import render_template_string

from groupvisits import localtime
from groupvisits.sites.models import Site, clean_phone

#: Tuesday 12 January 2027, 22:00 UTC: 17:00 in New York (winter, UTC-5).
WINTER = datetime(2027, 1, 12, 22, 0, tzinfo=UTC)
#: Tuesday 13 July 2027, 21:00 UTC: 17:00 in New York (summer, UTC-4), 22:00 in London.
SUMMER = datetime(2027, 7, 13, 21, 0, tzinfo=UTC)


def a_site(locale: str = "en_US", timezone: str = "America/New_York") -> Site:
    return Site(name="Riverside Community Clinic", timezone=timezone, locale=locale)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en_US", "Tue 12 Jan 2027, 5:00 PM"),
        ("en_GB", "Tue 12 Jan 2027, 17:00"),
        ("es_US", "mar 12 ene 2027, 5:00 p.m."),
    ],
)
def test_when_gives_the_date_and_the_locales_clock(locale, expected):
    assert localtime.when(WINTER, a_site(locale)) == expected


def test_clock_is_12_hour_in_us_english_and_24_hour_in_british_english():
    assert localtime.clock(WINTER, a_site("en_US")) == "5:00 PM"
    assert localtime.clock(WINTER, a_site("en_GB")) == "17:00"


def test_a_17_00_session_stays_17_00_local_across_daylight_saving():
    new_york = a_site("en_US")
    assert localtime.clock(WINTER, new_york) == localtime.clock(SUMMER, new_york) == "5:00 PM"
    assert localtime.clock(SUMMER, a_site("en_GB", "Europe/London")) == "22:00"


def test_day_names_the_weekday_and_month_in_the_sites_language():
    assert localtime.day(WINTER, a_site("en_US")) == "Tuesday 12 January"
    assert localtime.day(WINTER, a_site("en_GB")) == "Tuesday 12 January"
    assert localtime.day(WINTER, a_site("es_US")) == "martes 12 de enero"
    assert localtime.day(date(2027, 1, 12), a_site("en_US")) == "Tuesday 12 January"


def test_the_day_is_the_sites_day_not_utcs():
    # 02:30 UTC on the 13th is still the evening of the 12th in Los Angeles.
    late = datetime(2027, 1, 13, 2, 30, tzinfo=UTC)
    los_angeles = a_site("en_US", "America/Los_Angeles")
    assert localtime.day(late, los_angeles) == "Tuesday 12 January"
    assert localtime.when(late, los_angeles) == "Tue 12 Jan 2027, 6:30 PM"


def test_times_use_plain_spaces_that_pages_and_searches_match():
    text = localtime.when(WINTER, a_site("en_US")) + localtime.clock(WINTER, a_site("es_US"))
    assert "\u202f" not in text and "\u00a0" not in text


def test_seconds_are_shown_when_asked_for():
    assert localtime.when(WINTER, a_site("en_GB"), seconds=True) == "Tue 12 Jan 2027, 17:00:00"


@pytest.mark.parametrize(
    ("timezone", "locale", "expected"),
    [
        ("America/New_York", "en_US", "Eastern Time"),
        ("America/Chicago", "en_US", "Central Time"),
        ("America/Los_Angeles", "en_US", "Pacific Time"),
        ("America/New_York", "es_US", "hora oriental"),
    ],
)
def test_zone_name_is_what_people_call_the_zone_not_its_iana_name(timezone, locale, expected):
    assert localtime.zone_name(a_site(locale, timezone)) == expected


def test_an_unknown_or_missing_locale_falls_back_to_us_english():
    assert localtime.when(WINTER, a_site("xx_QQ")) == "Tue 12 Jan 2027, 5:00 PM"
    assert localtime.clock(WINTER, a_site(None)) == "5:00 PM"


def test_nothing_gives_an_empty_string_and_a_naive_time_is_refused():
    site = a_site()
    assert localtime.when(None, site) == localtime.clock(None, site) == localtime.day(None, site)
    assert localtime.when(None, site) == ""
    with pytest.raises(ValueError):
        localtime.when(datetime(2027, 1, 12, 17, 0), site)


def test_the_filters_are_registered_for_every_template(app):
    site = a_site("en_GB")
    rendered = render_template_string(
        "{{ t|when(site) }} | {{ t|clock(site) }} | {{ t|day(site) }} | {{ site|zone_name }}",
        t=WINTER,
        site=site,
    )
    assert rendered == "Tue 12 Jan 2027, 17:00 | 17:00 | Tuesday 12 January | Eastern Time"


def test_the_site_offers_the_same_helpers(app):
    site = a_site("en_US")
    assert (site.when(WINTER), site.clock(WINTER), site.day(WINTER), site.zone_name) == (
        "Tue 12 Jan 2027, 5:00 PM",
        "5:00 PM",
        "Tuesday 12 January",
        "Eastern Time",
    )


# The site's phone number and address


@pytest.mark.parametrize(
    ("typed", "kept", "href"),
    [
        ("(555) 010-0200", "(555) 010-0200", "tel:5550100200"),
        ("+44 20 7946 0958", "+44 20 7946 0958", "tel:+442079460958"),
        ("555.010.0200 ext. 12", "555.010.0200 ext. 12", "tel:5550100200;ext=12"),
        ("  555-010-0200   x12 ", "555-010-0200 ext. 12", "tel:5550100200;ext=12"),
        (
            "+1 (555) 010-0200 Extension 204",
            "+1 (555) 010-0200 ext. 204",
            "tel:+15550100200;ext=204",
        ),
        ("", "", ""),
    ],
)
def test_a_phone_number_is_kept_as_typed_with_a_dialable_link(typed, kept, href):
    assert clean_phone(typed) == kept
    assert Site(phone=kept).phone_href == href


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("call the front desk", "Letters cannot be dialled"),
        ("555-CLINIC", "Letters cannot be dialled"),
        ("555 0100 ask for Maria", "Letters cannot be dialled"),
        ("12", "7 to 15 digits"),
        ("1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6", "7 to 15 digits"),
    ],
)
def test_a_phone_number_that_cannot_be_dialled_is_refused_with_a_reason(typed, message):
    with pytest.raises(ValueError, match=message):
        clean_phone(typed)


def test_the_address_reads_on_one_line():
    site = Site(address="12 Main St,\n\n  Springfield  \n")
    assert site.address_line == "12 Main St, Springfield"
