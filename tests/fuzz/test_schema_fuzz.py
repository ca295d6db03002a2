"""Fuzz every operation of the OpenAPI with schemathesis, seeded and bounded: positive cases
aimed at the seeded project's real ids, positive cases with generated ids, and negative
cases; any 5xx, undeclared status, wrong content type or body off its schema fails.

The run writes its counts (operations, requests, answers by status class, 5xx) to the
terminal summary and to WEFT_FUZZ_REPORT (default: .screenshots/fuzz-summary.txt).
DELETE operations run last, each against a project seeded afresh, so none of them
destroys what the other operations read.
"""

from __future__ import annotations

import os
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.config import Settings
from app.main import create_app
from tests.conftest import CountingEmbedder
from tests.fuzz.seed import Seeded, seed

pytestmark = pytest.mark.fuzz

ROOT = Path(__file__).resolve().parents[2]

#: Examples per operation: aimed at real ids, generated, and invalid on purpose.
AIMED, GENERATED, NEGATIVE = 15, 15, 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

Scope = dict[str, Any]
ASGI = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


def without_lifespan(app: ASGI) -> ASGI:
    """The app as schemathesis sees it: the test's client owns the lifespan (one runtime)."""

    async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await app(scope, receive, send)

    return wrapped


@dataclass
class Tally:
    operations: list[str] = field(default_factory=list)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    by_class: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.by_class.values())

    def lines(self) -> list[str]:
        classes = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_class.items()))
        out = [
            f"operations: {len(self.operations)}",
            f"requests: {self.requests}",
            f"by status class: {classes}",
            f"5xx: {self.by_class.get('5xx', 0)}",
            f"failed checks: {len(self.failures)}",
        ]
        for operation in self.operations:
            counts = sorted((s, n) for (o, s), n in self.statuses.items() if o == operation)
            out.append(f"  {operation}: " + " ".join(f"{s}x{n}" for s, n in counts))
        out += [f"FAIL {failure}" for failure in self.failures[:50]]
        return out


REPORT: list[str] = []


@pytest.fixture
def fuzz_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=str(tmp_path / "data"),
        job_poll_seconds=0.1,
        auto_analyze=False,
    )


@pytest.fixture
def fuzz_client(fuzz_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(fuzz_settings, embedder=CountingEmbedder())) as client:
        yield client


def _drive(strategy: Any, examples: int, where: str, tally: Tally) -> None:
    """Send `examples` cases drawn from `strategy`, seeded; count answers, collect failures."""

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=strategy)
    def one(case: Any) -> None:
        try:
            response = case.call()
        except Exception as exc:
            # the in-process client raises what the app did not handle: a 500 to a real client
            tally.by_class["5xx"] += 1
            tally.statuses[(where.split(" [")[0], 500)] += 1
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            tally.failures.append(
                f"{where} raised {type(exc).__name__}: {exc} (at {frame.filename}:{frame.lineno})"
                f" | {case.as_curl_command()}"
            )
            return
        status = response.status_code
        tally.by_class[f"{status // 100}xx"] += 1
        tally.statuses[(where.split(" [")[0], status)] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # collected; the run goes on
            first = str(exc).strip().splitlines()
            tally.failures.append(f"{where} {status}: {' | '.join(first[:9])}")

    # Unsatisfiable: nothing to vary (no parameter or body), or no invalid input can be built
    with suppress(Unsatisfiable):
        one()


def _run(operation: Any, seeded: Seeded, tally: Tally) -> None:
    label = operation.label
    params = {p.name for p in operation.path_parameters}
    real = {name: value for name, value in seeded.ids.items() if name in params}
    fixed = {"project_id": seeded.ids["project_id"]} if "project_id" in params else {}
    aimed = AIMED if real.keys() - fixed.keys() else 0
    plans = [
        (GenerationMode.POSITIVE, real, aimed),
        (GenerationMode.POSITIVE, fixed, GENERATED + AIMED - aimed),
        (GenerationMode.NEGATIVE, fixed, NEGATIVE),
    ]
    for mode, path_parameters, examples in plans:
        if examples:
            strategy = operation.as_strategy(
                generation_mode=mode, path_parameters=path_parameters, headers=seeded.headers
            )
            _drive(strategy, examples, f"{label} [{mode.value}]", tally)
    tally.operations.append(label)


def test_every_operation_survives_the_fuzzer(fuzz_client: TestClient) -> None:
    app = fuzz_client.app
    schema = schemathesis.openapi.from_asgi("/openapi.json", without_lifespan(app))  # type: ignore[arg-type]
    operations = [result.ok() for result in schema.get_all_operations()]
    # destructive operations last, each on a fresh project
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))
    tally = Tally()
    seeded = seed(fuzz_client)
    for operation in operations:
        if operation.method.upper() == "DELETE":
            seeded = seed(fuzz_client, f"Fuzzed before {operation.label}")
        _run(operation, seeded, tally)
    lines = tally.lines()
    REPORT[:] = lines
    target = Path(os.environ.get("WEFT_FUZZ_REPORT") or ROOT / ".screenshots" / "fuzz-summary.txt")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n")
    assert len(tally.operations) >= 25
    assert tally.by_class.get("5xx", 0) == 0 and not tally.failures, "\n".join(lines)
