"""Database models, one module per aggregate. Importing this package registers them all."""
from .audit import AuditEntry
from .case import CaseLink, CaseMember, CaseNote, Cooperation, DeadlineReminder, PhaseDeadline
from .cooperation import CooperationRequest, PartnerDelivery
from .exercise import (
    Exercise,
    ExerciseAcknowledgement,
    ExerciseInject,
    ExerciseParticipant,
    ExerciseReport,
)
from .incident import Incident, Observable, PhaseUpdate
from .job_run import JobRun, SchedulerLease
from .organization import Asset, Organization
from .outbox import OutboxMessage
from .signin import SignInThrottle, UserSession
from .stix_object import Collection, StixObject
from .taxii import StixClock, TaxiiPoll, TaxiiStatus
from .totp import TotpUse
from .user import ApiToken, User
from .warning import EarlyWarning, FeedState, ObservableHash, WarningSource

__all__ = [
    "ApiToken", "Asset", "AuditEntry", "CaseLink", "CaseMember", "CaseNote", "Collection", "Cooperation",
    "CooperationRequest", "PartnerDelivery",
    "Exercise", "ExerciseAcknowledgement", "ExerciseInject", "ExerciseParticipant", "ExerciseReport",
    "DeadlineReminder", "Incident", "Observable", "Organization", "PhaseDeadline", "PhaseUpdate", "SignInThrottle",
    "StixObject", "TotpUse", "User", "UserSession", "JobRun", "SchedulerLease", "OutboxMessage",
    "EarlyWarning", "FeedState", "ObservableHash", "WarningSource",
    "StixClock", "TaxiiPoll", "TaxiiStatus",
]
