"""SQLAlchemy tables of Weft, one aggregate per module; shared by the service, jobs and Alembic."""

from models.analysis import (
    Analysis,
    AnalysisStatus,
    Theme,
    ThemeAssignment,
    ThemeLineage,
    ThemeMembership,
)
from models.api_key import ApiKey, Scope
from models.audit import AuditRecord
from models.base import Base
from models.curation import EditKind, ThemeEdit
from models.embedding import Embedding
from models.job import Job, JobStatus
from models.meeting import MeetingSession
from models.narrative import Narrative, NarrativeAttribute
from models.project import Project
from models.reaction import Reaction, VoteTally
from models.segment import NarrativeSegment, SegmentEmbedding
from models.signal import NarrativeScore, PolarityAxis, Signal
from models.signifier import Signifier, SignifierKind, SignifierValue
from models.source import Source, SourceStatus
from models.ui_session import UiSession

__all__ = [
    "Analysis",
    "AnalysisStatus",
    "ApiKey",
    "AuditRecord",
    "Base",
    "EditKind",
    "Embedding",
    "Job",
    "JobStatus",
    "MeetingSession",
    "Narrative",
    "NarrativeAttribute",
    "NarrativeScore",
    "NarrativeSegment",
    "PolarityAxis",
    "Project",
    "Reaction",
    "Scope",
    "SegmentEmbedding",
    "Signal",
    "Signifier",
    "SignifierKind",
    "SignifierValue",
    "Source",
    "SourceStatus",
    "Theme",
    "ThemeAssignment",
    "ThemeEdit",
    "ThemeLineage",
    "ThemeMembership",
    "UiSession",
    "VoteTally",
]
