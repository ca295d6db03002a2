"""Every setting of the service, read once from the environment (prefix ``WEFT_``)."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration with an embedded default for everything."""

    model_config = SettingsConfigDict(env_prefix="WEFT_", env_file=None, extra="ignore")

    database_url: str = Field(
        "sqlite:///./weft.db",
        description="SQLAlchemy URL of the store; SQLite file by default, PostgreSQL at scale.",
    )
    migration_lock_timeout_seconds: float = Field(
        5,
        gt=0,
        description="How long a PostgreSQL migration step waits for a table that readers hold "
        "before it gives up and `weft migrate` tries that step again, so reads never queue "
        "behind it for longer.",
    )
    host: str = Field("127.0.0.1", description="Address the server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the server listens on.")
    log_level: str = Field("info", description="Python logging level.")

    embedding_model: str = Field(
        "",
        description="sentence-transformers model name or path; empty means the packaged "
        "all-MiniLM-L6-v2, which loads offline.",
    )
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx",
        description="What runs the embedding model: 'onnx' (a local ONNX export on ONNX "
        "Runtime, fp32: the same vectors as torch, 2-3x faster here), 'torch' "
        "(sentence-transformers on PyTorch) or 'onnx-int8' (the export with int8 weights: "
        "faster again, but it loses up to 3 NMI points on some sets). The ONNX backends "
        "export the model at first start into WEFT_EMBEDDING_CACHE_DIR and fall back to "
        "torch, with a log line, where that fails.",
    )
    embedding_cache_dir: str = Field(
        "",
        description="Directory where the ONNX exports of the embedding model are kept; empty "
        "means models/ under WEFT_DATA_DIR.",
    )
    embedding_batch_size: int = Field(64, ge=1, le=4096, description="Texts per forward pass.")
    embedding_threads: int = Field(
        0,
        ge=0,
        le=256,
        description="Threads for embedding (torch or ONNX Runtime); 0 keeps the library's default.",
    )
    embedding_chunk_size: int = Field(
        2048, ge=1, description="Texts embedded and stored per step of an embedding job."
    )
    embedding_fanout_threshold: int = Field(
        4096,
        ge=1,
        description="An embedding job with more distinct texts than this to embed is split "
        "into chunk jobs of about a quarter of it each, which any worker may take.",
    )

    job_runner: Literal["auto", "thread", "process", "celery"] = Field(
        "auto",
        description="How jobs run: 'process' is a job worker process that `weft serve` starts "
        "and supervises beside the web server (same store, lower priority), so an analysis "
        "does not slow reads; 'thread' runs them on background threads of the web server; "
        "'celery' sends them to Celery workers over the broker (`celery -A "
        "app.jobs.celery_runner worker`), which share the database and data directory. "
        "'auto' is 'process' under `weft serve` and 'thread' for an app built in-process "
        "(tests, benchmarks).",
    )
    web_workers: int = Field(
        1,
        ge=1,
        le=32,
        description="Web server processes `weft serve` starts (uvicorn's workers) to share "
        "the requests, so reads use more than one core; with the process runner the `weft "
        "serve` process itself then supervises the one job worker. Each process holds its "
        "own copy of the read caches and of the model.",
    )
    job_relay: str | None = Field(
        None,
        description="Set by `weft serve` for its web processes when web_workers is above 1: "
        "the socket through which they wake the job worker it supervises (not set by hand).",
    )
    job_worker_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="With job_runner=process: how much lower than the web server's the job "
        "worker's CPU priority is (added to its niceness); 0 keeps the same.",
    )
    analysis_warm_up: bool = Field(
        True,
        description="Whether a job worker (the process runner's, or each Celery worker "
        "process) compiles the analysis's numba code in the background when it starts: about "
        "30 s of CPU once, instead of the first analysis above 10,000 narratives waiting on it.",
    )
    job_worker_stop_seconds: float = Field(
        20,
        gt=0,
        description="With job_runner=process: how long the server waits for the job worker to "
        "stop after SIGTERM at shutdown before it kills it; an interrupted job runs again at "
        "the next start.",
    )
    job_worker_restart_seconds: float = Field(
        1,
        gt=0,
        description="With job_runner=process: the first pause before a job worker that died is "
        "started again; it doubles after each quick death, up to 60 s, and starts over once a "
        "worker has lived a minute.",
    )
    broker_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Celery broker (Redis) when job_runner=celery."
    )
    job_queue: str = Field("weft", description="Celery queue the jobs are sent to and read from.")
    job_poll_seconds: float = Field(
        2.0, gt=0, description="How often an idle worker looks for queued jobs."
    )
    job_max_attempts: int = Field(
        2,
        ge=1,
        description="Attempts before a job interrupted by a crash (or whose worker stopped "
        "renewing its lease) is marked failed.",
    )
    job_lease_seconds: float = Field(
        30,
        gt=0,
        description="How long a running job's lease lasts unless its worker renews it; a job "
        "whose lease ran out is re-queued (or failed after job_max_attempts).",
    )
    job_heartbeat_seconds: float = Field(
        10,
        gt=0,
        description="How often a running job renews its lease, and how often each process "
        "looks for expired leases; keep it well under job_lease_seconds.",
    )

    auto_analyze: bool = Field(
        True,
        description="Queue an analysis after each ingest's embedding job; ingests that arrive "
        "while one is waiting share it.",
    )

    signals_enabled: bool = Field(
        True,
        description="Compute tension and polarity signals in each analysis, after its themes "
        "are stored.",
    )
    signals_alpha: float = Field(
        0.05, gt=0, lt=1, description="Level at which corrected p-values flag a signal."
    )
    signals_correction: Literal["holm", "bh"] = Field(
        "bh",
        description="Correction over every test of one analysis: 'bh' (false discovery rate) "
        "or 'holm' (family-wise error).",
    )
    signals_min_count: int = Field(
        20,
        ge=2,
        description="Least narratives with a value a theme (and the rest) needs before its "
        "dyads, triads, declared axes and sentiment are tested.",
    )
    signals_min_choice_count: int = Field(
        10,
        ge=2,
        description="Least answers a theme needs before its multiple-choice and stones "
        "answers are tested.",
    )
    signals_min_sides_count: int = Field(
        30, ge=4, description="Least narratives a theme needs before it is split into two sides."
    )
    signals_min_group_count: int = Field(
        5,
        ge=2,
        description="Least narratives a group needs inside a theme to take part in a "
        "divergence or consensus test; a theme needs two such groups.",
    )
    signals_min_votes_count: int = Field(
        3,
        ge=1,
        description="Least voted (or reacted-to) narratives a theme needs before its votes "
        "are tested; also the least votes a group needs on one narrative.",
    )
    signals_max_groups: int = Field(
        20,
        ge=2,
        description="Attributes with more distinct values than this are not compared as groups.",
    )
    signals_permutations: int = Field(
        999, ge=99, description="Permutations of each permutation test."
    )
    signals_large_project: int = Field(
        10_000,
        ge=1,
        description="Above this many narratives, permutation tests use at most 199 "
        "permutations and the opposing-sides split is skipped (noted on the analysis).",
    )

    max_batch_items: int = Field(
        10_000, ge=1, description="Most narratives accepted in one JSON batch."
    )
    max_text_length: int = Field(
        20_000, ge=1, description="Longest narrative text accepted, in characters."
    )
    max_request_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest request body accepted, in bytes."
    )

    data_dir: str = Field(
        "./var",
        description="Directory where uploaded files are kept (under uploads/) while and after "
        "they are parsed.",
    )
    max_upload_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="Largest upload request (the files and their form fields), in bytes; "
        "413 before the body is read past it. WEFT_MAX_REQUEST_BYTES also applies.",
    )
    max_upload_rows: int = Field(
        500_000,
        ge=1,
        description="Most rows or records read from one uploaded file; a longer file fails "
        "its job and stores nothing.",
    )
    ingest_chunk_size: int = Field(
        1000, ge=1, description="Records checked and inserted per step of an upload job."
    )
    ingest_embed_early: bool = Field(
        True,
        description="Embed an upload's texts on a thread while its rows are stored, so the "
        "embedding job finds them cached.",
    )

    bootstrap_token: str = Field(
        "",
        description="When set, creating a project requires this token as a bearer key; "
        "empty lets anyone who can reach the service create one.",
    )

    # --- privacy: pseudonym secret, raw-file retention ---
    pseudonym_secret: str = Field(
        "",
        description="The service secret every project's pseudonym key is derived from "
        "(64 hex digits). Empty: read it from WEFT_PSEUDONYM_SECRET_FILE, created on first "
        "start. Changing it gives every author a new pseudonym from then on.",
    )
    pseudonym_secret_file: str = Field(
        "",
        description="File holding the pseudonym secret and the keys of projects created "
        "before it existed (mode 0600; the service refuses a file group or others can read). "
        "Empty means <WEFT_DATA_DIR>/secrets/pseudonyms.json. Back it up with the database.",
    )
    raw_retention_days: int = Field(
        7,
        ge=0,
        description="Days an uploaded batch, SenseMaker or Polis file is kept after it is "
        "stored, to look into its report; 0 deletes it as soon as it is stored. Chat exports "
        "and transcripts are never kept past their parse unless the project keeps them.",
    )

    # --- job lanes and time limits ---
    job_lanes: int = Field(
        2,
        ge=1,
        le=64,
        description="Jobs the in-process runner runs at once (threads). A lane takes the oldest "
        "queued job of a project with no job running, so one project's jobs run one after "
        "another and never hold every lane while another project waits.",
    )
    job_time_limit_ingest: float = Field(
        1800,
        ge=0,
        description="Seconds an ingest job may run; past it the job stops at its next check "
        "point and fails, and so does its upload. 0 means no limit.",
    )
    job_time_limit_embed: float = Field(
        7200,
        ge=0,
        description="Seconds an embedding job may run (the vectors stored before it stopped "
        "are kept: they are a cache). 0 means no limit.",
    )
    job_time_limit_analyze: float = Field(
        7200,
        ge=0,
        description="Seconds an analysis job may run, its own embedding included; past it the "
        "job and its analysis fail and the previous analysis stays current. 0 means no limit.",
    )
    job_hard_limit_grace: float = Field(
        60,
        ge=1,
        description="Celery only: seconds after a kind's limit when the worker raises its soft "
        "time limit in the job, and as many again when it kills the process (the worker pool "
        "must be prefork, which supports time limits).",
    )


def configure_logging(settings: Settings) -> None:
    """How every Weft process logs: one line per record, with the process id (a server of
    several web processes and a job worker writes to one terminal)."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
    )
