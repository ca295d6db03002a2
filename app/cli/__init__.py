"""`weft`: the whole service from a terminal (Typer commands over the HTTP API).

Data goes to stdout, messages and progress to stderr; exit codes are 0 (done), 1 (the
request or job failed), 2 (usage error) and 130 (Ctrl-C stopped the waiting, not the job).
"""

from __future__ import annotations

import typer

from app.cli import admin, files, jobs, ops, results, uploads

app = typer.Typer(
    name="weft",
    help="Weft from the command line: run the service, upload, analyse, read the results.",
    no_args_is_help=True,
    # a traceback's locals could show the API key
    pretty_exceptions_enable=False,
)

app.add_typer(admin.project_app, name="project")
app.add_typer(admin.key_app, name="key")
app.add_typer(admin.profile_app, name="profile")
app.add_typer(files.export_app, name="export")

_COMMANDS = (
    (ops.serve, "serve", "weft serve --port 8000"),
    (
        ops.worker,
        "worker",
        "WEFT_DATABASE_URL=postgresql+psycopg://... weft worker --concurrency 2",
    ),
    (ops.migrate, "migrate", "WEFT_DATABASE_URL=sqlite:///./weft.db weft migrate"),
    (ops.doctor, "doctor", "weft doctor --json"),
    (
        uploads.upload,
        "upload",
        "weft upload meeting_saved_chat.txt --session 'June circle' --held-on 2026-06-04 --wait",
    ),
    (results.analyse, "analyse", "weft analyse --seed 0 --wait"),
    (results.themes, "themes", "weft themes --level leaf --format csv > themes.csv"),
    (results.theme, "theme", "weft theme td597edf7"),
    (results.trends, "trends", "weft trends --by attribute:role --by period:month"),
    (results.tensions, "tensions", "weft tensions --flagged --json"),
    (files.report, "report", "weft report 12 --format pdf -o june-circle.pdf"),
    (jobs.jobs, "jobs", "weft jobs 5b0e... --wait"),
)
for command, name, example in _COMMANDS:
    app.command(name, epilog=f"Example: {example}")(command)


def main() -> None:
    """The `weft` console script."""
    app(prog_name="weft")
