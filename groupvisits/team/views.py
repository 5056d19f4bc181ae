"""Routes for a group's staffing page (template and core team) and one session's team."""

from flask import redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from groupvisits import audit
from groupvisits.accounts.forms import ConfirmForm
from groupvisits.accounts.models import COORDINATOR, User
from groupvisits.errors import GroupVisitsError, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.messages import flash
from groupvisits.permissions import STAFF, get_group_or_404, get_session_or_404, roles
from groupvisits.schedule.views import session_page
from groupvisits.team import bp, services
from groupvisits.team.forms import (
    RemoveByIdForm,
    RemoveRuleForm,
    StaffingRuleForm,
    TeamMemberForm,
    person_choices,
)
from groupvisits.team.models import (
    DEFAULT_DISCIPLINES,
    TEAM_ROLES,
    CoreTeamMember,
    StaffAssignment,
    StaffingRule,
)

#: Skipped people listed in one message after copying the core team; the rest are counted.
SKIPPED_SHOWN = 8


@bp.get("/groups/<int:group_id>/team")
@roles(*STAFF)
def show_staffing(group_id):
    """A group's staffing template and core team; coordinators of its clinic change them."""
    return _staffing_page(get_group_or_404(group_id))


def _staffing_page(
    group: VisitGroup,
    rule_form: StaffingRuleForm | None = None,
    member_form: TeamMemberForm | None = None,
    status: int = 200,
):
    rules = services.staffing_rules(group)
    core_team = services.core_team(group)
    peer_mentor_ids = {m.user_id for m in core_team if m.user.is_patient}
    if peer_mentor_ids:
        audit.record_many(current_user, "view", sorted(peer_mentor_ids), "core team", group.id)
    member_form = member_form or TeamMemberForm()
    if current_user.is_coordinator:
        member_form.user_id.choices = person_choices(*services.team_candidates(group))
        if rule_form is None:
            rule_form = StaffingRuleForm()
            rule_form.disciplines.data = list(DEFAULT_DISCIPLINES.get(rule_form.role.data, ()))
    page = render_template(
        "team/staffing.html",
        group=group,
        rules=rules,
        core_team=core_team,
        rule_form=rule_form or StaffingRuleForm(),
        member_form=member_form,
        role_labels=TEAM_ROLES,
    )
    db.session.commit()  # the audit rows of the page
    return page, status


def _refused(group: VisitGroup, exc: GroupVisitsError, **forms):
    db.session.rollback()
    flash(str(exc), "warning")
    return _staffing_page(group, status=exc.status_code, **forms)


def _to_staffing(group: VisitGroup):
    return redirect(url_for("team.show_staffing", group_id=group.id))


@bp.post("/groups/<int:group_id>/team/rules")
@roles(COORDINATOR)
def set_staffing_rule(group_id):
    """Add or change one role of the staffing template."""
    group = get_group_or_404(group_id, manage=True)
    form = StaffingRuleForm()
    if not form.validate_on_submit():
        return _staffing_page(group, rule_form=form, status=422)
    try:
        services.set_staffing_rule(
            group, form.role.data, form.count.data, form.disciplines.data, actor=current_user
        )
    except GroupVisitsError as exc:
        return _refused(group, exc, rule_form=form)
    db.session.commit()
    flash(f"Saved: {TEAM_ROLES[form.role.data]}.", "success")
    return _to_staffing(group)


@bp.post("/groups/<int:group_id>/team/rules/remove")
@roles(COORDINATOR)
def remove_staffing_rule(group_id):
    """Stop requiring one role at the group's sessions."""
    group = get_group_or_404(group_id, manage=True)
    return _remove_from_staffing(
        group,
        RemoveRuleForm(),
        lambda form: select(StaffingRule).filter_by(group_id=group.id, role=form.role.data),
        services.remove_staffing_rule,
        missing="That role is not in the staffing template.",
        said=lambda rule: f"Removed: {TEAM_ROLES[rule.role]}.",
    )


def _remove_from_staffing(group: VisitGroup, form, row_named, remove, *, missing, said):
    """:func:`_remove` on the staffing page, which it shows again or goes back to."""
    return _remove(
        form,
        row_named,
        remove,
        missing=missing,
        said=said,
        refused=lambda: _staffing_page(group, status=422),
        done=lambda: _to_staffing(group),
    )


def _remove(form, row_named, remove, *, missing, said, refused, done):
    """What every remove button does: find the row the form names, among its owner's only,
    remove it with its service as the signed-in coordinator, commit, and say so.

    :param row_named: the query of the named row, from the valid form.
    :param said: the success message, from the row before it goes.
    :param refused: the page that says ``missing`` (the row is not there, or the form expired);
        ``done`` the answer once removed.
    """
    row = form.validate_on_submit() and db.session.scalar(row_named(form))
    if not row:
        flash(missing, "warning")
        return refused()
    message = said(row)
    remove(row, actor=current_user)
    db.session.commit()
    flash(message, "success")
    return done()


def _person(form: TeamMemberForm) -> User:
    person = db.session.get(User, form.user_id.data)
    if person is None:
        raise ValidationFailed("Choose a person from the list.", field="user")
    return person


@bp.post("/groups/<int:group_id>/team/core")
@roles(COORDINATOR)
def add_core_member(group_id):
    """Put someone on the group's core team in a role."""
    group = get_group_or_404(group_id, manage=True)
    form = TeamMemberForm()
    if not form.validate_on_submit():
        return _staffing_page(group, member_form=form, status=422)
    try:
        member = services.add_core_member(group, _person(form), form.role.data, actor=current_user)
    except GroupVisitsError as exc:
        return _refused(group, exc, member_form=form)
    db.session.commit()
    flash(
        f"{member.user.full_name} is on the core team as {TEAM_ROLES[member.role].lower()}.",
        "success",
    )
    return _to_staffing(group)


@bp.post("/groups/<int:group_id>/team/core/remove")
@roles(COORDINATOR)
def remove_core_member(group_id):
    """Take someone off the core team; sessions already staffed keep them."""
    group = get_group_or_404(group_id, manage=True)
    return _remove_from_staffing(
        group,
        RemoveByIdForm(),
        lambda form: select(CoreTeamMember).filter_by(id=form.row_id.data, group_id=group.id),
        services.remove_core_member,
        missing="That person is not on the core team.",
        said=lambda member: f"{member.user.full_name} is off the core team.",
    )


@bp.post("/groups/<int:group_id>/team/copy")
@roles(COORDINATOR)
def copy_core_team(group_id):
    """Put the core team on the group's coming sessions; say who was left off, and why."""
    group = get_group_or_404(group_id, manage=True)
    if not ConfirmForm().validate_on_submit():
        flash("Your form expired. Please try again.", "warning")
        return _staffing_page(group, status=400)
    results = services.copy_core_team_to_upcoming(group, actor=current_user)
    db.session.commit()
    added = sum(len(copied.added) for _, copied in results)
    skipped = [
        f"{group.site.when(group_session.starts_at)}: {reason}"
        for group_session, copied in results
        for reason in copied.skipped
    ]
    flash(
        f"Added {added} assignment{'s' if added != 1 else ''} "
        f"to {len(results)} coming session{'s' if len(results) != 1 else ''}.",
        "success",
    )
    if skipped:
        more = len(skipped) - SKIPPED_SHOWN
        text = " ".join(skipped[:SKIPPED_SHOWN]) + (f" And {more} more." if more > 0 else "")
        flash(f"Left off: {text}", "warning")
    return _to_staffing(group)


@bp.post("/sessions/<int:session_id>/team")
@roles(COORDINATOR)
def assign_staff(session_id):
    """Put someone on one session's team in a role."""
    group_session = get_session_or_404(session_id, manage=True)
    form = TeamMemberForm()
    if not form.validate_on_submit():
        flash(" ".join(sum(form.errors.values(), [])) or "Choose a person and a role.", "warning")
        return session_page(group_session, team_form=form), 422
    try:
        assignment = services.assign_staff(
            group_session, _person(form), form.role.data, actor=current_user
        )
    except GroupVisitsError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return session_page(group_session, team_form=form), exc.status_code
    db.session.commit()
    flash(
        f"{assignment.user.full_name} is on the team as {assignment.role_label.lower()}.", "success"
    )
    return redirect(url_for("schedule.show_session", session_id=group_session.id))


@bp.post("/sessions/<int:session_id>/team/remove")
@roles(COORDINATOR)
def unassign_staff(session_id):
    """Take someone off one session's team in one role."""
    group_session = get_session_or_404(session_id, manage=True)
    return _remove(
        RemoveByIdForm(),
        lambda form: select(StaffAssignment).filter_by(
            id=form.row_id.data, session_id=group_session.id
        ),
        services.unassign_staff,
        missing="That person is not on this session's team.",
        said=lambda a: f"{a.user.full_name} is off the team ({a.role_label.lower()}).",
        refused=lambda: (session_page(group_session), 422),
        done=lambda: redirect(url_for("schedule.show_session", session_id=group_session.id)),
    )


from groupvisits.team import coverage_views, schedule_views  # noqa: E402,F401 (routes)
