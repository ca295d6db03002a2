"""Parsers for what users upload: bytes in, records and a report out.

Every parser is a pure function (or a streaming reader) over bytes or a binary file
object. Chats and transcripts are parsed whole and return a `ParseResult`; batch files
and SenseMaker data are streamed by a reader whose `report` fills in as rows go by. A
file that cannot be read at all raises `UnreadableFile`; problems with single rows are
`ParseIssue`s in the report.
"""

from pipelines.ingest.batch import (
    BatchReader,
    ColumnMapping,
    infer_mapping,
    open_batch,
    parse_batch,
)
from pipelines.ingest.detect import FileFormat, detect_format
from pipelines.ingest.records import (
    NarrativeRecord,
    ParseIssue,
    ParseReport,
    ParseResult,
    Reaction,
    SignifierSpec,
    UnreadableFile,
)
from pipelines.ingest.sensemaker import (
    SenseMakerDefinition,
    SenseMakerReader,
    open_sensemaker_data,
    parse_sensemaker_data,
    parse_sensemaker_definition,
)
from pipelines.ingest.teams import parse_teams_messages
from pipelines.ingest.transcript import parse_transcript
from pipelines.ingest.values import parse_datetime, signifier_value
from pipelines.ingest.zoom_chat import parse_zoom_chat

__all__ = [
    "BatchReader",
    "ColumnMapping",
    "FileFormat",
    "NarrativeRecord",
    "ParseIssue",
    "ParseReport",
    "ParseResult",
    "Reaction",
    "SenseMakerDefinition",
    "SenseMakerReader",
    "SignifierSpec",
    "UnreadableFile",
    "detect_format",
    "infer_mapping",
    "open_batch",
    "open_sensemaker_data",
    "parse_batch",
    "parse_datetime",
    "parse_sensemaker_data",
    "parse_sensemaker_definition",
    "parse_teams_messages",
    "parse_transcript",
    "parse_zoom_chat",
    "signifier_value",
]
