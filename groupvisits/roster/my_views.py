"""Patients' own pages: my groups, my sessions with their RSVP, offers and agreements."""

import functools

from flask import redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import joinedload
from wtforms import BooleanField

from groupvisits import audit, localtime
from groupvisits.accounts.forms import ConfirmForm
from groupvisits.accounts.models import PATIENT, User
from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.groups.models import ACTIVE as GROUP_ACTIVE
from groupvisits.groups.models import PLANNING, VisitGroup
from groupvisits.messages import flash
from groupvisits.permissions import (
    get_membership_or_404,
    get_session_or_404,
    meeting_details_group_ids,
    roles,
)
from groupvisits.roster import attendance as rules
from groupvisits.roster import bp, services
from groupvisits.roster.forms import JoinForm, RsvpForm, ShareNameForm
from groupvisits.roster.models import (
    ACTIVE,
    ANSWERS,
    CURRENT,
    OFFERED,
    REQUESTED,
    WAITLISTED,
    YES,
    AgreementAcceptance,
    Attendance,
    GroupAgreement,
    Membership,
)
from groupvisits.schedule import participation, recurrence
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.team.models import PEER_MENTOR, StaffAssignment
from groupvisits.timeutil import utcnow

#: The order of a patient's current memberships on their pages.
SHOWN_ORDER = (OFFERED, ACTIVE, WAITLISTED, REQUESTED)


@bp.get("/my/groups")
@roles(PATIENT)
def my_groups():
    """My groups, offers and waitlist places, fellow members, and groups I could join."""
    # Only this patient's own lapsed offers: one patient's page changes nobody else's place.
    if services.expire_offers(patient=current_user):
        db.session.commit()
    mine_query, fellows_query, open_query = _my_groups_queries()
    mine = db.session.scalars(mine_query, {"patient_id": current_user.id}).all()
    # An open offer first, then places held, then the waitlist, then requests to join.
    current = sorted(
        (m for m in mine if m.status in CURRENT), key=lambda m: SHOWN_ORDER.index(m.status)
    )
    in_group_ids = sorted({m.group_id for m in current})
    active_ids = sorted(m.group_id for m in current if m.status == ACTIVE)
    fellows: dict[int, list[User]] = {group_id: [] for group_id in active_ids}
    for group_id, user in db.session.execute(
        fellows_query, {"group_ids": active_ids, "patient_id": current_user.id}
    ):
        fellows[group_id].append(user)
    audit.record(current_user, "view", current_user, "my groups")
    # Fellow members chose to be shown as "First L."; each showing is still audited.
    audit.record_many(
        current_user,
        "view",
        [user.id for users in fellows.values() for user in users],
        "group members",
    )
    agreements = pending_agreements(current_user, active_ids)
    # The coming sessions where I am peer mentor, by group. Only willing members are ever
    # assigned (and taking it back takes them off coming sessions): others need no query.
    mentoring: dict[int, list[GroupSession]] = {}
    if any(m.peer_mentor_since for m in current):
        for group_session in db.session.scalars(
            _mentoring_query(), {"patient_id": current_user.id, "now": utcnow()}
        ):
            mentoring.setdefault(group_session.group_id, []).append(group_session)
    open_groups = db.session.scalars(
        open_query, {"site_ids": sorted(current_user.site_ids), "in_group_ids": in_group_ids}
    ).all()
    page = render_template(
        "roster/my_groups.html",
        current=current,
        past=[m for m in mine if m.status not in CURRENT],
        fellows=fellows,
        agreements=agreements,
        open_groups=open_groups,
        mentoring=mentoring,
        meets={m.group_id: _meets(m.group) for m in current},
    )
    db.session.commit()
    return page


@functools.cache
def _mentoring_query():
    return (
        select(GroupSession)
        .join(StaffAssignment, StaffAssignment.session_id == GroupSession.id)
        .where(
            StaffAssignment.user_id == bindparam("patient_id"),
            StaffAssignment.role == PEER_MENTOR,
            GroupSession.starts_at > bindparam("now"),
        )
        .order_by(GroupSession.starts_at)
    )


def _meets(group: VisitGroup) -> str:
    """When a group meets, in words: what anyone in it or waiting for it may know."""
    rule = recurrence.describe_rule(group.recurrence_rule)
    start = group.schedule_start_time
    if start and group.recurrence_rule:
        return f"{rule}, {localtime.clock(start, group.site)}"
    return rule


@functools.cache
def _my_groups_queries():
    """A patient's memberships, fellow members who share their name, groups open to join."""
    mine = (
        select(Membership)
        .where(Membership.patient_id == bindparam("patient_id"))
        .options(joinedload(Membership.group, innerjoin=True))
        .order_by(Membership.created_at.desc(), Membership.id.desc())
    )
    fellows = (
        select(Membership.group_id, User)
        .join(User, User.id == Membership.patient_id)
        .where(
            Membership.group_id.in_(bindparam("group_ids", expanding=True)),
            Membership.status == ACTIVE,
            Membership.share_name.is_(True),
            User.id != bindparam("patient_id"),
        )
        .order_by(User.preferred_name, User.given_name, User.id)
    )
    open_groups = (
        select(VisitGroup)
        .where(
            VisitGroup.site_id.in_(bindparam("site_ids", expanding=True)),
            VisitGroup.status.in_((GROUP_ACTIVE, PLANNING)),
            VisitGroup.id.not_in(bindparam("in_group_ids", expanding=True)),
        )
        .order_by(VisitGroup.name, VisitGroup.id)
    )
    return mine, fellows, open_groups


@bp.get("/my/sessions")
@roles(PATIENT)
def my_sessions():
    """My upcoming sessions, each with big yes / maybe / no buttons."""
    sessions = schedule.upcoming_sessions(
        participation.active_group_ids_of_patient(current_user), now=utcnow(), days=120
    )
    # A patient's view of their own answers is audited like anyone's.
    audit.record(current_user, "view", current_user, "my sessions")
    page = render_template("roster/my_sessions.html", **rsvp_context(current_user, sessions))
    db.session.commit()
    return page


def rsvp_context(patient: User, sessions: list[GroupSession]) -> dict:
    """What the RSVP cards need: answers, deadlines, agreements to accept, where rooms show."""
    answers = {
        a.session_id: a
        for a in db.session.scalars(
            _rsvp_queries()[0],
            {"patient_id": patient.id, "session_ids": [s.id for s in sessions]},
        )
    }
    return {
        "sessions": sessions,
        "answers": answers,
        "needs": pending_agreements(patient, {s.group_id for s in sessions}),
        # Rooms only for members who accepted the agreement (one query for all the cards).
        "details": meeting_details_group_ids(patient, {s.group for s in sessions}),
        "deadlines": {s.id: rules.answer_deadline(s) for s in sessions},
        "deadline_words": {s.id: rules.describe_deadline(s) for s in sessions},
        "now": utcnow(),
        "labels": ANSWERS,
    }


@bp.post("/sessions/<int:session_id>/rsvp")
@roles(PATIENT)
def rsvp(session_id):
    """Record the signed-in patient's answer for one session."""
    group_session = get_session_or_404(session_id)
    form = RsvpForm()
    if form.validate_on_submit():
        try:
            rules.answer_rsvp(
                group_session,
                current_user,
                form.answer.data,
                actor=current_user,
                brings_support_person=form.brings_support_person.data,
            )
        except GroupVisitsError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
        else:
            db.session.commit()
            flash(
                "Thanks, see you there!"
                if form.answer.data == YES
                else "Thanks, your answer is saved.",
                "success",
            )
    else:
        flash("Choose yes, maybe or no.", "warning")
    return redirect(_back(url_for("roster.my_sessions")))


class SupportPersonForm(FlaskForm):
    """The RSVP card's support-person box, saved on its own whenever it changes."""

    brings_support_person = BooleanField("I'm bringing a family member or carer")


@bp.post("/sessions/<int:session_id>/rsvp/support-person")
@roles(PATIENT)
def set_support_person(session_id):
    """Save whether I bring a family member or carer, whatever my answer (JSON for rsvp.js)."""
    group_session = get_session_or_404(session_id)
    form = SupportPersonForm()
    brings = bool(form.brings_support_person.data)
    if not form.validate_on_submit():
        message, status = "Your form expired. Please reload the page and try again.", 400
    else:
        try:
            rules.set_support_person(group_session, current_user, brings, actor=current_user)
        except GroupVisitsError as exc:
            db.session.rollback()
            message, status = str(exc), exc.status_code
        else:
            db.session.commit()
            message, status = "Saved", 200
    if request.accept_mimetypes.best == "application/json":
        return {"message": message, "saved": status == 200}, status
    if status == 200:
        flash(
            "Saved: you are bringing a family member or carer."
            if brings
            else "Saved: you are coming without a family member or carer.",
            "success",
        )
    else:
        flash(message, "warning")
    return redirect(_back(url_for("roster.my_sessions")))


@bp.post("/groups/<int:group_id>/join")
@roles(PATIENT)
def ask_to_join(group_id):
    """Ask the coordinator for a place in an open group of my clinic."""
    group = db.session.get(VisitGroup, group_id)
    if group is None or group.site_id not in current_user.site_ids:
        return redirect(url_for("roster.my_groups"))
    form = JoinForm()
    if form.validate_on_submit():
        try:
            services.request_to_join(group, current_user, form.message.data or "")
        except GroupVisitsError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
        else:
            db.session.commit()
            flash("Your request is sent. The coordinator will answer you here.", "success")
    return redirect(url_for("roster.my_groups"))


def _own_action(membership_id, action, success):
    membership = get_membership_or_404(membership_id, own=True)
    if ConfirmForm().validate_on_submit():
        try:
            action(membership)
        except GroupVisitsError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
        else:
            db.session.commit()
            flash(success, "success")
    return redirect(_back(url_for("roster.my_groups")))


@bp.post("/memberships/<int:membership_id>/withdraw")
@roles(PATIENT)
def withdraw(membership_id):
    """Leave a group or its waitlist."""
    return _own_action(
        membership_id,
        lambda m: services.withdraw(m, actor=current_user),
        "You have left. You are welcome back any time.",
    )


@bp.post("/memberships/<int:membership_id>/offer/accept")
@roles(PATIENT)
def accept_offer(membership_id):
    """Take the place offered."""
    return _own_action(
        membership_id,
        lambda m: services.accept_offer(m, actor=current_user),
        "Welcome to the group! Your place is confirmed.",
    )


@bp.post("/memberships/<int:membership_id>/offer/decline")
@roles(PATIENT)
def decline_offer(membership_id):
    """Turn the place down (and leave the waitlist)."""
    return _own_action(
        membership_id,
        lambda m: services.decline_offer(m, actor=current_user),
        "The place is passed on. Thank you for letting us know.",
    )


@bp.post("/memberships/<int:membership_id>/peer-mentor")
@roles(PATIENT)
def offer_to_mentor(membership_id):
    """Say I am willing to be a peer mentor in this group."""
    return _own_action(
        membership_id,
        lambda m: services.set_peer_mentor(m, True, actor=current_user),
        "Thank you. The coordinator may ask you to be peer mentor at a session.",
    )


@bp.post("/memberships/<int:membership_id>/peer-mentor/stop")
@roles(PATIENT)
def stop_mentoring(membership_id):
    """Take back my offer to be a peer mentor (and leave the sessions I was to mentor)."""
    return _own_action(
        membership_id,
        lambda m: services.set_peer_mentor(m, False, actor=current_user),
        "Saved. You are no longer a peer mentor in this group.",
    )


@bp.post("/memberships/<int:membership_id>/share-name")
@roles(PATIENT)
def share_name(membership_id):
    """Choose whether fellow members see my name."""
    membership = get_membership_or_404(membership_id, own=True)
    form = ShareNameForm()
    if form.validate_on_submit():
        services.set_share_name(membership, form.shares_name, actor=current_user)
        db.session.commit()
        flash("Saved.", "success")
    else:
        flash(" ".join(e for errors in form.errors.values() for e in errors), "warning")
    return redirect(_back(url_for("roster.my_groups")))


def _back(default: str) -> str:
    """Return to the page the form was on, if it is one of ours."""
    from groupvisits.accounts.views import safe_next_url

    return safe_next_url(request.form.get("next")) or default


@functools.cache
def _rsvp_queries():
    """A patient's answers; groups' current agreements the patient has not accepted."""
    answers = select(Attendance).where(
        Attendance.patient_id == bindparam("patient_id"),
        Attendance.session_id.in_(bindparam("session_ids", expanding=True)),
    )
    latest = (
        select(GroupAgreement.group_id, func.max(GroupAgreement.version).label("version"))
        .where(GroupAgreement.group_id.in_(bindparam("group_ids", expanding=True)))
        .group_by(GroupAgreement.group_id)
        .subquery()
    )
    accepted = exists().where(
        AgreementAcceptance.agreement_id == GroupAgreement.id,
        AgreementAcceptance.patient_id == bindparam("patient_id"),
    )
    pending = (
        select(GroupAgreement)
        .join(
            latest,
            (GroupAgreement.group_id == latest.c.group_id)
            & (GroupAgreement.version == latest.c.version),
        )
        .where(~accepted)
    )
    return answers, pending


def pending_agreements(patient: User, group_ids) -> dict[int, GroupAgreement | None]:
    """For each group, its current agreement if the patient has not accepted it (1 query)."""
    group_ids = sorted(group_ids)
    if not group_ids:
        return {}
    pending: dict[int, GroupAgreement | None] = {group_id: None for group_id in group_ids}
    for agreement in db.session.scalars(
        _rsvp_queries()[1], {"group_ids": group_ids, "patient_id": patient.id}
    ):
        pending[agreement.group_id] = agreement
    return pending
