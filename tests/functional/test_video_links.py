"""Video links go to patients' calendars and phones: only https:// addresses with a host.

Held on every form that takes a link (a group's, a session's) and in the services
behind them, so that the command line and the demo loader cannot store one either.
"""

import html
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from groupvisits.errors import ValidationFailed
from groupvisits.groups import services as groups
from groupvisits.groups.models import VisitGroup
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow

HTTPS_ONLY = "secure address starting with https://"
PLAIN = "http://video.example.org/room/7"
GOOD = "https://video.example.org/room/7"


def group_form(site, **changes) -> dict:
    data = {
        "site": site.id,
        "name": "Wednesday hybrid group",
        "calendar_name": "Wednesday evening group",
        "focus": "",
        "description": "",
        "modality": "hybrid",
        "location": "Community room",
        "video_url": GOOD,
        "length_minutes": "120",
        "min_members": "8",
        "target_members": "12",
        "max_members": "15",
        "census_warning_days": "14",
    }
    data.update(changes)
    return data


def session_form(group_session, **changes) -> dict:
    local = group_session.local_start
    data = {
        "date": local.date().isoformat(),
        "start_time": local.strftime("%H:%M"),
        "length_minutes": str(group_session.length_minutes),
        "location": "",
        "video_url": GOOD,
        "theme": "",
        "notes": "",
    }
    data.update(changes)
    return data


def group_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(VisitGroup))


@pytest.fixture
def hybrid_group(create_group):
    return create_group(modality="hybrid", video_url=GOOD, location="Community room")


@pytest.fixture
def first_session(db, hybrid_group) -> GroupSession:
    """The group's first session that can still be moved."""
    db.session.expire_all()
    return db.session.scalars(
        select(GroupSession)
        .where(
            GroupSession.group_id == hybrid_group.id,
            GroupSession.starts_at > utcnow() + timedelta(days=1),
        )
        .order_by(GroupSession.starts_at)
    ).first()


# The forms


@pytest.mark.parametrize(
    "link", [PLAIN, "HTTP://video.example.org/room", "ftp://video.example.org/r", "https:///r"]
)
def test_new_group_with_a_link_other_than_https_is_a_form_error_and_nothing_is_saved(
    db, site, coordinator_client, link
):
    before = group_count(db)
    response = coordinator_client.post_form("/groups/new", group_form(site, video_url=link))

    assert response.status_code == 422
    assert HTTPS_ONLY in html.unescape(response.get_data(as_text=True))
    db.session.rollback()
    assert group_count(db) == before


def test_new_group_with_an_https_link_is_saved(db, site, coordinator_client):
    response = coordinator_client.post_form("/groups/new", group_form(site))

    assert response.status_code == 302
    group = db.session.scalar(select(VisitGroup).where(VisitGroup.name == "Wednesday hybrid group"))
    assert group.video_url == GOOD


def test_editing_a_group_to_a_plain_http_link_is_a_form_error_and_nothing_is_saved(
    db, site, coordinator_client, hybrid_group
):
    response = coordinator_client.post_form(
        f"/groups/{hybrid_group.id}/edit",
        group_form(site, name=hybrid_group.name, video_url=PLAIN, location="Room 5"),
    )

    assert response.status_code == 422
    assert HTTPS_ONLY in html.unescape(response.get_data(as_text=True))
    db.session.expire_all()
    group = db.session.get(VisitGroup, hybrid_group.id)
    assert (group.video_url, group.location) == (GOOD, "Community room")


def test_editing_a_session_to_a_plain_http_link_is_a_form_error_and_nothing_is_saved(
    db, coordinator_client, first_session
):
    before = (first_session.video_url, first_session.sequence, first_session.theme)
    response = coordinator_client.post_form(
        f"/sessions/{first_session.id}/edit",
        session_form(first_session, video_url=PLAIN, theme="Sleep"),
    )

    assert response.status_code == 422
    assert HTTPS_ONLY in html.unescape(response.get_data(as_text=True))
    db.session.expire_all()
    group_session = db.session.get(GroupSession, first_session.id)
    assert (group_session.video_url, group_session.sequence, group_session.theme) == before


def test_editing_a_session_to_an_https_link_is_saved(db, coordinator_client, first_session):
    other = "https://video.example.org/room/8"
    response = coordinator_client.post_form(
        f"/sessions/{first_session.id}/edit", session_form(first_session, video_url=other)
    )

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(GroupSession, first_session.id).video_url == other


def test_a_session_link_naming_a_condition_is_a_form_error(db, coordinator_client, first_session):
    response = coordinator_client.post_form(
        f"/sessions/{first_session.id}/edit",
        session_form(first_session, video_url="https://meet.example.org/j/1?room=weightloss"),
    )

    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(GroupSession, first_session.id).video_url == ""


# The services: what the command line and the demo loader go through


def test_creating_a_group_with_a_plain_http_link_is_refused_even_without_a_form(db, site):
    fields = {
        "name": "Hybrid group",
        "calendar_name": "Group visit",
        "modality": "hybrid",
        "location": "Community room",
        "video_url": PLAIN,
        "length_minutes": 120,
        "min_members": 8,
        "target_members": 12,
        "max_members": 15,
        "census_warning_days": 14,
    }
    with pytest.raises(ValidationFailed, match="https://"):
        groups.create_group(site, fields, actor=None)
    db.session.rollback()
    assert group_count(db) == 0


def test_updating_a_group_to_a_plain_http_link_is_refused(db, hybrid_group, coordinator):
    fields = {
        key: getattr(hybrid_group, key) for key in groups.EDITABLE if hasattr(hybrid_group, key)
    }
    with pytest.raises(ValidationFailed, match="https://"):
        groups.update_group(hybrid_group, {**fields, "video_url": PLAIN}, actor=coordinator)


def test_moving_a_session_to_a_plain_http_link_is_refused(db, first_session, coordinator):
    local_start = first_session.local_start.replace(tzinfo=None)
    with pytest.raises(ValidationFailed, match="https://"):
        schedule.move_session(
            first_session,
            local_start=local_start,
            length_minutes=first_session.length_minutes,
            location="",
            video_url=PLAIN,
            theme="",
            notes="",
            actor=coordinator,
        )
