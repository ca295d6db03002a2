"""Migrations in two phases, so the running release keeps serving while the next one's apply.

Every migration is either an **expand** (the default) or a **contract** step. An expand step only
adds: tables, indexes, nullable columns or columns with a server default, and relaxes
constraints. Code written for the schema before it keeps working after it, because the ORM names
the columns it reads and writes. A contract step removes or tightens something the previous
release still uses (drops a column, renames a table, makes a column NOT NULL); its module says
``phase = "contract"``, and it is applied only once no process of the previous release runs.

`weft migrate --expand` applies the pending migrations up to the first contract step;
`weft migrate` applies all of them. `breaking_operations` reads a migration's source and names
the operations that would break the previous release, so an expand step that contracts is
caught by the tests before it ships.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Phase = Literal["expand", "contract"]

#: Operations that take away what the previous release reads or writes.
_ALWAYS_BREAKING = frozenset({"drop_table", "drop_column", "rename_table"})

#: `alter_column` arguments that change a column under the previous release.
_BREAKING_ALTERS = frozenset({"new_column_name", "type_", "server_default"})


@dataclass(frozen=True)
class Step:
    """One migration: its revision and phase."""

    revision: str
    phase: Phase


def phase_of(module: Any) -> Phase:
    """The phase a migration module declares; an undeclared one is an expand step."""
    declared = getattr(module, "phase", "expand")
    if declared not in ("expand", "contract"):
        raise ValueError(f"migration {module.__name__}: phase must be 'expand' or 'contract'")
    return "contract" if declared == "contract" else "expand"


def expand_target(pending: Sequence[Step]) -> str | None:
    """The last revision `weft migrate --expand` may apply of `pending` (oldest first): the one
    before the first contract step. None when the first pending step is a contract one (or
    nothing is pending)."""
    target: str | None = None
    for step in pending:
        if step.phase == "contract":
            break
        target = step.revision
    return target


def _upgrade(tree: ast.Module) -> ast.FunctionDef | None:
    return next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None
    )


def _is_false(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _alter_breaks(call: ast.Call) -> str | None:
    for keyword in call.keywords:
        if keyword.arg in _BREAKING_ALTERS:
            return f"alter_column({keyword.arg}=...)"
        if keyword.arg == "nullable" and _is_false(keyword.value):
            return "alter_column(nullable=False)"
    return None


def _adds_required_column(call: ast.Call) -> bool:
    """add_column(Column(..., nullable=False)) with no server default: the previous release's
    inserts would leave it empty and fail."""
    for arg in call.args:
        if not (isinstance(arg, ast.Call) and getattr(arg.func, "attr", None) == "Column"):
            continue
        keywords = {k.arg: k.value for k in arg.keywords}
        required = "nullable" in keywords and _is_false(keywords["nullable"])
        if required and "server_default" not in keywords:
            return True
    return False


def _on_op(call: ast.Call) -> bool:
    """A call on Alembic's `op` (a data backfill through a connection is not schema)."""
    target = call.func.value  # type: ignore[attr-defined]
    return isinstance(target, ast.Name) and target.id == "op"


def _calls(nodes: Iterable[ast.AST]) -> Iterable[ast.Call]:
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                yield node


def breaking_operations(source: str) -> list[str]:
    """The operations in a migration's `upgrade()` that the previous release cannot run beside:
    drops, renames, type and default changes, NOT NULL, and required columns added without a
    server default. Raw SQL (`op.execute`) is listed too, since it cannot be read."""
    upgrade = _upgrade(ast.parse(source))
    if upgrade is None:
        return []
    found: list[str] = []
    for call in _calls(upgrade.body):
        name = call.func.attr  # type: ignore[attr-defined]
        if name in _ALWAYS_BREAKING:
            found.append(name)
        elif name == "alter_column":
            broken = _alter_breaks(call)
            if broken:
                found.append(broken)
        elif name == "add_column" and _adds_required_column(call):
            found.append("add_column(nullable=False, no server_default)")
        elif name == "execute" and _on_op(call):
            found.append("execute(raw SQL)")
    return found
