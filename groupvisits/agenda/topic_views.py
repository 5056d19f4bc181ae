"""Routes of a group's topics: the list with its votes and the form to put one forward,
hiding, a topic's history, and each session's question box.

Members with a place and staff of the group's site see a group's topics; anyone else
(members of other groups, former members, people on the waitlist) gets a 404 on every route.
"""

import functools

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from groupvisits import audit
from groupvisits.accounts.models import PATIENT
from groupvisits.agenda import bp, topic_changes, topic_rows, topics
from groupvisits.agenda.models import ANONYMOUS, QUESTION, AgendaTopic
from groupvisits.agenda.topic_forms import (
    ANY,
    NEXT,
    HideForm,
    ProposeForm,
    QuestionForm,
    UnhideForm,
    anonymity_choices,
    when_choices,
)
from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.formutil import page_count, page_number
from groupvisits.groups.models import VisitGroup
from groupvisits.messages import flash
from groupvisits.permissions import (
    STAFF,
    can_curate_agenda,
    can_curate_topics,
    can_take_part_in_agenda,
    require,
    roles,
    signed_in,
)
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow

# Loaders: what is out of the person's reach is a 404, as if it did not exist.


def _group_or_404(group_id: int) -> VisitGroup:
    group = db.session.scalar(_group_query(), {"group_id": group_id})
    if group is None or not can_take_part_in_agenda(current_user, group):
        abort(404)
    return group


@functools.cache
def _group_query():
    return (
        select(VisitGroup)
        .where(VisitGroup.id == bindparam("group_id"))
        .options(joinedload(VisitGroup.site))
    )


def _session_or_404(session_id: int) -> GroupSession:
    group_session = db.session.scalar(
        select(GroupSession)
        .where(GroupSession.id == session_id)
        .options(joinedload(GroupSession.group).joinedload(VisitGroup.site))
    )
    if group_session is None or not can_take_part_in_agenda(current_user, group_session.group):
        abort(404)
    return group_session


def _topic_or_404(topic_id: int) -> AgendaTopic:
    topic = db.session.scalar(
        select(AgendaTopic)
        .where(AgendaTopic.id == topic_id)
        .options(
            joinedload(AgendaTopic.group).joinedload(VisitGroup.site),
            joinedload(AgendaTopic.group_session),
        )
    )
    if topic is None or not can_take_part_in_agenda(current_user, topic.group):
        abort(404)
    return topic


def _sort(value: str | None) -> str:
    return value if value in topics.SORTS else "votes"


def _show_error(form, exc: GroupVisitsError) -> str | None:
    """Put a service's message under its field; return it if it belongs to no field."""
    if exc.field and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, str(exc)]
        return None
    return str(exc)


def _submit(form, change, show_again):
    """Run ``change()`` once ``form`` is valid: its result, and no page. Otherwise nothing is
    saved: None, and the page to show again, ``show_again(problem, status)`` (the service's
    message under its field, or as the problem of the page; None for the form's own errors)."""
    if not form.validate_on_submit():
        return None, show_again(None, None)
    try:
        return change(), None
    except GroupVisitsError as exc:
        db.session.rollback()
        return None, show_again(_show_error(form, exc), exc.status_code)


# A group's topics


@bp.get("/groups/<int:group_id>/topics")
@signed_in
def show_topics(group_id):
    """The group's topics with their votes, and the form to put one forward; with
    ``?show=closed`` (or ``hidden``, for staff) and ``&page=``, every closed (or hidden) topic,
    page by page."""
    group = _group_or_404(group_id)
    shelf = request.args.get("show")
    if shelf is not None:
        return _shelf_page(group, shelf)
    return _topics_page(group, ProposeForm(formdata=None))


@bp.post("/groups/<int:group_id>/topics")
@signed_in
def propose_topic(group_id):
    """Put a topic forward for the group."""
    group = _group_or_404(group_id)
    form = ProposeForm()
    _prepare(form, group, topics.sessions_ahead(group).next)
    anonymous = "shown_as" in form and form.shown_as.data == ANONYMOUS
    topic, page = _submit(
        form,
        lambda: topic_changes.propose(
            group,
            title=form.title.data,
            details=form.details.data or "",
            anonymous=anonymous,
            for_next_session=form.when.data == NEXT,
            actor=current_user,
        ),
        lambda problem, status: _topics_page(group, form, problem=problem, status=status),
    )
    if page is not None:
        return page
    nobody_knows = topic_rows.is_fully_anonymous(topic)
    db.session.commit()
    if nobody_knows:
        # Nothing of it is kept with this person's sign-in, not even in a message.
        flash("Thank you. Your topic is on the list, and nobody can see it was you.", "success")
        return redirect(url_for("agenda.show_topics", group_id=group_id, sort="new"))
    flash("Thank you. Your topic is on the list for members to vote on.", "success")
    return redirect(
        url_for("agenda.show_topics", group_id=group_id, sort="new", _anchor=f"topic-{topic.id}")
    )


def _prepare(form: ProposeForm, group: VisitGroup, next_up: GroupSession | None) -> None:
    """Fit the form to the person and the group: their anonymity choices, the next session."""
    form.when.choices = when_choices(group.site.day(next_up.starts_at) if next_up else None)
    if next_up is None and not form.when.raw_data:
        form.when.data = ANY  # nothing to choose but "any session"
    if current_user.is_staff:
        if "shown_as" in form:
            del form.shown_as  # staff topics always show the staff member's name
    else:
        shown_as = (
            current_user.group_name
            if topic_rows.name_shared(group, current_user)
            else topic_rows.A_MEMBER
        )
        form.shown_as.choices = anonymity_choices(
            shown_as=shown_as, fully_anonymous=group.allow_anonymous_topics
        )


def _topics_page(group, form=None, *, problem=None, status=None):
    """The topic list as the current person sees it: the topics open for votes first, then
    the latest hidden and closed ones (the rest a page away); each patient named is audited."""
    if form is None:
        form = ProposeForm(formdata=None)
    ahead = topics.sessions_ahead(group)
    _prepare(form, group, ahead.next)
    sort = _sort(request.args.get("sort") or request.form.get("sort"))
    lists = topics.topic_lists(group, current_user, sort)
    staff = current_user.is_staff
    box = ahead.box
    _audit_rows(group, lists.rows)
    page = render_template(
        "agenda/topics.html",
        group=group,
        form=form,
        sort=sort,
        sorts=topics.SORTS,
        open_rows=lists.open,
        hidden=lists.hidden,
        closed=lists.closed,
        shown_ids={r.topic.id for r in lists.rows},
        staff=staff,
        may_hide=staff and can_curate_topics(current_user, group),
        box=box,
        box_open=box is not None and topics.question_box_is_open(box),
        problem=problem,
    )
    db.session.commit()
    return page, status or (422 if form.errors else 200)


def _audit_rows(group: VisitGroup, rows) -> None:
    """One audit row for each patient the topic rows name to the current person."""
    named = sorted({r.named_patient_id for r in rows if r.named_patient_id})
    audit.record_many(current_user, "view", named, "agenda topics", group.id)


def _shelf_page(group: VisitGroup, shelf: str):
    """Every closed topic (what became of it), or every hidden one (staff), page by page."""
    number = page_number(request.args.get("page", 1, type=int))
    if number is None or shelf not in topics.SHELVES:
        abort(404)
    if shelf == "hidden" and not current_user.is_staff:
        abort(404)
    found = topics.topic_shelf(group, current_user, shelf, page=number)
    if not found.rows and number > 1:
        abort(404)
    _audit_rows(group, found.rows)
    page = render_template(
        "agenda/topic_shelf.html",
        group=group,
        shelf=shelf,
        found=found,
        page=number,
        pages=page_count(found.total, topics.SHELF_PAGE),
        shown_ids={r.topic.id for r in found.rows},
        staff=current_user.is_staff,
        may_hide=current_user.is_staff and can_curate_topics(current_user, group),
    )
    db.session.commit()
    return page


# Votes


@bp.post("/topics/<int:topic_id>/vote")
@roles(PATIENT)
def vote_topic(topic_id):
    """Vote for a topic (a second click changes nothing)."""
    return _vote(
        topic_id, topic_changes.vote, "Your vote is counted.", "You had voted for it already."
    )


@bp.post("/topics/<int:topic_id>/unvote")
@roles(PATIENT)
def unvote_topic(topic_id):
    """Take my vote for a topic back."""
    return _vote(
        topic_id, topic_changes.unvote, "Your vote is taken back.", "You had not voted for it."
    )


def _vote(topic_id: int, change, done: str, unchanged: str):
    topic = _topic_or_404(topic_id)
    group = topic.group
    sort = _sort(request.form.get("sort"))
    try:
        changed = change(topic, current_user)
    except GroupVisitsError as exc:
        db.session.rollback()
        return _topics_page(group, problem=str(exc), status=exc.status_code)
    db.session.commit()
    flash(done if changed else unchanged, "success" if changed else "info")
    return redirect(
        url_for("agenda.show_topics", group_id=group.id, sort=sort, _anchor=f"topic-{topic_id}")
    )


# Hiding (staff who curate)


@bp.post("/topics/<int:topic_id>/hide")
@roles(*STAFF)
def hide_topic(topic_id):
    """Take a topic or question off members' lists, with a reason only staff see."""
    topic = _topic_or_404(topic_id)
    require(topics.can_hide(current_user, topic))
    form = HideForm()
    if not form.validate_on_submit():
        problem = " ".join(form.reason.errors) or "Your form expired. Please try again."
        return _back_page(topic, problem, 422)
    try:
        topic_changes.hide(topic, form.reason.data, current_user)
    except GroupVisitsError as exc:
        db.session.rollback()
        return _back_page(topic, str(exc), exc.status_code)
    db.session.commit()
    flash("Hidden. Members no longer see it; it stays in its history.", "success")
    return redirect(_back_url(topic))


@bp.post("/topics/<int:topic_id>/unhide")
@roles(*STAFF)
def unhide_topic(topic_id):
    """Show a hidden topic or question to members again."""
    topic = _topic_or_404(topic_id)
    require(topics.can_hide(current_user, topic))
    form = UnhideForm()
    try:
        topic_changes.unhide(topic, current_user, form.reason.data or "")
    except GroupVisitsError as exc:
        db.session.rollback()
        return _back_page(topic, str(exc), exc.status_code)
    db.session.commit()
    flash("Members see it again.", "success")
    return redirect(_back_url(topic))


def _back_url(topic: AgendaTopic) -> str:
    if topic.kind == QUESTION and topic.session_id:
        return url_for("agenda.question_box", session_id=topic.session_id)
    return url_for("agenda.show_topics", group_id=topic.group_id, _anchor=f"topic-{topic.id}")


def _back_page(topic: AgendaTopic, problem: str, status: int):
    """The page the form was on, with why nothing changed."""
    if topic.kind == QUESTION and topic.session_id:
        group_session = db.session.get(GroupSession, topic.session_id)
        return _question_box_page(group_session, QuestionForm(formdata=None), problem, status)
    return _topics_page(topic.group, problem=problem, status=status)


# A topic's history (staff)


@bp.get("/topics/<int:topic_id>/history")
@roles(*STAFF)
def topic_history(topic_id):
    """Every change to a topic, who made it and when (a fully anonymous proposer: nobody)."""
    topic = _topic_or_404(topic_id)
    events = topics.topic_history(topic)
    row = topic_rows.topic_row(topic, current_user)
    named = {e.actor_id for e in events if e.actor is not None and e.actor.is_patient}
    if row.named_patient_id:
        named.add(row.named_patient_id)
    if topic.is_anonymous:
        # The trail must not undo anonymity: an anonymous proposer is never written in it.
        named.discard(topic.proposer_id)
    audit.record_many(current_user, "view", sorted(named), "topic history", topic.id)
    page = render_template(
        "agenda/_topic_history.html",
        topic=topic,
        row=row,
        events=events,
        group=topic.group,
        fully_anonymous=topic_rows.is_fully_anonymous(topic),
        may_hide=topics.can_hide(current_user, topic),
    )
    db.session.commit()
    return page


# The question box


@bp.get("/sessions/<int:session_id>/questions")
@signed_in
def question_box(session_id):
    """The session's question box: a phone page to drop a question for the group."""
    group_session = _session_or_404(session_id)
    return _question_box_page(group_session, QuestionForm(formdata=None))


@bp.post("/sessions/<int:session_id>/questions")
@signed_in
def drop_question(session_id):
    """Drop a question in the box (staff: type one in from a paper card)."""
    group_session = _session_or_404(session_id)
    form = QuestionForm()
    _, page = _submit(
        form,
        lambda: topic_changes.drop_question(group_session, form.text.data, current_user),
        lambda problem, status: _question_box_page(group_session, form, problem, status),
    )
    if page is not None:
        return page
    db.session.commit()
    if current_user.is_staff:
        flash("The question from the card is in the box.", "success")
    else:
        flash("Thank you. Your question is in the box.", "success")
    return redirect(url_for("agenda.question_box", session_id=session_id))


def _question_box_page(group_session, form, problem=None, status=None):
    group = group_session.group
    rows = topic_rows.open_questions(group_session, current_user)
    staff = current_user.is_staff
    audit.record_many(
        current_user,
        "view",
        sorted({r.named_patient_id for r in rows if r.named_patient_id}),
        "question box",
        group_session.id,
    )
    may_hide = staff and (
        can_curate_topics(current_user, group) or can_curate_agenda(current_user, group_session)
    )
    now = utcnow()
    page = render_template(
        "agenda/question_box.html",
        group=group,
        group_session=group_session,
        form=form,
        rows=rows,
        staff=staff,
        may_hide=may_hide,
        is_open=topics.question_box_is_open(group_session, now),
        is_over=now > group_session.ends_at,
        opens_at=topics.question_box_opens_at(group_session),
        problem=problem,
    )
    db.session.commit()
    return page, status or (422 if form.errors else 200)
