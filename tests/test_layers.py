"""The house rules of the layout, read from the import graph.

Every import counts, the ones inside functions included (that is how a cycle hides); only
imports under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "bench", "models", "pipelines")


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """Absolute names of the modules imported anywhere in `tree`, but under TYPE_CHECKING."""
    package = module if is_package else module.rpartition(".")[0]
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            yield prefix
            # `from pkg import mod` imports the module pkg.mod when there is one
            yield from (f"{prefix}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Project module -> the project modules it imports."""
    sources = {
        _module_name(path, root): path
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found = set(_imports(tree, name, path.name == "__init__.py"))
        graph[name] = {m for m in found if m in sources and m != name}
    return graph


def cycles(graph: dict[str, set[str]], within: str) -> list[list[str]]:
    """The strongly connected components of more than one module (or a self-loop) among the
    modules under package `within` (Tarjan's algorithm)."""
    nodes = sorted(n for n in graph if n == within or n.startswith(within + "."))
    inside = set(nodes)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node] & inside):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in nodes:
        if node not in index:
            visit(node)
    return found


def _packages_of(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


@pytest.mark.parametrize("package", ["app", "bench"])
def test_no_import_cycle(graph: dict[str, set[str]], package: str) -> None:
    assert cycles(graph, package) == []


def test_bench_modules_share_only_the_harness(graph: dict[str, set[str]]) -> None:
    """No benchmark imports another; what they share is in bench/harness.py."""
    shared = {"bench", "bench.harness"}
    offenders = {
        name: sorted(t for t in targets if t.split(".")[0] == "bench" and t not in shared)
        for name, targets in graph.items()
        if name.startswith("bench.")
    }
    assert {name: found for name, found in offenders.items() if found} == {}
    assert {t for t in graph["bench.harness"] if t.startswith("bench.")} == set()


def test_pipelines_import_neither_app_nor_models(graph: dict[str, set[str]]) -> None:
    offenders = {
        name: sorted(targets)
        for name, targets in graph.items()
        if name.startswith("pipelines") and _packages_of(targets) & {"app", "models"}
        for targets in [{t for t in targets if t.split(".")[0] in ("app", "models")}]
    }
    assert offenders == {}


def test_models_import_no_fastapi() -> None:
    offenders = []
    for path in (ROOT / "models").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = set(_imports(tree, _module_name(path), path.name == "__init__.py"))
        if any(n.split(".")[0] in ("fastapi", "starlette", "app") for n in names):
            offenders.append(path.name)
    assert offenders == []


def test_cycle_finder_sees_imports_inside_functions(tmp_path: Path) -> None:
    """A cycle held together by an import inside a function is still a cycle."""
    pkg = tmp_path / "app"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from app import b\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from app import c\n"
        "def f():\n    from app.a import x\n"
    )
    (pkg / "c.py").write_text("import app.b\n")
    for other in ("bench", "models", "pipelines"):
        (tmp_path / other).mkdir()
    found = cycles(import_graph(tmp_path), "app")
    # a <-> b through the function-level import; b -> c only under TYPE_CHECKING
    assert found == [["app.a", "app.b"]]


ROUTE_BODY_MAX = 15
APP_MODULE_MAX = 600


def _is_route(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated with `@router.<method>(...)`."""
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "router"
        ):
            return True
    return False


def test_routes_only_route() -> None:
    """A route's body (below its signature, docstring included) is at most 15 lines."""
    long: dict[str, int] = {}
    for path in sorted((ROOT / "app" / "routes").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_route(node):
                first, last = node.body[0].lineno, node.body[-1].end_lineno or 0
                if last - first + 1 > ROUTE_BODY_MAX:
                    long[f"{path.name}:{node.name}"] = last - first + 1
    assert long == {}


def test_app_modules_stay_readable() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in (ROOT / "app").rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > APP_MODULE_MAX} == {}
