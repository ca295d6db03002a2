"""Parsers for what users upload: bytes in, records and a report out.

Every parser is a pure function (or a streaming reader) over bytes or a binary file
object. Chats and transcripts are parsed whole and return a `ParseResult`; batch files
and SenseMaker data are streamed by a reader whose `report` fills in as rows go by. A
file that cannot be read at all raises `UnreadableFile`; problems with single rows are
`ParseIssue`s in the report.

Entry points by format (see `detect_format` to choose one):

- Zoom chat: `parse_zoom_chat(data, session_date=..., tz=...)`
- transcripts (WebVTT, SRT, plain): `parse_transcript(data, session_start=...)`
- Teams Graph JSON: `parse_teams_messages(data)`
- SenseMaker: `parse_sensemaker_definition(json)` -> `SenseMakerDefinition` (its
  `signifiers` are `SignifierSpec`s), then `open_sensemaker_data(csv, definition)`
- CSV / TSV / JSONL / JSON / XLSX: `open_batch(data, filename=..., mapping=..., specs=...)`
- Polis: `parse_polis(comments, participants_votes=..., votes=...)`
"""

from pipelines.ingest.batch import (
    BatchReader,
    ColumnMapping,
    infer_mapping,
    open_batch,
    parse_batch,
)
from pipelines.ingest.detect import FileFormat, detect_format
from pipelines.ingest.polis import PolisResult, VoteTally, parse_polis
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
    "PolisResult",
    "Reaction",
    "SenseMakerDefinition",
    "SenseMakerReader",
    "SignifierSpec",
    "UnreadableFile",
    "VoteTally",
    "detect_format",
    "infer_mapping",
    "open_batch",
    "open_sensemaker_data",
    "parse_batch",
    "parse_datetime",
    "parse_polis",
    "parse_sensemaker_data",
    "parse_sensemaker_definition",
    "parse_teams_messages",
    "parse_transcript",
    "parse_zoom_chat",
    "signifier_value",
]
