"""Forms of a group's topics and the question box.

Lengths are checked by :mod:`groupvisits.agenda.topic_changes` (after spaces are tidied and line
breaks counted once, as the browser counts them); the forms only ask for what is required.
"""

from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired

from groupvisits.agenda.models import ANONYMOUS, BY_NAME, DETAILS_MAX, TITLE_MAX
from groupvisits.agenda.topic_changes import REASON_MAX
from groupvisits.formutil import options

NEXT, ANY = "next", "any"


def anonymity_choices(*, shown_as: str, fully_anonymous: bool) -> list:
    """ "Show my name / Anonymous", each saying exactly who will see what.

    :param shown_as: how fellow members see the member ("Pat I.", or "A member" if they
        chose not to show their name in the group).
    """
    if shown_as == "A member":
        by_name = (
            "Show my name: members see “A member”, because you chose not to show your name "
            "in this group (you can change that on My groups). Staff see it was you."
        )
    else:
        by_name = f"Show my name: members see “{shown_as}”. Staff see it was you too."
    if fully_anonymous:
        anonymous = (
            "Anonymous: nobody sees it was you, not other members and not staff. "
            "It is not kept anywhere, so it cannot be found out later."
        )
    else:
        anonymous = (
            "Anonymous: other members do not see it was you; staff will still see it was you."
        )
    return options([(BY_NAME, by_name), (ANONYMOUS, anonymous)])


def when_choices(next_session_words: str | None) -> list:
    """For the next session (when one is planned), or any session."""
    pairs = [(ANY, "Any session: when the group has time for it")]
    if next_session_words:
        pairs.insert(0, (NEXT, f"The next session, {next_session_words}"))
    return options(pairs)


class ProposeForm(FlaskForm):
    """Put a topic forward: a short title, optional details, name or anonymous, when."""

    title = StringField(
        "Your topic, in a few words",
        validators=[DataRequired("Give your topic a short title.")],
        render_kw={"maxlength": TITLE_MAX, "autocomplete": "off"},
        description=f"Up to {TITLE_MAX} characters, e.g. “Eating well on a budget”.",
    )
    details = TextAreaField(
        "More about it (optional)",
        render_kw={"maxlength": DETAILS_MAX, "rows": 3},
        description=f"Up to {DETAILS_MAX} characters.",
    )
    #: Members only: staff topics always show the staff member's name.
    shown_as = RadioField(
        "Who sees that it was you",
        choices=options([(BY_NAME, "Show my name"), (ANONYMOUS, "Anonymous")]),
        default=ANONYMOUS,
        validators=[InputRequired("Choose whether members see your name.")],
    )
    when = RadioField(
        "For which session",
        choices=options([(NEXT, "The next session"), (ANY, "Any session")]),
        default=NEXT,
        validators=[InputRequired("Choose the next session or any session.")],
    )


class QuestionForm(FlaskForm):
    """One question for the question box."""

    text = TextAreaField(
        "Your question for the group",
        validators=[DataRequired("Write your question first.")],
        render_kw={"maxlength": DETAILS_MAX, "rows": 4},
    )


class HideForm(FlaskForm):
    """Hide a topic from members, with a reason that only staff see."""

    reason = StringField(
        "Why hide it (only staff see this)",
        validators=[DataRequired("Say why you hide it (members do not see the reason).")],
        render_kw={"maxlength": REASON_MAX},
    )


class UnhideForm(FlaskForm):
    """Show a hidden topic to members again; a reason is optional."""

    reason = StringField("Why show it again (optional)", render_kw={"maxlength": REASON_MAX})
