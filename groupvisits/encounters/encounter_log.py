"""A clinician's encounter log: their signed notes of one academic year (July 1 to June 30,
as residency logs are reported), counted by month, group and preceptor, with the latest
ones, and the whole year as CSV cells for a training record.

Patients appear by medical record number only: the log is checked against the chart. The
counts are worked out by the database; a page reads a fixed number of rows whatever the
clinician's history, and the export one year's rows, as plain tuples.
"""

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import bindparam, case, func, or_, select
from sqlalchemy.orm import aliased

from groupvisits.accounts.models import PatientProfile, User
from groupvisits.csvutil import safe_cell
from groupvisits.encounters.models import ATTESTED, FINAL, SIGNED, EncounterNote
from groupvisits.encounters.note_reading import SIGNED_STATUSES, Place, person_name
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.localtime import site_locale
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import Site
from groupvisits.timeutil import utcnow

#: The month an academic year starts in (July): residents' logs are reported per year.
FIRST_MONTH = 7
#: Entries listed on the log's page, newest first; the CSV holds the whole year.
RECENT_ENTRIES = 25
#: Log entries whose note needs no attestation are counted under this preceptor.
NO_PRECEPTOR = "None (no attestation needed)"
#: Years a clinician may ask for: none before this one (a mistyped year is not found).
EARLIEST_YEAR = 2000

STATUS_LABELS = {SIGNED: "Awaiting attestation", ATTESTED: "Attested", FINAL: "Signed"}


@dataclass(frozen=True, order=True)
class AcademicYear:
    """July 1 to June 30: ``AcademicYear(2025)`` runs from July 2025 to June 2026."""

    first: int

    @classmethod
    def of(cls, on: date) -> "AcademicYear":
        """The academic year a day falls in."""
        return cls(on.year if on.month >= FIRST_MONTH else on.year - 1)

    @property
    def label(self) -> str:
        """How the year is named: "2025–2026"."""
        return f"{self.first}–{self.first + 1}"

    def month(self, index: int) -> date:
        """The first day of the year's month ``index`` (0: July ... 11: June)."""
        years, month = divmod(FIRST_MONTH - 1 + index, 12)
        return date(self.first + years, month + 1, 1)

    def month_starts(self, timezone: str) -> tuple[datetime, ...]:
        """When each of its 12 months starts in ``timezone``, then when the next year starts
        (13 instants, in UTC)."""
        return _month_starts(self.first, timezone)


@functools.lru_cache(maxsize=256)
def _month_starts(first: int, timezone: str) -> tuple[datetime, ...]:
    zone, year = ZoneInfo(timezone), AcademicYear(first)
    starts = [year.month(index) for index in range(12)] + [date(first + 1, FIRST_MONTH, 1)]
    return tuple(datetime(on.year, on.month, 1, tzinfo=zone).astimezone(UTC) for on in starts)


@dataclass(frozen=True)
class LogEntry:
    """One signed note in a clinician's log: no patient name, their record number only."""

    note_id: int
    patient_id: int
    visit_at: datetime
    site: Place
    group_name: str
    record_number: str
    status: str
    preceptor_name: str
    attested_at: datetime | None

    @property
    def local_date(self) -> date:
        return self.visit_at.astimezone(ZoneInfo(self.site.timezone)).date()

    @property
    def attested_on(self) -> date | None:
        if self.attested_at is None:
            return None
        return self.attested_at.astimezone(ZoneInfo(self.site.timezone)).date()

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass
class EncounterLog:
    """A clinician's signed notes of one academic year: counts, and the latest entries."""

    year: AcademicYear
    #: Every year from the current one back to the first with a signed note, newest first.
    years: list[AcademicYear]
    total: int
    #: (label, count) pairs: months newest first; groups and preceptors by count.
    by_month: list[tuple[str, int]]
    by_group: list[tuple[str, int]]
    by_preceptor: list[tuple[str, int]]
    #: The latest entries of the year, newest first (at most :data:`RECENT_ENTRIES`).
    entries: list[LogEntry]


def home_zone(clinician: User) -> str:
    """The time zone of the clinician's first site: their academic year turns there."""
    sites = clinician.sites
    return sites[0].timezone if sites else "UTC"


def current_year(clinician: User, *, now: datetime | None = None) -> AcademicYear:
    """The academic year the clinician is in today, at their first site."""
    today = (now or utcnow()).astimezone(ZoneInfo(home_zone(clinician))).date()
    return AcademicYear.of(today)


# The statements are built once per number of time zones (usually one), with the
# clinician, the zones and the year's month starts as parameters.

_SIGNED = (EncounterNote.author_id == bindparam("author_id")) & EncounterNote.status.in_(
    SIGNED_STATUSES
)


def _with_place(query):
    return (
        query.select_from(EncounterNote)
        .join(GroupSession, GroupSession.id == EncounterNote.session_id)
        .join(VisitGroup, VisitGroup.id == GroupSession.group_id)
        .join(Site, Site.id == VisitGroup.site_id)
    )


@functools.cache
def _zones_query():
    return (
        _with_place(select(Site.timezone, func.min(GroupSession.starts_at)))
        .where(_SIGNED)
        .group_by(Site.timezone)
    )


def _zones(clinician: User) -> dict[str, datetime]:
    """The time zones of the clinician's signed visits, each with its earliest (one query)."""
    rows = db.session.execute(_zones_query(), {"author_id": clinician.id})
    return {zone: first for zone, first in rows}


def _starts(zone: int, month: int):
    """When month ``month`` of the year starts in zone ``zone`` (12: the next year)."""
    return bindparam(f"start_{zone}_{month}")


def _in_year(zone_count: int):
    """Visits within the year, from each site's own midnight of July 1."""
    return or_(
        *[
            (Site.timezone == bindparam(f"zone_{zone}"))
            & (GroupSession.starts_at >= _starts(zone, 0))
            & (GroupSession.starts_at < _starts(zone, 12))
            for zone in range(zone_count)
        ]
    )


def _month_index(zone_count: int):
    """The visit's month within the year (0: July ... 11: June), in its site's zone."""
    return case(
        *[
            (
                (Site.timezone == bindparam(f"zone_{zone}"))
                & (GroupSession.starts_at < _starts(zone, index + 1)),
                index,
            )
            for zone in range(zone_count)
            for index in range(12)
        ],
        else_=11,
    )


def _params(clinician: User, year: AcademicYear, zones) -> dict:
    params = {"author_id": clinician.id}
    for number, zone in enumerate(zones):
        params[f"zone_{number}"] = zone
        for month, instant in enumerate(year.month_starts(zone)):
            params[f"start_{number}_{month}"] = instant
    return params


@functools.lru_cache(maxsize=16)
def _statements(zone_count: int):
    """The counts (by month, group and preceptor) and the entries of a year, newest first."""
    preceptor = aliased(User)
    month = _month_index(zone_count).label("month")
    counts = (
        _with_place(
            select(
                month,
                VisitGroup.name,
                preceptor.given_name,
                preceptor.preferred_name,
                preceptor.family_name,
                func.count(EncounterNote.id),
            )
        )
        .outerjoin(preceptor, preceptor.id == EncounterNote.preceptor_id)
        .where(_SIGNED, _in_year(zone_count))
        .group_by(
            month,
            VisitGroup.name,
            EncounterNote.preceptor_id,
            preceptor.given_name,
            preceptor.preferred_name,
            preceptor.family_name,
        )
    )
    entries = (
        _with_place(
            select(
                EncounterNote.id,
                EncounterNote.patient_id,
                GroupSession.starts_at,
                Site.name,
                Site.timezone,
                Site.locale,
                VisitGroup.name,
                PatientProfile.medical_record_number,
                EncounterNote.status,
                preceptor.given_name,
                preceptor.preferred_name,
                preceptor.family_name,
                EncounterNote.attested_at,
            )
        )
        .outerjoin(PatientProfile, PatientProfile.user_id == EncounterNote.patient_id)
        .outerjoin(preceptor, preceptor.id == EncounterNote.preceptor_id)
        .where(_SIGNED, _in_year(zone_count))
        .order_by(GroupSession.starts_at.desc(), EncounterNote.id.desc())
    )
    return counts, entries, entries.limit(bindparam("latest"))


def encounter_log(
    clinician: User,
    year: AcademicYear | None = None,
    *,
    now: datetime | None = None,
    latest: int = RECENT_ENTRIES,
) -> EncounterLog:
    """The clinician's signed notes (signed, attested, final) of ``year`` (default: the
    current one): counted by month, group and preceptor, with the ``latest`` entries.

    Three queries, whatever the clinician's history: the zones (and first visit) of their
    notes, the counts grouped by the database, and the latest entries.
    """
    this_year = current_year(clinician, now=now)
    year = year or this_year
    zones = _zones(clinician)
    years = {this_year} | {
        AcademicYear.of(first.astimezone(ZoneInfo(zone)).date()) for zone, first in zones.items()
    }
    earliest = min(years)
    log = EncounterLog(
        year=year,
        years=[AcademicYear(first) for first in range(this_year.first, earliest.first - 1, -1)],
        total=0,
        by_month=[],
        by_group=[],
        by_preceptor=[],
        entries=[],
    )
    if not zones:
        return log
    counts, _, latest_entries = _statements(len(zones))
    params = _params(clinician, year, zones)
    _count(log, clinician, db.session.execute(counts, params))
    log.entries = [
        _entry(row) for row in db.session.execute(latest_entries, {**params, "latest": latest})
    ]
    return log


def _count(log: EncounterLog, clinician: User, rows) -> None:
    """Fill the log's counts from the database's, by month, group and preceptor."""
    by_month: dict[int, int] = {}
    by_group: dict[str, int] = {}
    by_preceptor: dict[str, int] = {}
    for index, group_name, given, preferred, family, how_many in rows:
        by_month[index] = by_month.get(index, 0) + how_many
        by_group[group_name] = by_group.get(group_name, 0) + how_many
        name = person_name(given, preferred, family) or NO_PRECEPTOR
        by_preceptor[name] = by_preceptor.get(name, 0) + how_many
    locale = str(site_locale(log_site(clinician)))
    log.total = sum(by_month.values())
    log.by_month = [
        (_month_words(log.year.month(index), locale), by_month[index])
        for index in sorted(by_month, reverse=True)
    ]
    log.by_group = _by_count(by_group)
    log.by_preceptor = _by_count(by_preceptor)


def log_site(clinician: User):
    """The site whose language names the log's months: the clinician's first one."""
    return clinician.sites[0] if clinician.sites else None


@functools.lru_cache(maxsize=512)
def _month_words(on: date, locale: str) -> str:
    """The month in the site's language: "January 2027"."""
    return format_date(on, "LLLL y", locale=locale)


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Names with their counts, most first, then by name."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _entry(row) -> LogEntry:
    note_id, patient_id, starts_at, site_name, timezone, locale, group_name, mrn = row[:8]
    status, given, preferred, family, attested_at = row[8:]
    return LogEntry(
        note_id=note_id,
        patient_id=patient_id,
        visit_at=starts_at,
        site=Place(site_name, timezone, locale),
        group_name=group_name,
        record_number=mrn or "",
        status=status,
        preceptor_name=person_name(given, preferred, family),
        attested_at=attested_at,
    )


# The year as CSV

#: The export's columns. Patients appear by record number, never by name.
EXPORT_COLUMNS = [
    "date",
    "site",
    "group",
    "patient_record_number",
    "status",
    "preceptor",
    "attested_on",
    "encounter_id",
]


@dataclass
class LogExport:
    """One year of the log as CSV cells, with whose notes they are (for the audit trail)."""

    year: AcademicYear
    rows: list[list[object]]
    #: (patient id, note id) of each row.
    shown: list[tuple[int, int]]


def export_year(clinician: User, year: AcademicYear) -> LogExport:
    """Every signed note of the clinician in ``year``, newest first, as CSV cells (two
    queries; rows are read as plain tuples). Free text is kept from being read as a formula.
    """
    zones = _zones(clinician)
    export = LogExport(year=year, rows=[], shown=[])
    if not zones:
        return export
    _, entries, _ = _statements(len(zones))
    for row in db.session.execute(entries, _params(clinician, year, zones)):
        note_id, patient_id, starts_at, site_name, timezone, _, group_name, mrn = row[:8]
        status, given, preferred, family, attested_at = row[8:]
        zone = ZoneInfo(timezone)
        export.rows.append(
            [
                starts_at.astimezone(zone).date().isoformat(),
                safe_cell(site_name),
                safe_cell(group_name),
                safe_cell(mrn),
                STATUS_LABELS[status],
                safe_cell(person_name(given, preferred, family)),
                attested_at.astimezone(zone).date().isoformat() if attested_at else "",
                note_id,
            ]
        )
        export.shown.append((patient_id, note_id))
    return export
