"""Demo agendas: topics members put forward, their votes, each past session's agenda with
what was said, and the coming session's open topics, a question box, a merge, a kind
decline, a topic kept for later and one hidden by staff.

Rows go in by bulk insert, so years of a network's agendas stay quick to load.
"""

import random
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from groupvisits.agenda.models import (
    ACCEPTED,
    ANONYMOUS,
    BY_NAME,
    DECLINED,
    DISCUSSED,
    KEPT,
    MERGED,
    OPEN,
    PLANNED,
    QUESTION,
    TOPIC,
    AgendaItem,
    AgendaTopic,
    TopicEvent,
    TopicVote,
)
from groupvisits.extensions import db
from groupvisits.roster.models import ACTIVE, Membership
from groupvisits.schedule.models import SCHEDULED, GroupSession

TOPICS = [
    ("Eating out without blowing the numbers", "Restaurants, take-away, family parties."),
    ("Sleep and blood sugar", ""),
    ("What to do when I feel low", "Signs, what to keep in my bag."),
    ("Foot care in winter", ""),
    ("Cooking for one", "Small portions that keep."),
    ("Talking to family about my diet", ""),
    ("Staying active with bad knees", "Chair exercises?"),
    ("Reading food labels", ""),
    ("Medicines: side effects we noticed", ""),
    ("Stress at work", ""),
    ("Holidays and fasting", ""),
    ("Walking groups near the clinic", ""),
]
QUESTIONS = [
    "Is fruit juice as bad as soda?",
    "Can I take my tablets with coffee?",
    "How often should I check my feet?",
]
SUMMARIES = [
    "We shared tips: order first, ask for sauces on the side, share a dessert.",
    "Members compared sleep routines; the nurse explained why late meals raise morning sugars.",
    "We practised what to do for a low: 15 grams of fast sugar, wait 15 minutes, check again.",
    "The dietitian showed three freezer-friendly meals; recipes are at the front desk.",
]
DECLINE_REASON = (
    "Thank you for raising it. This needs a one-on-one talk rather than the whole group: "
    "please bring it to your visit."
)
HIDE_REASON = "Named another member's health details."


def load_agenda(group_ids: list[int], rng: random.Random, now: datetime) -> dict[str, int]:
    """Topics, votes, agendas and their history for ``group_ids``; returns row counts."""
    if not group_ids:
        return {}
    members: dict[int, list[int]] = {}
    sharing: dict[int, list[int]] = {}
    for group_id, patient_id, shares in db.session.execute(
        select(Membership.group_id, Membership.patient_id, Membership.share_name)
        .where(Membership.group_id.in_(group_ids), Membership.status == ACTIVE)
        .order_by(Membership.id)
    ):
        members.setdefault(group_id, []).append(patient_id)
        if shares:
            sharing.setdefault(group_id, []).append(patient_id)
    sessions: dict[int, list[tuple[int, datetime, datetime]]] = {}
    for session_id, group_id, starts_at, ends_at in db.session.execute(
        select(GroupSession.id, GroupSession.group_id, GroupSession.starts_at, GroupSession.ends_at)
        .where(GroupSession.group_id.in_(group_ids), GroupSession.status == SCHEDULED)
        .order_by(GroupSession.starts_at)
    ):
        sessions.setdefault(group_id, []).append((session_id, starts_at, ends_at))

    topics: list[dict] = []
    # What becomes of each topic once it has an id: (topic index, session id, item fields).
    items: list[tuple[int, dict]] = []
    published: list[dict] = []
    for group_id in group_ids:
        people = members.get(group_id, [])
        past = [s for s in sessions.get(group_id, []) if s[2] < now]
        coming = [s for s in sessions.get(group_id, []) if s[1] >= now]
        if not people:
            continue
        for session_id, starts_at, _ in past:
            published.append(
                {"id": session_id, "agenda_published_at": starts_at - timedelta(days=3)}
            )
            for position, (title, details) in enumerate(rng.sample(TOPICS, 2)):
                index = len(topics)
                topics.append(
                    _topic(
                        group_id,
                        title,
                        details,
                        rng.choice(people),
                        rng,
                        starts_at - timedelta(days=20),
                    )
                    | {"status": DISCUSSED}
                )
                items.append(
                    (
                        index,
                        {
                            "session_id": session_id,
                            "position": position,
                            "minutes": rng.choice((15, 20)),
                            "outcome": DISCUSSED,
                            "summary": rng.choice(SUMMARIES),
                            "links": "",
                        },
                    )
                )
        if past:
            # Questions dropped during the last session, while others were in their visits.
            last_id, last_start, _ = past[-1]
            for text in QUESTIONS[:2]:
                topics.append(
                    _topic(
                        group_id,
                        text,
                        "",
                        rng.choice(people),
                        rng,
                        last_start + timedelta(minutes=40),
                    )
                    | {"kind": QUESTION, "session_id": last_id, "shown_as": ANONYMOUS}
                )
        if not coming:
            continue
        next_id, next_start, _ = coming[0]
        opened = next_start - timedelta(days=25)
        first_open = len(topics)
        for title, details in rng.sample(TOPICS, 6):
            topics.append(_topic(group_id, title, details, rng.choice(people), rng, opened))
        # The facilitator has begun the next agenda: the top topic, 20 minutes.
        topics[first_open]["status"] = ACCEPTED
        items.append(
            (
                first_open,
                {
                    "session_id": next_id,
                    "position": 0,
                    "minutes": 20,
                    "outcome": PLANNED,
                    "summary": "",
                    "links": "",
                },
            )
        )
        topics[first_open + 1] |= {"status": DECLINED, "decline_reason": DECLINE_REASON}
        topics[first_open + 2] |= {"status": KEPT}
        # One open topic put forward by name, so that the list names someone.
        topics[first_open + 4] |= {
            "shown_as": BY_NAME,
            "proposer_id": rng.choice(sharing.get(group_id) or people),
        }
        topics[first_open + 3] |= {
            "hidden_at": opened + timedelta(days=1),
            "hidden_reason": HIDE_REASON,
        }
        # A duplicate, merged into the first topic (its votes moved there).
        topics.append(
            _topic(
                group_id, topics[first_open]["title"].lower(), "", rng.choice(people), rng, opened
            )
            | {"status": MERGED, "_merge_into": first_open}
        )

    # Merged topics go in last: they point at the topic they were merged into.
    order = sorted(range(len(topics)), key=lambda i: "_merge_into" in topics[i])
    ids = [0] * len(topics)
    kept_ids = _insert(
        AgendaTopic, [_row(topics[i]) for i in order if "_merge_into" not in topics[i]]
    )
    for i, topic_id in zip(
        [i for i in order if "_merge_into" not in topics[i]], kept_ids, strict=True
    ):
        ids[i] = topic_id
    merged = [i for i in order if "_merge_into" in topics[i]]
    for i in merged:
        topics[i]["merged_into_id"] = ids[topics[i]["_merge_into"]]
    for i, topic_id in zip(
        merged, _insert(AgendaTopic, [_row(topics[i]) for i in merged]), strict=True
    ):
        ids[i] = topic_id
    _insert(AgendaItem, [{"topic_id": ids[index]} | fields for index, fields in items])
    if published:
        db.session.execute(update(GroupSession), published)
    votes, events = [], []
    for topic, topic_id in zip(topics, ids, strict=True):
        events.append(
            {
                "topic_id": topic_id,
                "actor_id": topic["proposer_id"],
                "kind": "proposed",
                "note": "",
                "occurred_at": topic["created_at"],
            }
        )
        if topic["kind"] == QUESTION or topic["status"] == MERGED:
            continue
        people = members[topic["group_id"]]
        for voter in rng.sample(people, rng.randrange(0, min(len(people), 8) + 1)):
            votes.append(
                {"topic_id": topic_id, "voter_id": voter, "created_at": topic["created_at"]}
            )
        if topic["status"] in (DISCUSSED, DECLINED, KEPT, ACCEPTED):
            events.append(
                {
                    "topic_id": topic_id,
                    "actor_id": None,
                    "kind": topic["status"],
                    "note": topic.get("decline_reason", ""),
                    "occurred_at": topic["created_at"] + timedelta(days=5),
                }
            )
    _insert(TopicVote, votes)
    _insert(TopicEvent, events)
    return {"agenda_topics": len(topics), "topic_votes": len(votes), "agenda_items": len(items)}


def _row(topic: dict) -> dict:
    return {key: value for key, value in topic.items() if not key.startswith("_")}


def _topic(group_id, title, details, proposer, rng: random.Random, at: datetime) -> dict:
    anonymous = rng.random() < 0.25
    return {
        "group_id": group_id,
        "kind": TOPIC,
        "title": title,
        "details": details,
        "proposer_id": proposer,
        "proposed_by_staff": False,
        "shown_as": ANONYMOUS if anonymous else BY_NAME,
        "session_id": None,
        "status": OPEN,
        "decline_reason": "",
        "hidden_at": None,
        "hidden_reason": "",
        "merged_into_id": None,
        "created_at": at,
        "updated_at": at,
    }


def _insert(model, rows: list[dict]) -> list[int]:
    if not rows:
        return []
    return list(
        db.session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows)
    )
