"""What the privacy tests share: the files a test left behind, and the authors it stored."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ProjectHandle

#: The parsers' sample files.
FIXTURES = Path(__file__).resolve().parents[2] / "pipelines" / "ingest" / "fixtures"


def left_files(data_dir: Path) -> list[str]:
    """Every file under the data directory but the pseudonym secret."""
    if not data_dir.exists():
        return []
    return sorted(
        p.relative_to(data_dir).as_posix()
        for p in data_dir.rglob("*")
        if p.is_file() and p.relative_to(data_dir).parts[0] != "secrets"
    )


def authors(project: ProjectHandle) -> list[str]:
    items = project.get("/narratives", limit=100).json()["items"]
    return [n["author"] for n in items]
