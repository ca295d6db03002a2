"""Every setting of the service, read once from the environment (prefix ``WEFT_``)."""

from __future__ import annotations

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
    host: str = Field("127.0.0.1", description="Address the server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the server listens on.")
    log_level: str = Field("info", description="Python logging level.")

    embedding_model: str = Field(
        "",
        description="sentence-transformers model name or path; empty means the packaged "
        "all-MiniLM-L6-v2, which loads offline.",
    )
    embedding_batch_size: int = Field(64, ge=1, le=4096, description="Texts per forward pass.")
    embedding_threads: int = Field(
        0, ge=0, le=256, description="Torch threads for embedding; 0 keeps torch's default."
    )
    embedding_chunk_size: int = Field(
        2048, ge=1, description="Texts embedded and stored per step of an embedding job."
    )

    job_runner: Literal["thread"] = Field(
        "thread", description="How jobs run: 'thread' is an in-process background worker."
    )
    job_poll_seconds: float = Field(
        2.0, gt=0, description="How often an idle worker looks for queued jobs."
    )
    job_max_attempts: int = Field(
        2, ge=1, description="Attempts before a job interrupted by a crash is marked failed."
    )

    auto_analyze: bool = Field(
        True,
        description="Queue an analysis after each ingest's embedding job; ingests that arrive "
        "while one is waiting share it.",
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

    bootstrap_token: str = Field(
        "",
        description="When set, creating a project requires this token as a bearer key; "
        "empty lets anyone who can reach the service create one.",
    )
