"""RFC 5545 recurrence rules offered as plain choices, expanded with dateutil's rrule.

Occurrences are computed in the site's local wall-clock time and only then
turned into UTC instants, so a 17:00 session stays 17:00 local across
daylight-saving changes.
"""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

WEEKDAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
PATTERNS = {
    "monthly": "Every month on a given weekday (e.g. the second Tuesday)",
    "biweekly": "Every 2 weeks",
    "weekly": "Every week",
}


def build_rule(pattern: str, weekday: str, nth: int | None = None) -> str:
    """An RRULE body (no DTSTART, no end) for one of the offered patterns.

    :raises ValueError: an unknown pattern, weekday or ordinal.
    """
    if weekday not in WEEKDAYS:
        raise ValueError(f"unknown weekday {weekday!r}")
    if pattern == "monthly":
        if nth not in ORDINALS:
            raise ValueError("choose which week of the month")
        return f"FREQ=MONTHLY;BYDAY={nth}{weekday}"
    if pattern == "biweekly":
        return f"FREQ=WEEKLY;INTERVAL=2;BYDAY={weekday}"
    if pattern == "weekly":
        return f"FREQ=WEEKLY;BYDAY={weekday}"
    raise ValueError(f"unknown pattern {pattern!r}")


def parse_rule(rule: str) -> tuple[str, str, int | None]:
    """The (pattern, weekday, nth) that :func:`build_rule` turned into ``rule``."""
    parts = dict(part.split("=", 1) for part in rule.split(";") if "=" in part)
    byday = parts.get("BYDAY", "")
    weekday = byday[-2:]
    if parts.get("FREQ") == "MONTHLY":
        return "monthly", weekday, int(byday[:-2])
    if parts.get("INTERVAL") == "2":
        return "biweekly", weekday, None
    return "weekly", weekday, None


def describe_rule(rule: str) -> str:
    """The rule in plain words: "Every month on the second Tuesday"."""
    if not rule:
        return "No regular schedule"
    pattern, weekday, nth = parse_rule(rule)
    day = WEEKDAYS.get(weekday, weekday)
    if pattern == "monthly":
        return f"Every month on the {ORDINALS.get(nth, nth)} {day}"
    if pattern == "biweekly":
        return f"Every 2 weeks on {day}"
    return f"Every week on {day}"


def occurrence_key(local_start: datetime) -> str:
    """A stable name for one occurrence: its local start, to the minute."""
    return local_start.strftime("%Y-%m-%dT%H:%M")


def local_occurrences(
    rule: str,
    start_date: date,
    start_time: time,
    *,
    until: date | None = None,
    count: int | None = None,
    window_start: date,
    window_end: date,
) -> list[datetime]:
    """Naive local start times of the rule's occurrences within the window (inclusive).

    ``count`` counts from ``start_date``, whatever the window.
    """
    first = datetime.combine(start_date, start_time)
    recurrence = rrulestr(f"RRULE:{rule}", dtstart=first)
    if count:
        recurrence = recurrence.replace(count=count)
    elif until:
        recurrence = recurrence.replace(until=datetime.combine(until, time(23, 59, 59)))
    return recurrence.between(
        datetime.combine(window_start, time.min),
        datetime.combine(window_end, time.max),
        inc=True,
    )


def to_utc(local_start: datetime, timezone: str) -> datetime:
    """The UTC instant of a naive local wall-clock time in ``timezone``."""
    return local_start.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def exists_locally(local_start: datetime, timezone: str) -> bool:
    """False for a wall-clock time the clocks skip (02:30 when they go forward at 02:00)."""
    zone = ZoneInfo(timezone)
    back = to_utc(local_start, timezone).astimezone(zone).replace(tzinfo=None)
    return back == local_start
