"""Roster rules: enrolment, waitlist, RSVP and check-in."""

from groupvisits.schedule.census import Counts


def attendance_counts(session_ids: list[int]) -> dict[int, Counts]:
    """Confirmed, maybe and waitlisted numbers and show rate per session."""
    return {}
