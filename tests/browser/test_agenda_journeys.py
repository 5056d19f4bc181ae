"""Journeys through a real Chromium about the patients' agenda: topics, votes, the session's
time-boxed agenda and the question box.

A member on a phone puts a topic forward anonymously and votes for a fellow member's; the
session's facilitator builds the agenda from the most-voted topics within the minutes of the
group conversation and publishes it, and members read it on their session page; during the
session a member drops a question in the question box and the facilitator finds it on the
agenda page.
"""

import re
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from groupvisits.accounts.models import CLINICIAN, PATIENT, User
from groupvisits.agenda import topic_changes, topics
from groupvisits.agenda.models import AgendaTopic
from groupvisits.groups.models import VisitGroup
from groupvisits.roster import services as roster
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.team import services as team
from groupvisits.team.models import FACILITATOR
from groupvisits.timeutil import utcnow

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
MEMBERS = [("Pat", "Ingram"), ("Omar", "Quist"), ("Rosa", "Lind"), ("Tomas", "Berg")]


@dataclass
class AgendaClinic:
    """A group with one session (45 minutes of group conversation), its facilitator and four
    active members who share their names with the group."""

    group: VisitGroup
    group_session: GroupSession
    facilitator: User
    members: list[User]
    coordinator: User


@pytest.fixture
def make_clinic(db, site, create_group, create_user, coordinator):
    """``make_clinic(starts_in)``: the group and its one session, starting ``starts_in`` from
    now (the group's default plan: arrival, 45 minutes of group conversation, meal, visits)."""

    def make(starts_in: timedelta) -> AgendaClinic:
        group = create_group(site, rule=None, name="Thursday diabetes group", length_minutes=120)
        local = (utcnow() + starts_in).astimezone(ZoneInfo(site.timezone))
        group_session = schedule.add_extra_session(
            group,
            local_start=local.replace(second=0, microsecond=0, tzinfo=None),
            length_minutes=120,
            actor=coordinator,
        )
        facilitator = create_user(CLINICIAN, given_name="Fay", family_name="Cilitator")
        team.assign_staff(group_session, facilitator, FACILITATOR, actor=coordinator)
        members = []
        for given, family in MEMBERS:
            member = create_user(PATIENT, given_name=given, family_name=family)
            membership = roster.enrol(group, member, actor=coordinator)
            roster.set_share_name(membership, True, actor=member)
            members.append(member)
        db.session.commit()
        return AgendaClinic(group, group_session, facilitator, members, coordinator)

    return make


def _propose(db, clinic: AgendaClinic, title: str, proposer: User, voters=()) -> AgendaTopic:
    """A member's topic, by name, for the next session, and its votes (through the services)."""
    topic = topic_changes.propose(
        clinic.group, title=title, for_next_session=True, actor=proposer, anonymous=False
    )
    for voter in voters:
        topic_changes.vote(topic, voter)
    db.session.commit()
    return topic


def _flash(page):
    return page.locator(".flashes")


def _nav(page, name: str) -> None:
    """Follow a link of the main navigation."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def test_a_member_on_a_phone_puts_a_topic_forward_anonymously_and_votes(
    new_page, axe_check, sign_in_page, make_clinic, db
):
    clinic = make_clinic(timedelta(days=7))
    pat, omar, rosa, _ = clinic.members
    eating_out = _propose(db, clinic, "Eating out on a budget", omar, voters=[rosa])
    group_id = clinic.group.id
    page = new_page(**PHONE)

    sign_in_page(page, pat)
    _nav(page, "My groups")
    expect(page.get_by_role("heading", level=1)).to_have_text("My groups")
    axe_check(page)

    page.get_by_role("link", name="Topics for the group", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/groups/{group_id}/topics$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Topics for the group")
    # The form says who will see what, for each choice.
    choice = page.get_by_role("group", name="Who sees that it was you")
    expect(choice.get_by_label(re.compile(r"^Show my name"))).to_have_accessible_name(
        "Show my name: members see “Pat I.”. Staff see it was you too."
    )
    anonymous = choice.get_by_label(re.compile(r"^Anonymous"))
    expect(anonymous).to_have_accessible_name(
        "Anonymous: other members do not see it was you; staff will still see it was you."
    )
    axe_check(page)

    page.get_by_label("Your topic, in a few words").fill("Sleep and blood sugar")
    anonymous.check()
    page.get_by_role("button", name="Put my topic forward").click()
    expect(_flash(page)).to_have_text(
        "Thank you. Your topic is on the list for members to vote on."
    )
    expect(page).to_have_url(re.compile(r"sort=new#topic-\d+$"))
    mine = page.locator("li.topic").filter(
        has=page.get_by_role("heading", name="Sleep and blood sugar", exact=True)
    )
    expect(mine).to_contain_text("From: You (members see “Anonymous”)")
    html = mine.inner_html()
    for name in (pat.group_name, pat.full_name, pat.family_name):
        assert name not in html, name
    axe_check(page)

    page.get_by_role("button", name=re.compile(r"^Vote\W+for\W+Eating out on a budget\W*$")).click()
    expect(_flash(page)).to_have_text("Your vote is counted.")
    theirs = page.locator(f"#topic-{eating_out.id}")
    expect(theirs.locator(".topic__count")).to_have_text("2")
    expect(theirs).to_contain_text("2 votes.")
    expect(theirs).to_contain_text("Your vote")
    expect(theirs).to_contain_text("From: Omar Q.")
    expect(
        theirs.get_by_role("button", name=re.compile(r"^Take my vote back\W+from\W+Eating out"))
    ).to_be_visible()
    axe_check(page)

    # A fellow member sees the topic as anonymous, and Pat's name nowhere on the page.
    other = new_page(**PHONE)
    sign_in_page(other, rosa)
    other.goto(f"/groups/{group_id}/topics")
    theirs_too = other.locator("li.topic").filter(
        has=other.get_by_role("heading", name="Sleep and blood sugar", exact=True)
    )
    expect(theirs_too).to_contain_text("From: Anonymous")
    content = other.content()
    for name in (pat.group_name, pat.full_name, pat.family_name):
        assert name not in content, name


def test_the_facilitator_builds_the_agenda_within_the_time_and_members_read_it(
    new_page, axe_check, sign_in_page, make_clinic, db
):
    clinic = make_clinic(timedelta(days=7))
    pat, omar, rosa, tomas = clinic.members
    _propose(db, clinic, "Foot care", tomas, voters=[pat])
    eating_out = _propose(db, clinic, "Eating out on a budget", omar, voters=[pat, rosa, tomas])
    sleep = _propose(db, clinic, "Sleep and blood sugar", rosa, voters=[pat, omar])
    foot_care = db.session.query(AgendaTopic).filter_by(title="Foot care").one()
    session_id = clinic.group_session.id
    page = new_page(**DESKTOP)

    sign_in_page(page, clinic.facilitator)
    page.goto(f"/sessions/{session_id}")
    page.get_by_role("navigation", name="This session's work").get_by_role(
        "link", name="Agenda", exact=True
    ).click()
    expect(page).to_have_url(re.compile(rf"/sessions/{session_id}/agenda$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Agenda")
    budget = page.locator("#budget")
    expect(budget.locator(".budget__left")).to_have_text("45 minutes left")
    expect(budget).to_contain_text("of 45 minutes of group conversation")
    expect(page.locator(".topic-card__title")).to_have_text(
        ["Eating out on a budget", "Sleep and blood sugar", "Foot care"]
    )
    expect(page.locator("#publish")).to_contain_text("Not published")
    axe_check(page)

    for topic, minutes, left in ((eating_out, 20, 25), (sleep, 15, 10)):
        card = page.locator(f"#topic-{topic.id}")
        card.get_by_label("Minutes", exact=True).fill(str(minutes))
        card.get_by_role("button", name="Add to agenda").click()
        expect(_flash(page)).to_have_text(f"“{topic.title}” is on the agenda, {minutes} minutes.")
        expect(budget.locator(".budget__left")).to_have_text(f"{left} minutes left")
    agenda = page.get_by_role("region", name=re.compile(r"^The agenda"))
    expect(agenda.locator(".agenda-item__title")).to_have_text(
        ["Eating out on a budget", "Sleep and blood sugar"]
    )
    expect(agenda.locator(".timebox")).to_have_text(["20 min", "15 min"])
    axe_check(page)

    # Fifteen more minutes would overflow the group conversation: refused, nothing added.
    refusal = (
        "That does not fit: 10 minutes left of the 45-minute group conversation, and this "
        "topic asks for 15. Give it 10 or fewer, or shorten another topic first."
    )
    card = page.locator(f"#topic-{foot_care.id}")
    card.get_by_label("Minutes", exact=True).fill("15")
    card.get_by_role("button", name="Add to agenda").click()
    expect(page.get_by_role("alert")).to_have_text(refusal)
    card = page.locator(f"#topic-{foot_care.id}")
    expect(card.locator(".error")).to_have_text(refusal)
    expect(card.get_by_label("Minutes", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(card.get_by_label("Minutes", exact=True)).to_have_value("15")
    expect(budget.locator(".budget__left")).to_have_text("10 minutes left")
    expect(agenda.locator(".agenda-item__title")).to_have_count(2)
    axe_check(page)

    page.get_by_role("button", name="Publish to members now").click()
    expect(_flash(page)).to_have_text(
        "The agenda is published: members see it on their session page."
    )
    expect(page.locator("#publish .badge")).to_have_text("Published")
    axe_check(page)

    phone = new_page(**PHONE)
    sign_in_page(phone, pat)
    phone.goto(f"/sessions/{session_id}")
    published = phone.get_by_role("region", name="Agenda", exact=True)
    expect(published.locator(".member-agenda__title")).to_have_text(
        ["Eating out on a budget", "Sleep and blood sugar"]
    )
    expect(published.locator(".member-agenda__minutes")).to_have_text(["20 min", "15 min"])
    expect(published).to_contain_text("35 minutes of group conversation")
    expect(published).not_to_contain_text("Foot care")
    axe_check(phone)


def test_during_the_session_a_member_drops_a_question_the_facilitator_sees_it(
    new_page, axe_check, sign_in_page, make_clinic, db
):
    clinic = make_clinic(timedelta(minutes=30))
    pat = clinic.members[0]
    session_id = clinic.group_session.id
    question = "Is it fine to swap rice for potatoes?"
    desk = new_page(**DESKTOP)
    sign_in_page(desk, clinic.facilitator)
    desk.goto(f"/sessions/{session_id}/agenda")
    questions = desk.get_by_role("region", name=re.compile(r"^Open questions"))
    expect(questions).to_contain_text(
        "No questions dropped in the question box for this session yet."
    )
    axe_check(desk)

    phone = new_page(**PHONE)
    sign_in_page(phone, pat)
    phone.goto(f"/sessions/{session_id}")
    axe_check(phone)
    phone.get_by_role("link", name="Question box", exact=True).click()
    expect(phone).to_have_url(re.compile(rf"/sessions/{session_id}/questions$"))
    expect(phone.get_by_role("heading", level=1)).to_have_text("Question box")
    box = phone.get_by_label("Your question for the group")
    expect(box).to_have_accessible_description(
        re.compile(r"^It is shown to the group without your name; staff will still see it")
    )
    axe_check(phone)
    box.fill(question)
    phone.get_by_role("button", name="Drop it in the box").tap()
    expect(_flash(phone)).to_have_text("Thank you. Your question is in the box.")
    asked = phone.get_by_role("region", name=re.compile(r"^Questions so far"))
    expect(asked.locator(".question")).to_have_count(1)
    expect(asked.locator(".question")).to_contain_text(question)
    expect(asked.locator(".question")).to_contain_text("You asked this (the group sees no name)")
    axe_check(phone)

    desk.reload()
    expect(questions.locator(".question__title")).to_have_text([question])
    axe_check(desk)


def test_a_member_finds_what_became_of_earlier_topics_a_page_away(
    new_page, axe_check, sign_in_page, make_clinic, db
):
    clinic = make_clinic(timedelta(days=7))
    pat, omar, _, _ = clinic.members
    count = topics.LATEST_SHOWN + 2
    for n in range(count):
        topic = _propose(db, clinic, f"Earlier topic {n + 1}", omar)
        topic.status, topic.decline_reason = "declined", "Better kept for your one-on-one visit."
        db.session.flush()
        topic.updated_at = utcnow() - timedelta(days=n + 1)
    db.session.commit()
    _propose(db, clinic, "Foot care", omar)
    group_id = clinic.group.id
    page = new_page(**PHONE)

    sign_in_page(page, pat)
    page.goto(f"/groups/{group_id}/topics")
    # The topics open for votes come first; of the closed ones, only the latest.
    open_list = page.get_by_role("region", name=re.compile(r"^Open for votes"))
    expect(open_list.locator(".topic__title")).to_have_text(["Foot care"])
    closed = page.get_by_role("region", name=re.compile(r"^What became of other topics"))
    expect(closed.locator(".topic__title")).to_have_count(topics.LATEST_SHOWN)
    expect(closed.locator(".topic__title").first).to_have_text("Earlier topic 1")
    axe_check(page)

    closed.get_by_role("link", name=f"All {count} earlier topics, page by page").click()
    expect(page).to_have_url(re.compile(rf"/groups/{group_id}/topics\?show=closed$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("What became of other topics")
    expect(page.locator(".topic__title")).to_have_count(count)
    expect(page.locator(f"li.topic >> nth={count - 1}")).to_contain_text(
        "Why not: Better kept for your one-on-one visit."
    )
    axe_check(page)

    page.get_by_role("link", name="What we talked about, session by session").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("What we talked about")
    axe_check(page)
