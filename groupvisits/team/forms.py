"""Forms for a group's staffing template and core team, and for one session's team."""

from itertools import groupby
from operator import itemgetter

from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import IntegerField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, NumberRange
from wtforms.widgets import CheckboxInput, Select, html_params

from groupvisits.accounts.forms import MultiCheckboxField
from groupvisits.accounts.models import DISCIPLINES
from groupvisits.formutil import an_id, options
from groupvisits.team.models import TEAM_ROLES
from groupvisits.team.people import Person

ROLE_CHOICES = options(TEAM_ROLES.items())


class PlainSelect(Select):
    """WTForms' select, written out directly when each choice is a plain value and label:
    the team forms list every person of a clinic, and WTForms builds and renders each option
    generically. The HTML is WTForms' own."""

    def __call__(self, field, **kwargs):
        groups = _plain_groups(field.choices)
        if groups is None or self.multiple:
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        for name in self.validation_attrs:
            if name not in kwargs and getattr(field.flags, name):
                kwargs[name] = getattr(field.flags, name)
        html = [f"<select {html_params(name=field.name, **kwargs)}>"]
        for optgroup, pairs in groups:
            if optgroup is not None:
                html.append(f'<optgroup label="{escape(optgroup)}">')
            for value, label in pairs:
                selected = "selected " if field.coerce(value) == field.data else ""
                html.append(f'<option {selected}value="{escape(value)}">{escape(label)}</option>')
            if optgroup is not None:
                html.append("</optgroup>")
        html.append("</select>")
        return Markup("".join(html))


def _plain_groups(choices) -> list[tuple[str | None, list[tuple]]] | None:
    """``choices`` as runs of (optgroup, [(value, label)]), as WTForms groups them; None
    unless each is a ``SelectChoice`` without attributes of its own (or a legacy pair) and
    no value is one WTForms writes differently (True, say)."""
    if isinstance(choices, dict):  # the legacy form: {optgroup: [choice, ...]}
        items = [(optgroup, choice) for optgroup, group in choices.items() for choice in group]
    else:
        items = [(None, choice) for choice in choices or ()]
    flat = []
    for optgroup, choice in items:
        if isinstance(choice, SelectChoice):
            if choice.render_kw:
                return None
            optgroup, choice = optgroup or choice.optgroup, (choice.value, choice.label)
        if not (isinstance(choice, tuple) and len(choice) == 2 and choice[1]):
            return None
        if isinstance(choice[0], bool):
            return None
        flat.append((optgroup, choice))
    return [
        (optgroup, [choice for _, choice in run])
        for optgroup, run in groupby(flat, key=itemgetter(0))
    ]


class PlainCheckbox(CheckboxInput):
    """WTForms' checkbox written out directly, for a list of many (the same HTML)."""

    def __call__(self, field, **kwargs):
        flags = field.flags
        if kwargs or any(getattr(flags, name) for name in self.validation_attrs):
            return super().__call__(field, **kwargs)
        checked = "checked " if getattr(field, "checked", field.data) else ""
        return Markup(
            f'<input {checked}id="{escape(field.id)}" name="{escape(field.name)}" '
            f'type="checkbox" value="{escape(field._value())}">'
        )


def person_choices(staff: list[Person], members: list[Person]) -> list[SelectChoice]:
    """The person select, in two groups: the clinic's staff, then members (peer mentors)."""
    staff_group = "Staff of this clinic"
    choices = [
        SelectChoice(
            user.id,
            f"{user.full_name}, {user.discipline_label or user.role_label}",
            optgroup=staff_group,
        )
        for user in staff
    ]
    members_group = "Members of this group (peer mentor only)"
    choices += [SelectChoice(user.id, user.full_name, optgroup=members_group) for user in members]
    return choices


class StaffingRuleForm(FlaskForm):
    """One role of the staffing template: how many people, of which disciplines."""

    role = SelectField(
        "Role", choices=ROLE_CHOICES, validators=[DataRequired()], widget=PlainSelect()
    )
    count = IntegerField(
        "People needed", default=1, validators=[InputRequired(), NumberRange(min=1, max=20)]
    )
    disciplines = MultiCheckboxField(
        "Allowed disciplines",
        option_widget=PlainCheckbox(),
        choices=options(DISCIPLINES.items()),
        description="Leave all unticked to allow any discipline.",
    )
    submit = SubmitField("Save role")


class RemoveRuleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])


class TeamMemberForm(FlaskForm):
    """A person and a role: for the core team, or for one session's team."""

    user_id = SelectField(
        "Person",
        coerce=int,
        validate_choice=False,
        validators=[DataRequired("Choose a person.")],
        widget=PlainSelect(),
    )
    role = SelectField(
        "Role", choices=ROLE_CHOICES, validators=[DataRequired()], widget=PlainSelect()
    )
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
