"""Routes of a session's agenda: the facilitator's page (topics to add, the time-boxed agenda,
merge, decline, keep, publish, outcomes), members' view of it, and "What we talked about"."""

from dataclasses import dataclass

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from groupvisits import audit
from groupvisits.agenda import agenda_building, agenda_outcomes, agenda_rules, bp, sessions
from groupvisits.agenda.agenda_forms import (
    AddToAgendaForm,
    DeclineForm,
    DiscussedForm,
    MergeForm,
    PositionForm,
    ReturnForm,
    TimeBoxForm,
)
from groupvisits.agenda.models import PLANNED, AgendaItem, AgendaTopic
from groupvisits.errors import Conflict, ValidationFailed, render_error
from groupvisits.extensions import db
from groupvisits.formutil import MAX_ID, page_count, page_number
from groupvisits.localtime import day
from groupvisits.messages import flash
from groupvisits.permissions import (
    STAFF,
    can_curate_agenda,
    can_curate_topics,
    can_take_part_in_agenda,
    get_group_or_404,
    get_session_or_404,
    roles,
    signed_in,
)
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow


@dataclass
class Failed:
    """A form that came back with a problem, and the entry of the page it belongs to."""

    kind: str  # "add", "minutes", "position", "merge", "decline", "discussed"
    row_id: int | None
    form: object

    def is_for(self, kind: str, row_id: int) -> bool:
        return self.kind == kind and self.row_id == row_id


# Loaders: the object, and the reader's right to see it (404 otherwise).


def _agenda_session_or_404(session_id: int) -> GroupSession:
    """A session whose agenda the current user may read: its group's active members and the
    site's staff. Former, waitlisted and other groups' members get a 404."""
    group_session = get_session_or_404(session_id)
    if not can_take_part_in_agenda(current_user, group_session.group):
        abort(404)
    return group_session


def _item_or_404(item_id: int) -> AgendaItem:
    item = db.session.get(AgendaItem, item_id)
    if item is None:
        abort(404)
    _agenda_session_or_404(item.session_id)
    return item


def _topic_or_404(topic_id: int) -> AgendaTopic:
    topic = db.session.get(AgendaTopic, topic_id)
    if topic is None or not can_take_part_in_agenda(current_user, get_group_or_404(topic.group_id)):
        abort(404)
    return topic


# Pages


@bp.get("/sessions/<int:session_id>/agenda")
@signed_in
def show_session_agenda(session_id):
    """The session's agenda: the facilitator's page for staff, the published agenda for members."""
    return _agenda_page(_agenda_session_or_404(session_id))


@bp.get("/groups/<int:group_id>/talked-about")
@signed_in
def talked_about(group_id):
    """What we talked about: each session's discussed topics and summaries, newest first, a
    page of sessions at a time."""
    group = get_group_or_404(group_id)
    if not can_take_part_in_agenda(current_user, group):
        abort(404)
    number = page_number(request.args.get("page", 1, type=int))
    if number is None:
        abort(404)
    history = sessions.talked_about(group, page=number)
    if not history.talks and number > 1:
        abort(404)
    page = render_template(
        "agenda/talked_about.html",
        group=group,
        history=history.talks,
        total=history.total,
        page=number,
        pages=page_count(history.total, sessions.TALKED_PAGE),
    )
    db.session.commit()
    return page


def _agenda_page(group_session: GroupSession, *, problem=None, failed=None, status=200):
    """The agenda page; staff see the curation tools (to change it if they curate)."""
    group = group_session.group
    context = {"group_session": group_session, "group": group, "problem": problem}
    if not current_user.is_staff:
        page = render_template(
            "agenda/session_agenda.html",
            staff_view=False,
            member_agenda=sessions.member_agenda(group_session),
            **context,
        )
        db.session.commit()
        return page, status
    candidates = sessions.candidates(group_session)
    # Staff see who put a topic forward by name; an anonymous topic names nobody.
    named = [
        (c.topic.proposer_id, c.topic.id)
        for c in candidates
        if c.topic.proposer_id and not c.topic.is_anonymous and not c.topic.proposed_by_staff
    ]
    audit.record_each(current_user, "view", "agenda topic", named)
    entries = sessions.agenda_of(group_session)
    page = render_template(
        "agenda/session_agenda.html",
        staff_view=True,
        entries=entries,
        budget=sessions.budget(group_session),
        candidates=candidates,
        # Topics a duplicate may merge into: the open ones and those planned on this agenda.
        merge_targets=[c.topic for c in candidates]
        + [e.topic for e in entries if e.item.outcome == PLANNED],
        questions=sessions.questions_of(group_session),
        may_curate=not group_session.is_cancelled
        and can_curate_agenda(current_user, group_session),
        may_curate_topics=can_curate_topics(current_user, group),
        publish_due_at=sessions.publish_due_at(group_session),
        started=utcnow() >= group_session.starts_at,
        failed=failed,
        PLANNED=PLANNED,
        **context,
    )
    db.session.commit()  # after rendering: a commit expires the rows the page shows
    return page, status


def _first_error(form) -> str:
    for name, errors in form.errors.items():
        if errors:
            return "Your form expired. Please try again." if name == "csrf_token" else errors[0]
    return "Please check what you entered."


def _change(group_session, form, change, *, failed: Failed, anchor: str = ""):
    """Validate ``form``, run ``change`` (it returns the message to show), commit, redirect;
    or show the agenda page again with the problem and a 4xx, nothing saved."""
    if not form.validate_on_submit():
        return _agenda_page(group_session, problem=_first_error(form), failed=failed, status=422)
    try:
        message = change()
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        if isinstance(exc, ValidationFailed) and exc.field and exc.field in form:
            form[exc.field].errors = [*form[exc.field].errors, str(exc)]
        return _agenda_page(group_session, problem=str(exc), failed=failed, status=exc.status_code)
    db.session.commit()
    flash(message, "success")
    target = url_for("agenda.show_session_agenda", session_id=group_session.id)
    return redirect(f"{target}#{anchor}" if anchor else target)


# Building the agenda


@bp.post("/sessions/<int:session_id>/agenda/items")
@roles(*STAFF)
def add_agenda_item(session_id):
    """Put a topic on the agenda with its time box."""
    group_session = _agenda_session_or_404(session_id)
    agenda_rules.check_curator(current_user, group_session)
    form = AddToAgendaForm()

    def change():
        topic = db.session.get(AgendaTopic, form.topic_id.data)
        if topic is None:
            raise ValidationFailed("That topic does not exist.", field="topic_id")
        agenda_building.accept(
            group_session, topic, form.minutes.data, form.position.data, actor=current_user
        )
        return f"“{topic.title}” is on the agenda, {form.minutes.data} minutes."

    return _change(
        group_session, form, change, failed=Failed("add", form.topic_id.data, form), anchor="agenda"
    )


def _item_change(item_id: int, form_class, kind: str, change, *, anchor: str = ""):
    """A curator's change to one item of an agenda: ``change(item, form)`` makes it and
    returns the message to show (see :func:`_change`); back to the item on the agenda page,
    or to ``anchor``."""
    item = _item_or_404(item_id)
    agenda_rules.check_curator(current_user, item.group_session)
    form = form_class()
    return _change(
        item.group_session,
        form,
        lambda: change(item, form),
        failed=Failed(kind, item_id, form),
        anchor=anchor or f"item-{item_id}",
    )


@bp.post("/agenda-items/<int:item_id>/minutes")
@roles(*STAFF)
def set_item_minutes(item_id):
    """Change a planned item's time box."""

    def change(item, form):
        agenda_building.set_time_box(item, form.minutes.data, actor=current_user)
        return f"“{item.topic.title}” now has {form.minutes.data} minutes."

    return _item_change(item_id, TimeBoxForm, "minutes", change)


@bp.post("/agenda-items/<int:item_id>/position")
@roles(*STAFF)
def move_agenda_item(item_id):
    """Move an item up or down the agenda."""

    def change(item, form):
        agenda_building.reorder(item, form.position.data, actor=current_user)
        return f"“{item.topic.title}” is now number {item.position} on the agenda."

    return _item_change(item_id, PositionForm, "position", change)


@bp.post("/sessions/<int:session_id>/agenda/publish")
@roles(*STAFF)
def publish_agenda(session_id):
    """Publish the agenda: members see it on their session page from now on."""
    group_session = _agenda_session_or_404(session_id)
    agenda_rules.check_curator(current_user, group_session)
    form = ReturnForm()

    def change():
        if agenda_building.publish(group_session, actor=current_user):
            return "The agenda is published: members see it on their session page."
        return "The agenda was already published."

    return _change(group_session, form, change, failed=Failed("publish", None, form))


# During and after the session


@bp.post("/agenda-items/<int:item_id>/discussed")
@roles(*STAFF)
def mark_item_discussed(item_id):
    """Record that the group talked about a topic, with a short summary for members."""

    def change(item, form):
        agenda_outcomes.mark_discussed(
            item, form.summary.data or "", form.links.data or "", actor=current_user
        )
        return f"“{item.topic.title}” is marked talked about."

    return _item_change(item_id, DiscussedForm, "discussed", change)


@bp.post("/agenda-items/<int:item_id>/carry-over")
@roles(*STAFF)
def carry_item_over(item_id):
    """Carry a topic the group had no time for over to its next session."""

    def change(item, form):
        later = agenda_outcomes.carry_over(item, actor=current_user)
        when = day(later.starts_at, later.group.site)
        return f"“{item.topic.title}” goes on to the session of {when}, open for votes."

    return _item_change(item_id, ReturnForm, "carry", change, anchor="agenda")


@bp.post("/agenda-items/<int:item_id>/remove")
@roles(*STAFF)
def remove_agenda_item(item_id):
    """Take a planned topic off the agenda (it is open for votes again)."""

    def change(item, form):
        topic = agenda_building.remove_item(item, actor=current_user)
        return f"“{topic.title}” is off the agenda and open for votes again."

    return _item_change(item_id, ReturnForm, "remove", change, anchor="agenda")


# Curating the group's topics


def _topic_change(topic_id: int, form_class, change, kind: str):
    """A change to one topic, from the agenda page of ``session_id`` (posted) if it is one of
    the topic's group; the error page otherwise."""
    topic = _topic_or_404(topic_id)
    agenda_rules.check_topic_curator(current_user, topic)
    form = form_class()
    back = None
    if isinstance(form.session_id.data, int) and 0 < form.session_id.data <= MAX_ID:
        back = db.session.get(GroupSession, form.session_id.data)
        if back is not None and back.group_id != topic.group_id:
            back = None
    if back is not None:
        return _change(
            back,
            form,
            lambda: change(topic, form),
            failed=Failed(kind, topic_id, form),
            anchor="topics",
        )
    if not form.validate_on_submit():
        return render_error(422, _first_error(form))
    try:
        message = change(topic, form)
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        return render_error(exc.status_code, str(exc))
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("groups.show_group", group_id=topic.group_id))


@bp.post("/topics/<int:topic_id>/merge")
@roles(*STAFF)
def merge_topic(topic_id):
    """Merge a duplicate topic into another: votes carry over, each voter counted once."""

    def change(topic, form):
        into = db.session.get(AgendaTopic, form.into.data)
        if into is None:
            raise ValidationFailed("Choose the topic to merge this one into.", field="into")
        moved = agenda_building.merge(topic, into, actor=current_user)
        votes = "1 vote" if moved == 1 else f"{moved} votes"
        return f"“{topic.title}” is merged into “{into.title}” ({votes} carried over)."

    return _topic_change(topic_id, MergeForm, change, "merge")


@bp.post("/topics/<int:topic_id>/decline")
@roles(*STAFF)
def decline_topic(topic_id):
    """Decline a topic with a kind reason members read."""

    def change(topic, form):
        agenda_building.decline(topic, form.reason.data, actor=current_user)
        return f"“{topic.title}” is declined; members see your reason."

    return _topic_change(topic_id, DeclineForm, change, "decline")


@bp.post("/topics/<int:topic_id>/keep")
@roles(*STAFF)
def keep_topic(topic_id):
    """Keep a topic for a later session."""

    def change(topic, form):
        agenda_building.keep_for_later(topic, actor=current_user)
        return f"“{topic.title}” is kept for later."

    return _topic_change(topic_id, ReturnForm, change, "keep")
