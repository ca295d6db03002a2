"""Migrations in expand and contract steps: the rule each migration keeps, and `weft migrate`."""

from __future__ import annotations

import ast
import shutil
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from alembic.config import Config
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import OperationalError

from app.cli import ops
from app.schema_release import Step, breaking_operations, expand_target, phase_of

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ROOT / "migrations" / "versions"


def _declared_phase(source: str) -> str:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if "phase" in names and isinstance(node.value, ast.Constant):
                return str(node.value.value)
    return "expand"


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("*.py")), ids=lambda p: p.stem)
def test_expand_steps_leave_the_previous_release_working(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    if _declared_phase(source) == "contract":
        return
    assert breaking_operations(source) == [], (
        f"{path.name} is an expand step but takes away what the running release uses: "
        "split it, or declare phase = 'contract'"
    )


def _upgrade(body: str) -> str:
    return "def upgrade() -> None:\n" + textwrap.indent(textwrap.dedent(body), "    ")


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ('op.drop_column("jobs", "run_token")', ["drop_column"]),
        (
            'with op.batch_alter_table("jobs") as b:\n    b.drop_column("run_token")',
            ["drop_column"],
        ),
        ('op.drop_table("theme_edits")', ["drop_table"]),
        ('op.rename_table("jobs", "tasks")', ["rename_table"]),
        ('op.alter_column("jobs", "kind", nullable=False)', ["alter_column(nullable=False)"]),
        (
            'op.alter_column("jobs", "kind", new_column_name="k")',
            ["alter_column(new_column_name=...)"],
        ),
        ('op.alter_column("jobs", "kind", type_=sa.Text())', ["alter_column(type_=...)"]),
        (
            'op.add_column("jobs", sa.Column("x", sa.Integer(), nullable=False))',
            ["add_column(nullable=False, no server_default)"],
        ),
        ('op.execute("UPDATE jobs SET kind = 1")', ["execute(raw SQL)"]),
        # what an expand step may do
        ('op.add_column("jobs", sa.Column("x", sa.Integer(), nullable=True))', []),
        (
            'op.add_column("jobs", sa.Column("x", sa.Boolean(), server_default=sa.false(), '
            "nullable=False))",
            [],
        ),
        ('op.alter_column("projects", "pseudonym_key", nullable=True)', []),
        ('op.create_index("ix", "jobs", ["kind"])', []),
        ("op.get_bind().execute(sa.text('UPDATE jobs SET x = 0'))", []),
    ],
)
def test_the_rule_names_what_breaks_the_running_release(body: str, found: list[str]) -> None:
    downgrade = '\n\ndef downgrade() -> None:\n    op.drop_table("anything")\n'
    assert breaking_operations(_upgrade(body) + downgrade) == found


def test_expand_stops_before_the_first_contract_step() -> None:
    chain = [
        Step("13", "expand"),
        Step("14", "expand"),
        Step("15", "contract"),
        Step("16", "expand"),
    ]
    assert expand_target(chain) == "14"
    assert expand_target(chain[2:]) is None
    assert expand_target([]) is None
    assert expand_target(chain[:2]) == "14"


def test_a_phase_is_expand_unless_declared() -> None:
    assert phase_of(SimpleNamespace(__name__="m")) == "expand"
    assert phase_of(SimpleNamespace(__name__="m", phase="contract")) == "contract"
    with pytest.raises(ValueError, match="expand' or 'contract"):
        phase_of(SimpleNamespace(__name__="m", phase="later"))


CONTRACT_STEP = '''"""drop a column the previous release still reads

Revision ID: 9999
Revises: {head}
"""

import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None
phase = "contract"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("run_token")


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("run_token", sa.String(32), nullable=True))
'''


@pytest.fixture
def with_contract_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The project's migrations plus one contract step after the head."""
    from alembic.script import ScriptDirectory

    scripts = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", scripts, ignore=shutil.ignore_patterns("__pycache__"))
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(scripts))
    head = ScriptDirectory.from_config(config).get_current_head()
    (scripts / "versions" / "9999_contract.py").write_text(CONTRACT_STEP.format(head=head))

    def configured(url: str) -> Config:
        config.attributes["url"] = url
        return config

    monkeypatch.setattr(ops, "_alembic_config", configured)
    return config


def test_migrate_expand_leaves_contract_steps_for_after_the_switch(
    with_contract_step: Config,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"sqlite:///{tmp_path / 'weft.db'}"
    monkeypatch.setenv("WEFT_DATABASE_URL", url)
    engine = create_engine(url)
    columns = lambda: {c["name"] for c in inspect(engine).get_columns("jobs")}  # noqa: E731

    ops.migrate(expand=True)
    assert "run_token" in columns()
    assert "1 contract step(s) left" in capsys.readouterr().err

    ops.migrate(expand=True)
    assert "9999) is a contract step" in capsys.readouterr().err
    assert "run_token" in columns()

    ops.migrate(expand=False)
    assert "run_token" not in columns()
    assert "applied 9999" in capsys.readouterr().err
    engine.dispose()


def _lock_error() -> OperationalError:
    return OperationalError("ALTER TABLE jobs", {}, SimpleNamespace(sqlstate="55P03"))  # type: ignore[arg-type]


def test_a_step_that_timed_out_on_a_lock_is_tried_again(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []

    def upgrade(config: Any, target: str) -> None:
        calls.append(target)
        if len(calls) < 3:
            raise _lock_error()

    monkeypatch.setattr("alembic.command.upgrade", upgrade)
    monkeypatch.setattr(ops, "LOCK_PAUSE_SECONDS", 0.0)
    ops._upgrade(object(), "head", ops.Output())
    assert calls == ["head", "head", "head"]
    assert capsys.readouterr().err.count("waited too long for a table in use") == 2


def test_other_errors_and_the_last_lock_timeout_are_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(config: Any, target: str) -> None:
        raise OperationalError("ALTER", {}, SimpleNamespace(sqlstate="42P01"))  # type: ignore[arg-type]

    monkeypatch.setattr("alembic.command.upgrade", broken)
    with pytest.raises(OperationalError):
        ops._upgrade(object(), "head", ops.Output())

    tries: list[int] = []

    def always_locked(config: Any, target: str) -> None:
        tries.append(1)
        raise _lock_error()

    monkeypatch.setattr("alembic.command.upgrade", always_locked)
    monkeypatch.setattr(ops, "LOCK_PAUSE_SECONDS", 0.0)
    with pytest.raises(OperationalError):
        ops._upgrade(object(), "head", ops.Output())
    assert len(tries) == ops.LOCK_TRIES
