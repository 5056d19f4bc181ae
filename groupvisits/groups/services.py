"""Rules for groups: creating, editing, pausing, closing, and their default plan."""

from datetime import timedelta

from sqlalchemy import select, update

from groupvisits.accounts.models import User
from groupvisits.errors import NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import (
    CLOSED,
    DEFAULT_PLAN,
    MODALITIES,
    STATUSES,
    GroupPlanSegment,
    VisitGroup,
)
from groupvisits.locking import hold_sqlite_for_writing
from groupvisits.neutral import check_calendar_name, check_place
from groupvisits.permissions import can_manage_site
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import Site
from groupvisits.timeutil import utcnow

#: Fields a coordinator edits on the group form.
EDITABLE = (
    "name",
    "calendar_name",
    "focus",
    "description",
    "modality",
    "location",
    "video_url",
    "length_minutes",
    "slot_minutes",
    "min_members",
    "target_members",
    "max_members",
    "census_warning_days",
    "rsvp_deadline_days",
    "offer_hold_hours",
)

#: Words that must not appear in a calendar name: calendars leave the clinic.


def _check_coordinator(site: Site, actor: User | None) -> None:
    if actor is not None and not can_manage_site(actor, site):
        raise NotAllowed("Only coordinators of this site manage its groups.")


def check_fields(fields: dict, *, place_before: tuple[str, str] | None = None) -> None:
    """:raises ValidationFailed: census out of order, bad length, modality without a place."""
    low, target, high = fields["min_members"], fields["target_members"], fields["max_members"]
    if not (1 <= low <= target <= high):
        raise ValidationFailed("The minimum, target and maximum must go up in that order.")
    if not 60 <= fields["length_minutes"] <= 180:
        raise ValidationFailed("A group visit lasts between 60 and 180 minutes.")
    if not 5 <= fields.get("slot_minutes", 10) <= 30:
        raise ValidationFailed("A one-on-one visit lasts between 5 and 30 minutes.")
    if fields["modality"] not in MODALITIES:
        raise ValidationFailed("Choose in person, virtual or hybrid.")
    if fields["modality"] in ("virtual", "hybrid") and not fields.get("video_url"):
        raise ValidationFailed("A virtual or hybrid group needs a video link.")
    if fields["modality"] in ("in_person", "hybrid") and not fields.get("location"):
        raise ValidationFailed("An in-person or hybrid group needs a location.")
    check_calendar_name(fields.get("calendar_name") or "Group visit")
    place = (fields.get("location") or "", fields.get("video_url") or "")
    if place != place_before:  # a place already in use is not refused on every edit
        check_place(*place)


def create_group(site: Site, fields: dict, *, actor: User | None) -> VisitGroup:
    """Create a group in planning, with the default session plan."""
    _check_coordinator(site, actor)
    check_fields(fields)
    group = VisitGroup(site=site, **{k: fields[k] for k in EDITABLE if k in fields})
    group.calendar_name = (group.calendar_name or "").strip() or "Group visit"
    group.plan = [
        GroupPlanSegment(position=i, kind=kind, name=name, minutes=minutes)
        for i, (kind, name, minutes) in enumerate(DEFAULT_PLAN)
    ]
    scale = group.length_minutes / 120
    if scale < 1:
        for segment in group.plan:
            segment.minutes = max(5, int(segment.minutes * scale) // 5 * 5)
    db.session.add(group)
    db.session.flush()
    return group


def _future_sessions_locked(group: VisitGroup, now) -> list[GroupSession]:
    """The group's sessions still to come, their rows locked until commit.

    A check-in arriving meanwhile waits, so a session that holds one is never
    changed or cancelled under it.
    """
    hold_sqlite_for_writing(db.session.connection())
    return list(
        db.session.scalars(
            select(GroupSession)
            .where(GroupSession.group_id == group.id, GroupSession.starts_at > now)
            .order_by(GroupSession.starts_at)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _keep_place_of_sessions_held(group: VisitGroup, old_place: tuple[str, str], now) -> None:
    """Sessions that have begun keep the place they were held at, written on them.

    A session with no place of its own takes the group's; without this, a new group
    place would rewrite where every past session took place.
    """
    for column, old in zip((GroupSession.location, GroupSession.video_url), old_place, strict=True):
        if old:
            db.session.execute(
                update(GroupSession)
                .where(
                    GroupSession.group_id == group.id,
                    GroupSession.starts_at <= now,
                    column == "",
                )
                .values({column: old})
            )


def update_group(group: VisitGroup, fields: dict, *, actor: User) -> list[GroupSession]:
    """Edit a group; a new default length applies to future sessions not edited by hand.

    Sessions that have begun or hold a check-in keep their length and place: they
    record where and how long the group met.

    Returns the future sessions whose length changed.
    """
    _check_coordinator(group.site, actor)
    check_fields(fields, place_before=(group.location or "", group.video_url or ""))
    old_length = group.length_minutes
    old_place = (group.location or "", group.video_url or "")
    for key in EDITABLE:
        if key in fields:
            setattr(group, key, fields[key])
    group.calendar_name = (group.calendar_name or "").strip() or "Group visit"
    new_place = (group.location or "", group.video_url or "")
    changed = []
    if new_place == old_place and group.length_minutes == old_length:
        db.session.flush()
        return changed
    if group.length_minutes != old_length and (
        sum(s.minutes for s in group.plan) > group.length_minutes
    ):
        raise ValidationFailed(
            "The group's session plan is longer than the new length. Shorten the plan first."
        )
    now = utcnow()
    future = _future_sessions_locked(group, now)
    held = schedule.checked_in_sessions([s.id for s in future])
    moved_place = set()
    if new_place != old_place:
        _keep_place_of_sessions_held(group, old_place, now)
        for group_session in future:
            takes_location = not group_session.location and new_place[0] != old_place[0]
            takes_link = not group_session.video_url and new_place[1] != old_place[1]
            if group_session.id in held:
                # It records where people were checked in: it keeps that place.
                if takes_location:
                    group_session.location = old_place[0]
                if takes_link:
                    group_session.video_url = old_place[1]
            elif takes_location or takes_link:
                # Sessions that take the group's place move with it: calendars must learn of it.
                group_session.sequence += 1
                moved_place.add(group_session.id)
    if group.length_minutes != old_length:
        for group_session in future:
            if (
                group_session.edited
                or group_session.id in held
                or group_session.planned_minutes > group.length_minutes
            ):
                continue
            group_session.ends_at = group_session.starts_at + timedelta(
                minutes=group.length_minutes
            )
            if group_session.id not in moved_place:
                group_session.sequence += 1
            changed.append(group_session)
    db.session.flush()
    return changed


def set_status(group: VisitGroup, status: str, *, actor: User, reason: str = "") -> int:
    """Activate, pause or close a group. Closing cancels its future sessions.

    Sessions that have begun or hold a check-in are records of who came: closing
    leaves them as they are. A paused group gets no new sessions; those already
    planned stay until cancelled one by one.

    Returns the number of sessions cancelled.
    """
    _check_coordinator(group.site, actor)
    if status not in STATUSES:
        raise ValidationFailed("Unknown status.")
    if group.status == CLOSED and status != CLOSED:
        raise ValidationFailed("A closed group stays closed; create a new group instead.")
    group.status = status
    cancelled = 0
    if status == CLOSED:
        future = _future_sessions_locked(group, utcnow())
        held = schedule.checked_in_sessions([s.id for s in future])
        for group_session in future:
            if not group_session.is_cancelled and group_session.id not in held:
                schedule._cancel(
                    group_session, reason.strip() or "The group has closed.", actor=actor
                )
                cancelled += 1
        from groupvisits.roster.services import close_memberships

        close_memberships(group, reason.strip() or "The group closed.", actor=actor)
    db.session.flush()
    return cancelled


def set_group_plan(group: VisitGroup, segments: list[schedule.PlanStep], *, actor: User):
    """Replace the default plan; sessions created from now on copy it."""
    _check_coordinator(group.site, actor)
    schedule.check_plan(segments, group.length_minutes)
    group.plan = [
        GroupPlanSegment(
            position=i, kind=kind, name=name.strip(), minutes=minutes, no_pull_outs=no_pull_outs
        )
        for i, (kind, name, minutes, no_pull_outs) in enumerate(schedule.plan_steps(segments))
    ]
    db.session.flush()
