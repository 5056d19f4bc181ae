"""Fellow members see "First L." only of a member who said yes, asked with the group agreement.

Until a member answers, fellow members see nothing of them; the question comes
with the agreement (in the app, or as written on the paper form) and, for a
member who has not answered yet, on their group page.
"""

import html
import re

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import PATIENT
from groupvisits.roster import services
from groupvisits.roster.models import AgreementAcceptance, Membership


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def fellows_of(page: str) -> str:
    match = re.search(r"<h3>Who else is in the group</h3>\s*(<p.*?</p>)", page, re.S)
    assert match, "no list of fellow members"
    return match.group(1)


def fresh(db, membership_id: int) -> Membership:
    db.session.expire_all()
    return db.session.get(Membership, membership_id)


@pytest.fixture
def group_of_three(db, site, create_group, create_user, coordinator, patient):
    """A group with an agreement: the viewer (``patient``), Rosa and Harold, none answered yet."""
    group = create_group(site)
    services.publish_agreement(group, services.DEFAULT_AGREEMENT, actor=coordinator)
    rosa = create_user(PATIENT, given_name="Rosa", family_name="Lopez")
    harold = create_user(PATIENT, given_name="Harold", family_name="Davis")
    ids = {}
    for person in (patient, rosa, harold):
        ids[person.given_name] = services.enrol(group, person, actor=coordinator).id
    db.session.commit()
    return {"group": group, "rosa": rosa, "harold": harold, "ids": ids}


def test_a_new_member_who_has_not_answered_is_not_named_to_fellow_members(
    db, patient_client, group_of_three
):
    assert fresh(db, group_of_three["ids"]["Rosa"]).share_name is None

    page = text(patient_client.get("/my/groups"))

    assert "Rosa" not in page and "Harold" not in page
    assert "No one has chosen to show their name yet." in page


def test_accepting_the_agreement_without_the_share_answer_is_refused(
    db, sign_in_as, group_of_three
):
    group, rosa = group_of_three["group"], group_of_three["rosa"]
    client = sign_in_as(rosa)
    page = text(client.get(f"/groups/{group.id}/agreement"))
    assert "Fellow members may see my first name and last initial" in page
    assert 'name="share_name" required type="radio" value="yes"' in page
    assert "checked" not in page

    response = client.post_form(f"/groups/{group.id}/agreement/accept", {"next": "/"})

    assert response.status_code == 422
    page = text(response)
    assert "Choose whether fellow members may see your first name and last initial." in page
    assert "Thank you" not in page
    assert db.session.scalar(select(func.count()).select_from(AgreementAcceptance)) == 0
    assert fresh(db, group_of_three["ids"]["Rosa"]).share_name is None


def test_answering_yes_shows_first_name_and_initial_and_no_hides_the_member(
    db, sign_in_as, patient_client, group_of_three
):
    group = group_of_three["group"]
    for person, answer in ((group_of_three["rosa"], "yes"), (group_of_three["harold"], "no")):
        response = sign_in_as(person).post_form(
            f"/groups/{group.id}/agreement/accept", {"share_name": answer}, follow_redirects=True
        )
        assert "Thank you. You have accepted the group agreement." in text(response)

    page = text(patient_client.get("/my/groups"))

    assert fellows_of(page) == "<p>Rosa L.</p>"
    assert "Lopez" not in page and "Harold" not in page and "Davis" not in page
    assert fresh(db, group_of_three["ids"]["Rosa"]).share_name is True
    assert fresh(db, group_of_three["ids"]["Harold"]).share_name is False
    accepted = db.session.scalars(select(AgreementAcceptance.patient_id)).all()
    assert sorted(accepted) == sorted([group_of_three["rosa"].id, group_of_three["harold"].id])


def test_the_answer_with_the_agreement_is_the_members_own_audited_change(
    db, sign_in_as, group_of_three
):
    from groupvisits.audit import AuditEvent

    rosa, group = group_of_three["rosa"], group_of_three["group"]
    sign_in_as(rosa).post_form(f"/groups/{group.id}/agreement/accept", {"share_name": "yes"})

    db.session.expire_all()
    rows = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == "membership", AuditEvent.action == "update"
        )
    ).all()
    assert [(r.actor_id, r.patient_id, r.object_id) for r in rows] == [
        (rosa.id, rosa.id, group_of_three["ids"]["Rosa"])
    ]


def test_a_member_who_has_not_answered_is_asked_on_their_group_pages(
    db, sign_in_as, patient_client, group_of_three
):
    group, rosa = group_of_three["group"], group_of_three["rosa"]
    rosa_id = group_of_three["ids"]["Rosa"]
    client = sign_in_as(rosa)
    share_action = f'action="/memberships/{rosa_id}/share-name"'

    for url in (f"/groups/{group.id}", "/my/groups"):
        page = text(client.get(url))
        assert share_action in page, url
        assert "Please choose. Until you answer, other members" in page, url

    refused = client.post_form(
        f"/memberships/{rosa_id}/share-name", {"next": f"/groups/{group.id}"}, follow_redirects=True
    )
    assert "Choose yes or no" in text(refused)
    assert fresh(db, rosa_id).share_name is None

    answered = client.post_form(
        f"/memberships/{rosa_id}/share-name",
        {"share_name": "yes", "next": f"/groups/{group.id}"},
        follow_redirects=True,
    )

    assert "Saved." in text(answered)
    assert share_action not in text(answered)  # the group page asks only until answered
    assert fresh(db, rosa_id).share_name is True
    assert fellows_of(text(patient_client.get("/my/groups"))) == "<p>Rosa L.</p>"


def test_waiting_people_are_not_asked_on_the_group_page(
    db, sign_in_as, site, create_group, create_user, coordinator
):
    group = create_group(site, min_members=1, target_members=1, max_members=1)
    services.enrol(group, create_user(PATIENT), actor=coordinator)
    waiting = create_user(PATIENT)
    membership_id = services.enrol(group, waiting, actor=coordinator).id
    db.session.commit()

    page = text(sign_in_as(waiting).get(f"/groups/{group.id}"))

    assert f"/memberships/{membership_id}/share-name" not in page
