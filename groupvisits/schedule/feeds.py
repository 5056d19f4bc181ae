"""Secret calendar subscriptions: who sees which sessions in their calendar program.

A feed's address carries a token that the database never holds: a row keeps a random
nonce and the SHA-256 of the token, which is an HMAC of the nonce under the app's secret
key. The app can rebuild the address to show it again; a copy of the database alone
(a backup, a dump) cannot, and a presented token is found by its hash.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from groupvisits import audit
from groupvisits.accounts.models import User
from groupvisits.agenda.sessions import agenda_titles_for
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.mail.services import external_url
from groupvisits.permissions import meeting_details_group_ids
from groupvisits.schedule import ical, participation
from groupvisits.schedule.models import CalendarFeed, GroupSession
from groupvisits.team.my_schedule import roles_by_session
from groupvisits.timeutil import utcnow

#: A feed shows this much of the past, and everything planned.
FEED_HISTORY = timedelta(days=366)
#: Google Calendar's page that subscribes the signed-in Google user to ``cid``.
GOOGLE_SUBSCRIBE = "https://calendar.google.com/calendar/render?cid="


def active_feed(user: User) -> CalendarFeed | None:
    """The person's feed that still answers, if any."""
    return db.session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None)
        )
    )


def renew_feed(user: User) -> CalendarFeed:
    """A new secret address (256 random bits); any earlier one stops working."""
    revoke_feeds(user)
    nonce = secrets.token_urlsafe(32)
    feed = CalendarFeed(user=user, nonce=nonce, token_hash=hash_token(_derive(_keys()[0], nonce)))
    db.session.add(feed)
    db.session.flush()
    return feed


def revoke_feeds(user: User) -> None:
    """Turn off every address of the person's calendar."""
    db.session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()


def hash_token(token: str) -> str:
    """What a feed row keeps of its token: the SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _keys() -> list[bytes]:
    """The app's secret key, then any older keys it still accepts."""
    config = current_app.config
    keys = [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]
    return [key if isinstance(key, bytes) else key.encode() for key in keys if key]


def _derive(key: bytes, nonce: str) -> str:
    """The token of the address: an HMAC-SHA256 of the nonce, URL-safe base64 (43 characters)."""
    digest = hmac.new(key, b"calendar-feed:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def feed_token(feed: CalendarFeed) -> str | None:
    """The token of a feed's address, or None if it cannot be shown again.

    A feed made before tokens were hashed has no nonce, and one made under a secret
    key the app no longer knows gives another token: both still answer, but only a
    new address can be shown.
    """
    if feed.nonce is None:
        return None
    for key in _keys():
        token = _derive(key, feed.nonce)
        if hmac.compare_digest(hash_token(token), feed.token_hash):
            return token
    return None


def feed_for_token(token: str) -> CalendarFeed | None:
    """The live feed behind a token, if the token and its owner are still good."""
    if not token or len(token) > 64:
        return None
    feed = db.session.scalar(
        select(CalendarFeed).where(CalendarFeed.token_hash == hash_token(token))
    )
    if feed is None or feed.revoked_at is not None or not feed.user.active:
        return None
    return feed


def feed_urls(feed: CalendarFeed) -> dict[str, str] | None:
    """The feed's https, webcal and Google Calendar addresses; None if it cannot be shown."""
    token = feed_token(feed)
    if token is None:
        return None
    https = external_url("schedule.user_feed", token=token)
    webcal = "webcal://" + https.split("://", 1)[1]
    return {"https": https, "webcal": webcal, "google": google_subscribe_url(webcal)}


def google_subscribe_url(webcal: str) -> str:
    """Google Calendar's "add this calendar by URL" page for a ``webcal://`` address.

    Google reads the ``cid`` parameter as a calendar to subscribe to; a whole
    ``webcal://`` address in it, percent-encoded, asks the person to add that feed.
    """
    return GOOGLE_SUBSCRIBE + quote(webcal, safe="")


def group_feed_urls(user: User, feed: CalendarFeed) -> list[tuple[VisitGroup, str]]:
    """Per-group feed addresses, for staff (none while the feed's address cannot be shown)."""
    token = feed_token(feed)
    if not user.is_staff or token is None:
        return []
    groups = db.session.scalars(
        select(VisitGroup)
        .where(VisitGroup.site_id.in_(user.site_ids), VisitGroup.status != "closed")
        .order_by(VisitGroup.name)
    ).all()
    return [
        (group, external_url("schedule.group_feed", token=token, group_id=group.id))
        for group in groups
    ]


def _sessions(group_ids, since: datetime | None) -> list[GroupSession]:
    if not group_ids:
        return []
    query = select(GroupSession).where(GroupSession.group_id.in_(group_ids))
    if since is not None:
        query = query.where(GroupSession.starts_at >= since)
    return list(
        db.session.scalars(
            query.options(selectinload(GroupSession.group).selectinload(VisitGroup.site)).order_by(
                GroupSession.starts_at
            )
        )
    )


#: Any session id: its page's address is built once per feed, then only the id changes.
_SAMPLE_ID = 987654321


def _session_urls() -> Callable[[GroupSession], str]:
    """The absolute address of each session's page, as ``external_url`` builds it.

    A feed holds hundreds of sessions: binding and building a URL for each cost more
    than writing its event.
    """
    sample = external_url("schedule.show_session", session_id=_SAMPLE_ID)
    head, sep, tail = sample.rpartition(str(_SAMPLE_ID))
    if not sep or tail:  # the id is not last in the address: build each one
        return lambda group_session: external_url(
            "schedule.show_session", session_id=group_session.id
        )
    return lambda group_session: f"{head}{group_session.id}"


def user_feed_body(feed: CalendarFeed, *, domain: str, now: datetime) -> bytes:
    """The person's own sessions as iCalendar; a patient's read is audited.

    The room and video link of a group go only to those its pages show them to
    (:func:`~groupvisits.permissions.meeting_details_group_ids`); the others see at
    which site the group meets.
    """
    user = feed.user
    sessions = _sessions(participation.group_ids_for(user), now - FEED_HISTORY)
    groups = {group_session.group for group_session in sessions}
    withheld = {group.id for group in groups} - meeting_details_group_ids(user, groups)
    feed.last_used_at = now
    if user.is_patient:
        audit.record(user, "calendar", user, "calendar_feed", feed.id)
    # Staff read their own roles in each session: one query for the whole feed.
    roles = roles_by_session(user, since=now - FEED_HISTORY) if user.is_staff else {}
    # Agenda titles go to those who may read the group's topics: its staff, and members
    # with a place and the agreement (never the waitlisted, nor those offered a place).
    agenda = agenda_titles_for([s.id for s in sessions if s.group_id not in withheld])
    return ical.build_calendar(
        sessions,
        name="Group visits",
        domain=domain,
        stamp=now,
        url_for_session=_session_urls(),
        details_withheld=withheld,
        roles_by_session=roles,
        agenda_by_session=agenda,
    )


def group_feed_body(feed: CalendarFeed, group: VisitGroup, *, domain: str, now: datetime) -> bytes:
    """Every session of one group, its whole history included, for staff of its site."""
    feed.last_used_at = now
    sessions = _sessions([group.id], None)
    return ical.build_calendar(
        sessions,
        name=group.calendar_name,
        domain=domain,
        stamp=now,
        url_for_session=_session_urls(),
        agenda_by_session=agenda_titles_for([s.id for s in sessions]),
    )
