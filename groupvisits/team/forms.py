"""Forms for a group's staffing template and core team, and for one session's team."""

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, SubmitField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from groupvisits.accounts.forms import MultiCheckboxField
from groupvisits.accounts.models import DISCIPLINES, User
from groupvisits.formutil import an_id, options
from groupvisits.team.models import TEAM_ROLES

ROLE_CHOICES = options(TEAM_ROLES.items())


def person_choices(staff: list[User], members: list[User]) -> dict[str, list[tuple[int, str]]]:
    """The person select, in two groups: the clinic's staff, then members (peer mentors)."""
    choices = {
        "Staff of this clinic": [
            (user.id, f"{user.full_name}, {user.discipline_label or user.role_label}")
            for user in staff
        ]
    }
    if members:
        choices["Members of this group (peer mentor only)"] = [
            (user.id, user.full_name) for user in members
        ]
    return choices


class StaffingRuleForm(FlaskForm):
    """One role of the staffing template: how many people, of which disciplines."""

    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])
    count = IntegerField(
        "People needed", default=1, validators=[InputRequired(), NumberRange(min=1, max=20)]
    )
    disciplines = MultiCheckboxField(
        "Allowed disciplines",
        choices=options(DISCIPLINES.items()),
        description="Leave all unticked to allow any discipline.",
    )
    submit = SubmitField("Save role")


class RemoveRuleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])


class TeamMemberForm(FlaskForm):
    """A person and a role: for the core team, or for one session's team."""

    user_id = SelectField(
        "Person", coerce=int, validate_choice=False, validators=[DataRequired("Choose a person.")]
    )
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])
    submit = SubmitField("Add")


class FillGapForm(FlaskForm):
    """A role a session needs and the person who takes it (the coverage page)."""

    session_id = IntegerField(validators=[InputRequired(), an_id()])
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])
    user_id = IntegerField(
        "Person", validators=[InputRequired("Choose a person."), an_id("Choose a person.")]
    )


class RemoveByIdForm(FlaskForm):
    """Names the row to remove (a core team member or an assignment) by its id."""

    row_id = IntegerField(validators=[InputRequired(), an_id()])
