"""Who may call every route: an explicit table checked against the app's URL map."""

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Blueprint

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT

ANYONE = "anyone"
SIGNED_IN = "signed in"
STAFF = frozenset({COORDINATOR, CLINICIAN})
COORDINATORS = frozenset({COORDINATOR})
PATIENTS = frozenset({PATIENT})
CLINICIANS = frozenset({CLINICIAN})


@dataclass(frozen=True)
class Access:
    """Who may use an endpoint, and whether its URL names an object of one site."""

    who: str | frozenset
    of_site: bool = False
    #: Patients reach it only for groups they belong to (the test's patient belongs to none).
    members: bool = False
    #: A public route behind a secret token: a wrong token is refused with 400 or 404.
    token: bool = False


#: The access rules, written out by hand: a new route must be added here.
EXPECTED = {
    "accounts.login": Access(ANYONE),
    "accounts.logout": Access(SIGNED_IN),
    "accounts.accept_invitation": Access(ANYONE),
    "accounts.reset_password": Access(ANYONE),
    "accounts.forgot_password": Access(ANYONE),
    "accounts.change_password": Access(SIGNED_IN),
    "accounts.edit_profile": Access(PATIENTS),
    "dashboard.home": Access(ANYONE),
    "dashboard.health": Access(ANYONE),
    "people.list_people": Access(COORDINATORS),
    "people.find_people": Access(COORDINATORS),
    "people.new_person": Access(COORDINATORS),
    "people.show_person": Access(COORDINATORS, of_site=True),
    "people.edit_person": Access(COORDINATORS, of_site=True),
    "people.invite_person": Access(COORDINATORS, of_site=True),
    "people.set_person_active": Access(COORDINATORS, of_site=True),
    "sites.list_sites": Access(STAFF),
    "sites.new_site": Access(COORDINATORS),
    "sites.show_site": Access(STAFF, of_site=True),
    "sites.edit_site": Access(COORDINATORS, of_site=True),
    "sites.show_audit": Access(COORDINATORS, of_site=True),
    "groups.list_groups": Access(STAFF),
    "groups.new_group": Access(COORDINATORS),
    "groups.show_group": Access(SIGNED_IN, of_site=True, members=True),
    "groups.edit_group": Access(COORDINATORS, of_site=True),
    "groups.change_status": Access(COORDINATORS, of_site=True),
    "groups.edit_schedule": Access(COORDINATORS, of_site=True),
    "groups.edit_plan": Access(COORDINATORS, of_site=True),
    "schedule.show_session": Access(SIGNED_IN, of_site=True, members=True),
    "schedule.edit_session": Access(COORDINATORS, of_site=True),
    "schedule.cancel_session": Access(COORDINATORS, of_site=True),
    "schedule.restore_session": Access(COORDINATORS, of_site=True),
    "schedule.new_session": Access(COORDINATORS, of_site=True),
    "schedule.edit_session_plan": Access(COORDINATORS, of_site=True),
    "schedule.month_calendar": Access(STAFF, of_site=True),
    "schedule.session_ics": Access(SIGNED_IN, of_site=True, members=True),
    "schedule.my_calendar": Access(SIGNED_IN),
    "schedule.confirm_renew_feed": Access(SIGNED_IN),
    "schedule.confirm_revoke_feed": Access(SIGNED_IN),
    "schedule.renew_feed": Access(SIGNED_IN),
    "schedule.revoke_feed": Access(SIGNED_IN),
    "schedule.user_feed": Access(ANYONE, token=True),
    "schedule.group_feed": Access(ANYONE, of_site=True, token=True),
    "roster.show_roster": Access(STAFF, of_site=True),
    "roster.export_roster": Access(COORDINATORS, of_site=True),
    "roster.enrol": Access(COORDINATORS, of_site=True),
    "roster.find_to_enrol": Access(COORDINATORS, of_site=True),
    "roster.approve_request": Access(COORDINATORS, of_site=True),
    "roster.decline_request": Access(COORDINATORS, of_site=True),
    "roster.end_membership": Access(COORDINATORS, of_site=True),
    "roster.move_on_waitlist": Access(COORDINATORS, of_site=True),
    "roster.record_paper_agreement": Access(STAFF, of_site=True),
    "roster.agreement": Access(SIGNED_IN, of_site=True, members=True),
    "roster.publish_agreement": Access(COORDINATORS, of_site=True),
    "roster.membership_history": Access(STAFF, of_site=True),
    "roster.past_members": Access(STAFF, of_site=True),
    "roster.my_groups": Access(PATIENTS),
    "roster.my_sessions": Access(PATIENTS),
    "roster.rsvp": Access(PATIENTS, of_site=True, members=True),
    "roster.ask_to_join": Access(PATIENTS, of_site=True),
    "roster.withdraw": Access(PATIENTS, of_site=True, members=True),
    "roster.accept_offer": Access(PATIENTS, of_site=True, members=True),
    "roster.decline_offer": Access(PATIENTS, of_site=True, members=True),
    "roster.accept_offer_by_phone": Access(COORDINATORS, of_site=True),
    "roster.decline_offer_by_phone": Access(COORDINATORS, of_site=True),
    "roster.set_support_person": Access(PATIENTS, of_site=True, members=True),
    "roster.share_name": Access(PATIENTS, of_site=True, members=True),
    "roster.offer_to_mentor": Access(PATIENTS, of_site=True, members=True),
    "roster.stop_mentoring": Access(PATIENTS, of_site=True, members=True),
    "roster.accept_agreement": Access(PATIENTS, of_site=True, members=True),
    "roster.record_rsvp": Access(STAFF, of_site=True),
    "roster.show_attendance": Access(STAFF, of_site=True),
    "roster.add_drop_in": Access(STAFF, of_site=True),
    "roster.find_drop_in": Access(STAFF, of_site=True),
    "roster.sign_in_sheet": Access(STAFF, of_site=True),
    "roster.check_in_page": Access(STAFF, of_site=True),
    "roster.check_in": Access(STAFF, of_site=True),
    "roster.record_vitals": Access(STAFF, of_site=True),
    "roster.save_one_on_one": Access(STAFF, of_site=True),
    "team.show_staffing": Access(STAFF, of_site=True),
    "team.set_staffing_rule": Access(COORDINATORS, of_site=True),
    "team.remove_staffing_rule": Access(COORDINATORS, of_site=True),
    "team.add_core_member": Access(COORDINATORS, of_site=True),
    "team.remove_core_member": Access(COORDINATORS, of_site=True),
    "team.copy_core_team": Access(COORDINATORS, of_site=True),
    "team.assign_staff": Access(COORDINATORS, of_site=True),
    "team.unassign_staff": Access(COORDINATORS, of_site=True),
    "team.show_my_schedule": Access(CLINICIANS),
    "team.add_my_time_off": Access(CLINICIANS),
    "team.remove_my_time_off": Access(CLINICIANS),
    "team.show_coverage": Access(STAFF, of_site=True),
    "team.fill_gap": Access(COORDINATORS, of_site=True),
    # One-on-one slots and the planner
    "encounters.show_one_on_ones": Access(STAFF, of_site=True),
    "encounters.show_run_sheet": Access(STAFF, of_site=True),
    # Changed by the site's coordinators and the session's providers and preceptors (the
    # world's clinician is on no session's team, so is refused).
    "encounters.plan_one_on_ones": Access(COORDINATORS, of_site=True),
    "encounters.replan_one_on_ones": Access(COORDINATORS, of_site=True),
    "encounters.move_slot": Access(COORDINATORS, of_site=True),
    "encounters.swap_slots": Access(COORDINATORS, of_site=True),
    "encounters.mark_slot_seen": Access(COORDINATORS, of_site=True),
    "encounters.mark_slot_missed": Access(COORDINATORS, of_site=True),
    "encounters.set_provider_hours": Access(COORDINATORS, of_site=True),
    "encounters.set_visit_need": Access(COORDINATORS, of_site=True),
    # Encounter notes and attestation
    # Clinicians only; a note is read by its author, its preceptor and clinicians of its site
    # (others: 404), and changed only by its author or preceptor: the world's clinician posts
    # an empty form (422) or opens the started note of the world's slot (a redirect to it).
    "encounters.open_note": Access(CLINICIANS),
    "encounters.show_note": Access(CLINICIANS),
    "encounters.save_note": Access(CLINICIANS),
    "encounters.sign_note": Access(CLINICIANS),
    "encounters.add_addendum": Access(CLINICIANS),
    "encounters.resign_note": Access(CLINICIANS),
    "encounters.attest_note": Access(CLINICIANS),
    "encounters.return_note": Access(CLINICIANS),
    "encounters.show_attestations": Access(CLINICIANS),
    "encounters.show_my_encounters": Access(CLINICIANS),
    # Records: group notes, tracker, summaries, goals, logs
    "encounters.show_group_note": Access(STAFF, of_site=True),
    # Written by the session's facilitator (clinicians, but the world's clinician facilitates
    # nothing, so is refused) or a coordinator of the site.
    "encounters.save_group_note": Access(COORDINATORS, of_site=True),
    "encounters.sign_group_note": Access(COORDINATORS, of_site=True),
    "encounters.show_tracker": Access(STAFF, of_site=True),
    "encounters.show_patient_record": Access(CLINICIANS, of_site=True),
    "encounters.my_visits": Access(PATIENTS),
    "encounters.my_goals": Access(PATIENTS),
    # The world's goal is the target patient's: the patient actor gets a 404, as for any goal
    # not their own.
    "encounters.record_goal_progress": Access(PATIENTS, members=True),
    "encounters.my_encounter_log": Access(CLINICIANS),
    "encounters.export_encounter_log": Access(CLINICIANS),
    # Agenda: topics, votes, the question box
    # Seen and added to by the group's active members and the site's staff (others: 404);
    # votes are members' only; hiding by who curates the group's topics (the world's
    # clinician curates nothing, so is refused); history for the site's staff. A topic
    # belongs to one site through its group: staff of another site get a 404.
    "agenda.show_topics": Access(SIGNED_IN, of_site=True, members=True),
    "agenda.propose_topic": Access(SIGNED_IN, of_site=True, members=True),
    "agenda.vote_topic": Access(PATIENTS, of_site=True, members=True),
    "agenda.unvote_topic": Access(PATIENTS, of_site=True, members=True),
    "agenda.hide_topic": Access(COORDINATORS, of_site=True),
    "agenda.unhide_topic": Access(COORDINATORS, of_site=True),
    "agenda.topic_history": Access(STAFF, of_site=True),
    "agenda.question_box": Access(SIGNED_IN, of_site=True, members=True),
    "agenda.drop_question": Access(SIGNED_IN, of_site=True, members=True),
    # Agenda: a session's agenda, publishing, outcomes, history
    # Read by the group's active members and the site's staff; changed by the session's
    # facilitator (the world's clinician facilitates nothing, so is refused) or a coordinator.
    # Items and topics belong to one site: staff of another site get a 404.
    "agenda.show_session_agenda": Access(SIGNED_IN, of_site=True, members=True),
    "agenda.talked_about": Access(SIGNED_IN, of_site=True, members=True),
    "agenda.add_agenda_item": Access(COORDINATORS, of_site=True),
    "agenda.publish_agenda": Access(COORDINATORS, of_site=True),
    "agenda.set_item_minutes": Access(COORDINATORS, of_site=True),
    "agenda.move_agenda_item": Access(COORDINATORS, of_site=True),
    "agenda.remove_agenda_item": Access(COORDINATORS, of_site=True),
    "agenda.mark_item_discussed": Access(COORDINATORS, of_site=True),
    "agenda.carry_item_over": Access(COORDINATORS, of_site=True),
    "agenda.merge_topic": Access(COORDINATORS, of_site=True),
    "agenda.decline_topic": Access(COORDINATORS, of_site=True),
    "agenda.keep_topic": Access(COORDINATORS, of_site=True),
}

ACTORS = ["anonymous", "coordinator", "clinician", "patient", "other_site_coordinator"]


def expected_outcome(access: Access, actor: str, role: str | None) -> str:
    """What ``actor`` should get: "allowed", "login", "403", "404" or "bad token"."""
    if access.token:
        return "bad token"
    if access.who == ANYONE:
        return "allowed"
    if actor == "anonymous":
        return "login"
    if access.who != SIGNED_IN and role not in access.who:
        return "403"
    if actor == "other_site_coordinator" and access.of_site:
        return "404"
    if role == PATIENT and access.members:
        return "404"
    return "allowed"


def is_login_redirect(response) -> bool:
    if response.status_code != 302:
        return False
    location = urlsplit(response.headers["Location"])
    return location.path == "/login" and "next" in parse_qs(location.query)


def outcome_matches(expected: str, response) -> bool:
    status = response.status_code
    if expected == "login":
        return is_login_redirect(response)
    if expected in ("403", "404"):
        return status == int(expected)
    if expected == "bad token":
        return status in (400, 404)
    return status < 500 and status not in (401, 403, 404, 405) and not is_login_redirect(response)


@pytest.fixture
def world(site, other_site, create_user, create_group):
    """People at ``site``, a group there with a session, and a coordinator of ``other_site``."""
    group = create_group(site)
    return {
        "coordinator": create_user(COORDINATOR, sites=[site]),
        "clinician": create_user(CLINICIAN, sites=[site]),
        "patient": create_user(PATIENT, sites=[site]),
        "other_site_coordinator": create_user(COORDINATOR, sites=[other_site]),
        "target_patient": (target := create_user(PATIENT, sites=[site])),
        "group": group,
        "group_session": create_group_session_for(group),
        "membership": create_membership_for(group, target),
    } | create_encounter_rows(group, target, site, create_user)


def create_encounter_rows(group, patient, site, create_user):
    """A slot, a draft note and a goal of ``patient`` at the group's next session, written
    by a clinician who is not among the actors (so that no actor is its author)."""
    from datetime import timedelta

    from groupvisits.encounters.models import EncounterNote, OneOnOneSlot, PatientGoal
    from groupvisits.extensions import db

    group_session = create_group_session_for(group)
    author = create_user(CLINICIAN, sites=[site])
    start = group_session.starts_at + timedelta(minutes=60)
    slot = OneOnOneSlot(
        session_id=group_session.id,
        patient_id=patient.id,
        provider_id=author.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=10),
    )
    db.session.add(slot)
    db.session.flush()
    note = EncounterNote(
        session_id=group_session.id, patient_id=patient.id, author_id=author.id, slot_id=slot.id
    )
    db.session.add(note)
    db.session.flush()
    goal = PatientGoal(patient_id=patient.id, group_id=group.id, note_id=note.id, text="Walk")
    db.session.add(goal)
    from groupvisits.agenda.models import AgendaItem, AgendaTopic

    topic = AgendaTopic(group_id=group.id, title="Eating out", proposer_id=patient.id)
    db.session.add(topic)
    db.session.flush()
    item = AgendaItem(session_id=group_session.id, topic_id=topic.id, minutes=10)
    db.session.add(item)
    db.session.commit()
    return {"slot": slot, "note": note, "goal": goal, "topic": topic, "item": item}


def create_membership_for(group, patient):
    from groupvisits.extensions import db
    from groupvisits.roster import services as roster

    membership = roster.enrol(group, patient, actor=None)
    db.session.commit()
    return membership


def create_group_session_for(group):
    from groupvisits.schedule import services as schedule

    return schedule.next_sessions([group.id], schedule.utcnow())[group.id]


def url_for_rule(rule, site, target_patient, world=None) -> str:
    values = {}
    for argument in rule.arguments:
        if argument == "group_id":
            values[argument] = world["group"].id
        elif argument == "session_id":
            values[argument] = world["group_session"].id
        elif argument == "membership_id":
            values[argument] = world["membership"].id
        elif argument in ("slot_id", "note_id", "goal_id", "topic_id", "item_id"):
            values[argument] = world[argument.removesuffix("_id")].id
        elif argument == "user_id":
            values[argument] = target_patient.id
        elif argument == "site_id":
            values[argument] = site.id
        elif argument == "token":
            values[argument] = "not-a-real-token"
        else:
            raise AssertionError(f"no test value for <{argument}> in {rule.rule}")
    return rule.build(values, append_unknown=False)[1]


def endpoints_in_url_map(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}


def test_table_covers_exactly_the_routes_of_the_app(app):
    endpoints = endpoints_in_url_map(app)
    assert endpoints - EXPECTED.keys() == set(), "routes without an expected access rule"
    assert EXPECTED.keys() - endpoints == set(), "expected rules for routes that do not exist"


def test_object_routes_are_exactly_those_with_an_id_in_the_url(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        ids = {"user_id", "site_id", "group_id", "session_id", "membership_id"}
        ids |= {"topic_id", "item_id"}
        has_id = bool(ids & rule.arguments)
        assert EXPECTED[rule.endpoint].of_site == has_id, rule.endpoint


@pytest.mark.parametrize("actor", ACTORS)
def test_every_route_answers_each_actor_as_the_table_says(app, world, site, sign_in_as, actor):
    user = world.get(actor)
    mismatches = []
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        access = EXPECTED[rule.endpoint]
        url = url_for_rule(rule, site, world["target_patient"], world)
        for method in sorted({"GET", "POST"} & rule.methods):
            # A fresh sign-in per request: logout and links sent by mail end it.
            client = app.test_client() if user is None else sign_in_as(user)
            if method == "GET":
                response = client.get(url)
            else:
                response = client.post_form(url, {})
            expected = expected_outcome(access, actor, user.role if user else None)
            checked += 1
            if not outcome_matches(expected, response):
                mismatches.append(
                    f"{method} {url} ({rule.endpoint}): expected {expected}, "
                    f"got {response.status_code} {response.headers.get('Location', '')}"
                )
    assert checked >= len(EXPECTED)
    assert not mismatches, "\n".join(mismatches)


@pytest.fixture
def app_with_undeclared_view(app):
    """The app with one extra route that declares no access rule (added before any request)."""
    extra = Blueprint("undeclared", __name__)

    @extra.get("/undeclared")
    def undeclared():
        return "secret page"

    @extra.post("/undeclared")
    def undeclared_post():
        return "secret change"

    app.register_blueprint(extra)
    return app


def test_view_without_access_rule_is_refused_to_anonymous(app_with_undeclared_view):
    client = app_with_undeclared_view.test_client()
    response = client.get("/undeclared")
    assert response.status_code == 403
    assert "secret page" not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", [COORDINATOR, CLINICIAN, PATIENT])
def test_view_without_access_rule_is_refused_even_when_signed_in(
    app_with_undeclared_view, create_user, sign_in_as, role
):
    client = sign_in_as(create_user(role))
    get = client.get("/undeclared")
    post = client.post_form("/undeclared", {})
    assert get.status_code == 403
    assert "secret page" not in get.get_data(as_text=True)
    assert post.status_code == 403
    assert "secret change" not in post.get_data(as_text=True)
    assert client.get("/account/password").status_code == 200  # still signed in


def test_a_new_route_without_a_table_entry_is_noticed(app_with_undeclared_view):
    missing = endpoints_in_url_map(app_with_undeclared_view) - EXPECTED.keys()
    assert missing == {"undeclared.undeclared", "undeclared.undeclared_post"}
