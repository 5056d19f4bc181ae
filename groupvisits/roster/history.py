"""Check-in and vitals history: every value recorded is kept, and corrections say who and why.

An :class:`~groupvisits.roster.models.Attendance` row holds the current check-in and
vitals, which pages and counts read; each record or correction of them also adds an
:class:`~groupvisits.roster.models.AttendanceChange`, and none is ever changed.
"""

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from groupvisits import localtime
from groupvisits.accounts.models import User
from groupvisits.errors import ValidationFailed
from groupvisits.extensions import db
from groupvisits.roster.models import (
    CHECK_IN_ENTRY,
    CHECK_INS,
    Attendance,
    AttendanceChange,
)
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import KILOGRAMS, POUNDS
from groupvisits.timeutil import utcnow

#: The longest reason for a correction, in characters.
REASON_MAX = 300
MODES = {"in_person": "in person", "virtual": "by video"}
SOURCES = {"patient": "self-care station", "staff": "staff"}

#: Kilograms in a pound, exactly (the international pound of 1959).
KILOGRAMS_PER_POUND = Decimal("0.45359237")
#: Weights people can have, in each unit; outside, the number is mistyped or in the other unit.
WEIGHT_LIMITS = {KILOGRAMS: (20, 350), POUNDS: (45, 770)}
UNIT_WORDS = {KILOGRAMS: "kilograms", POUNDS: "pounds"}


def kilograms(value: Decimal | float | None) -> Decimal | None:
    """A weight as stored: kilograms to two decimals, halves up.

    Two decimals, so that a weight entered in pounds to one decimal reads back the same.
    """
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def to_kilograms(value: Decimal | float | None, unit: str) -> Decimal | None:
    """A weight given in ``unit`` ("kg" or "lb"), as stored."""
    if value is None:
        return None
    factor = KILOGRAMS_PER_POUND if unit == POUNDS else Decimal(1)
    return kilograms(Decimal(str(value)) * factor)


def in_unit(weight_kg: Decimal | float | None, unit: str) -> Decimal | None:
    """A stored weight as shown in ``unit``: one decimal, halves up."""
    if weight_kg is None:
        return None
    value = Decimal(str(weight_kg))
    if unit == POUNDS:
        value /= KILOGRAMS_PER_POUND
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def weight_words(weight_kg: Decimal | float | None, unit: str = KILOGRAMS) -> str:
    """A stored weight in words, in ``unit``: "82.5 kg", "181.9 lb"; "" for none."""
    if weight_kg is None:
        return ""
    return f"{in_unit(weight_kg, unit)} {POUNDS if unit == POUNDS else KILOGRAMS}"


def check_in_words(status: str | None, mode: str | None) -> str:
    """A check-in in words: "Arrived, in person", "No-show"."""
    if status is None:
        return "not checked in"
    return f"{CHECK_INS[status]}, {MODES[mode]}" if mode in MODES else CHECK_INS[status]


def vitals_words(
    weight_kg, systolic: int | None, diastolic: int | None, unit: str = KILOGRAMS
) -> str:
    """Vitals in words, the weight in ``unit``: "82.5 kg, BP 128/82"."""
    parts = []
    if weight_kg is not None:
        parts.append(weight_words(weight_kg, unit))
    if systolic is not None:
        parts.append(f"BP {systolic}/{diastolic}")
    return ", ".join(parts) or "none"


def correction_reason(reason: str | None, missing: str) -> str:
    """The reason for a correction, tidied.

    :raises ValidationFailed: no reason given (``missing`` says what to do), or too long.
    """
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed(missing, field="reason")
    if len(reason) > REASON_MAX:
        raise ValidationFailed(
            f"Keep the reason for the correction under {REASON_MAX} characters.", field="reason"
        )
    return reason


def _entry(attendance: Attendance, kind: str, **fields) -> AttendanceChange:
    """An entry holding the attendance's current values of ``kind``."""
    if kind == CHECK_IN_ENTRY:
        values = {"check_in": attendance.check_in, "mode": attendance.mode}
    else:
        values = {
            "weight_kg": attendance.weight_kg,
            "systolic": attendance.systolic,
            "diastolic": attendance.diastolic,
            "vitals_source": attendance.vitals_source,
        }
    entry = AttendanceChange(attendance_id=attendance.id, kind=kind, **values, **fields)
    db.session.add(entry)
    return entry


def keep_earlier(attendance: Attendance, kind: str) -> None:
    """Before values of ``kind`` change: make sure an entry holds the values recorded so far.

    Values recorded before this history was kept have no entry yet; they get one,
    without an author, dated when they were recorded.
    """
    kept = db.session.scalar(
        select(AttendanceChange.id)
        .where(AttendanceChange.attendance_id == attendance.id, AttendanceChange.kind == kind)
        .limit(1)
    )
    if kept is None:
        at = attendance.checked_in_at if kind == CHECK_IN_ENTRY else attendance.vitals_at
        _entry(attendance, kind, recorded_at=at or utcnow(), recorded_by_id=None)


def append(
    attendance: Attendance,
    kind: str,
    *,
    actor: User | None,
    now: datetime,
    reason: str = "",
    is_correction: bool = False,
) -> AttendanceChange:
    """Add an entry holding the attendance's values of ``kind`` as they are now."""
    return _entry(
        attendance,
        kind,
        is_correction=is_correction,
        reason=reason if is_correction else "",
        recorded_at=now,
        recorded_by_id=actor.id if actor else None,
    )


# Showing the history


@dataclass
class HistoryEntry:
    """One line of a person's check-in and vitals history, in words."""

    what: str
    #: Who recorded it ("Clara N."); empty for values recorded before history was kept.
    by: str
    #: When, in the site's local time.
    when: str
    reason: str
    is_correction: bool


@functools.cache
def _history_query():
    """A session's history entries with their authors, oldest first (built once)."""
    return (
        select(AttendanceChange)
        .where(
            AttendanceChange.attendance_id.in_(
                select(Attendance.id).where(Attendance.session_id == bindparam("session_id"))
            )
        )
        .options(joinedload(AttendanceChange.recorded_by))
        .order_by(AttendanceChange.attendance_id, AttendanceChange.id)
    )


def session_history(group_session: GroupSession) -> dict[int, list[HistoryEntry]]:
    """Each attendance's history in one session, by attendance id, in one query."""
    rows = db.session.scalars(_history_query(), {"session_id": group_session.id}).all()
    zone = group_session.timezone
    site = group_session.group.site
    unit = site.weight_unit
    day = group_session.local_start.date()
    result: dict[int, list[HistoryEntry]] = {}
    earlier: dict[tuple[int, str], AttendanceChange] = {}
    for row in rows:
        previous = earlier.get((row.attendance_id, row.kind))
        earlier[(row.attendance_id, row.kind)] = row
        local = row.recorded_at.astimezone(zone)
        result.setdefault(row.attendance_id, []).append(
            HistoryEntry(
                what=_describe(row, previous, unit),
                by=row.recorded_by.group_name if row.recorded_by else "",
                when=localtime.clock(local, site)
                if local.date() == day
                else localtime.when(local, site),
                reason=row.reason,
                is_correction=row.is_correction,
            )
        )
    return result


def _describe(row: AttendanceChange, previous: AttendanceChange | None, unit: str) -> str:
    if row.kind == CHECK_IN_ENTRY:
        now = check_in_words(row.check_in, row.mode)
        if row.is_correction and previous is not None:
            return f"Corrected from {check_in_words(previous.check_in, previous.mode)} to {now}"
        return f"Corrected to {now}" if row.is_correction else f"Checked in: {now}"
    now = vitals_words(row.weight_kg, row.systolic, row.diastolic, unit)
    source = SOURCES.get(row.vitals_source or "", "")
    now = f"{now} ({source})" if source else now
    if row.is_correction and previous is not None:
        before = vitals_words(previous.weight_kg, previous.systolic, previous.diastolic, unit)
        return f"Vitals corrected from {before} to {now}"
    return f"Vitals corrected to {now}" if row.is_correction else f"Vitals: {now}"
