"""Every model, imported in one place so the metadata (and Alembic) sees all tables."""

from groupvisits.accounts.models import Invitation, PatientProfile, SignIn, User, user_sites
from groupvisits.agenda.models import AgendaItem, AgendaTopic, TopicEvent, TopicVote
from groupvisits.audit import AuditEvent
from groupvisits.encounters.models import (
    EncounterNote,
    GoalProgress,
    GroupNote,
    NoteAddendum,
    NoteEvent,
    OneOnOneSlot,
    PatientGoal,
)
from groupvisits.groups.models import GroupPlanSegment, VisitGroup
from groupvisits.mail.models import OutboxMessage
from groupvisits.roster.models import (
    AgreementAcceptance,
    Attendance,
    GroupAgreement,
    Membership,
    MembershipEvent,
)
from groupvisits.schedule.models import CalendarFeed, GroupSession, SessionSegment
from groupvisits.sites.models import Site
from groupvisits.team.models import CoreTeamMember, StaffAssignment, StaffingRule, TimeOff

__all__ = [
    "AgendaItem",
    "AgendaTopic",
    "TopicEvent",
    "TopicVote",
    "EncounterNote",
    "GoalProgress",
    "GroupNote",
    "NoteAddendum",
    "NoteEvent",
    "OneOnOneSlot",
    "PatientGoal",
    "AgreementAcceptance",
    "Attendance",
    "GroupAgreement",
    "MembershipEvent",
    "AuditEvent",
    "CalendarFeed",
    "GroupPlanSegment",
    "GroupSession",
    "Membership",
    "SessionSegment",
    "VisitGroup",
    "Invitation",
    "OutboxMessage",
    "PatientProfile",
    "SignIn",
    "Site",
    "User",
    "CoreTeamMember",
    "StaffAssignment",
    "StaffingRule",
    "TimeOff",
    "user_sites",
]
