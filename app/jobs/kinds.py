"""The kinds of job Weft runs; the lowest module of the job layer, imported by anyone queueing."""

from __future__ import annotations

import enum


class JobKind(enum.StrEnum):
    #: parse an uploaded file or session export and store its narratives
    ingest = "ingest"
    #: embed a project's narratives the cache lacks, then place them into the latest analysis
    embed = "embed"
    #: cluster a project's narratives into themes and compute their signals
    analyze = "analyze"
    #: embed one share of an embedding job's texts (app/jobs/fanout.py); any worker may take it
    embed_chunk = "embed_chunk"
