"""Which Weft to talk to, with which key, and the HTTP calls themselves.

Each of url, key and project comes from its option, else its environment variable
(WEFT_URL, WEFT_API_KEY, WEFT_PROJECT), else the profile (--profile or WEFT_PROFILE, else
the profile named `default` when there is one). A key given as --key is visible to every
user of the machine in `ps` for as long as the command runs: prefer the variable or a
profile. Commands get these options from `connected`, which hands them an `Api`.
"""

from __future__ import annotations

import functools
import inspect
import os
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import typer

from app.cli.console import Failed, Output, exits_on_failure
from app.cli.profiles import Profile, ProfileFileError, load_profiles

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_PROFILE = "default"

_CONNECT_HELP = "Connection (else WEFT_URL, WEFT_API_KEY, WEFT_PROJECT, or a profile)"
_OUTPUT_HELP = "Output"

Url = Annotated[
    str | None, typer.Option("--url", help="Weft's address.", rich_help_panel=_CONNECT_HELP)
]
Key = Annotated[
    str | None,
    typer.Option(
        "--key",
        help="API key. Visible to others in `ps`: prefer WEFT_API_KEY or a profile.",
        rich_help_panel=_CONNECT_HELP,
    ),
]
ProjectId = Annotated[
    str | None, typer.Option("--project", help="Project id.", rich_help_panel=_CONNECT_HELP)
]
ProfileName = Annotated[
    str | None,
    typer.Option(
        "--profile", envvar="WEFT_PROFILE", help="Saved profile.", rich_help_panel=_CONNECT_HELP
    ),
]
Quiet = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No messages or progress.", rich_help_panel=_OUTPUT_HELP),
]
AsJson = Annotated[
    bool, typer.Option("--json", help="Print JSON on stdout.", rich_help_panel=_OUTPUT_HELP)
]


@dataclass(frozen=True)
class Connection:
    url: str
    key: str | None
    project: str | None


def resolve(
    url: str | None, key: str | None, project: str | None, profile: str | None
) -> Connection:
    """Options first, then the environment, then the profile."""
    try:
        saved = load_profiles()
    except ProfileFileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--profile") from exc
    if profile is not None and profile not in saved:
        known = ", ".join(sorted(saved)) or "none yet: `weft profile add NAME ...`"
        raise typer.BadParameter(
            f"no profile {profile!r} (profiles: {known})", param_hint="--profile"
        )
    chosen = saved.get(profile or DEFAULT_PROFILE, Profile())
    return Connection(
        url=(url or os.environ.get("WEFT_URL") or chosen.url or DEFAULT_URL).rstrip("/"),
        key=key or os.environ.get("WEFT_API_KEY") or chosen.key,
        project=project or os.environ.get("WEFT_PROJECT") or chosen.project,
    )


class Api:
    """Weft's HTTP API: answers as JSON, errors as `Failed` carrying the problem's detail."""

    def __init__(self, connection: Connection, out: Output) -> None:
        self.connection = connection
        self.out = out
        headers = {"User-Agent": "weft-cli"}
        if connection.key:
            headers["Authorization"] = f"Bearer {connection.key}"
        self.http = httpx.Client(
            base_url=connection.url, headers=headers, timeout=httpx.Timeout(120, connect=10)
        )

    def close(self) -> None:
        self.http.close()

    @property
    def project(self) -> str:
        if not self.connection.project:
            raise typer.BadParameter(
                "which project? Give --project, set WEFT_PROJECT, or use a profile with one",
                param_hint="--project",
            )
        return self.connection.project

    def in_project(self, path: str = "") -> str:
        return f"/v1/projects/{self.project}{path}"

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; a transport error or an error status is `Failed`."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from exc
        if response.is_error:
            raise ApiError.of(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params).json()

    def post(self, path: str, body: Any) -> Any:
        return self.call("POST", path, json=body).json()

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path).json()

    def pages(self, path: str, items: str = "items", **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, a page at a time."""
        offset = 0
        while True:
            page = self.get(path, offset=offset, **params)
            yield from page[items]
            offset += len(page[items])
            if not page[items] or offset >= page["total"]:
                return

    def unreachable(self, exc: Exception) -> Failed:
        return Failed(
            f"cannot reach Weft at {self.connection.url} ({type(exc).__name__}: {exc}); "
            "is it running (`weft serve`), and is --url or WEFT_URL right?"
        )


class ApiError(Failed):
    """An error answer, with its status and problem+json detail."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    @classmethod
    def of(cls, response: httpx.Response) -> ApiError:
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        if not isinstance(problem, dict):
            problem = {}
        detail = str(problem.get("detail") or response.reason_phrase or "no detail")
        found = [
            f"{e.get('field') or 'body'}: {e.get('message')}"
            + (f" (item {e['index']})" if e.get("index") is not None else "")
            for e in problem.get("errors") or []
            if isinstance(e, dict)
        ]
        hint = (
            " (check --key, WEFT_API_KEY or the profile's key)"
            if response.status_code == 401
            else ""
        )
        text = f"{response.status_code} {problem.get('title') or response.reason_phrase}: {detail}"
        return cls(response.status_code, "; ".join([text + hint, *found[:10]]))


# named apart from the commands' own parameters (`weft theme KEY`)
_CONNECTION_OPTIONS = ("weft_url", "weft_key", "weft_project", "weft_profile")
_OPTIONS = {
    "weft_url": Url,
    "weft_key": Key,
    "weft_project": ProjectId,
    "weft_profile": ProfileName,
    "quiet": Quiet,
    "as_json": AsJson,
}
_OUTPUT_OPTIONS = {"quiet": Quiet, "as_json": AsJson}


def _with_options(
    func: Callable[..., None], added: dict[str, Any], call: Callable[[dict[str, Any]], None]
) -> Callable[..., None]:
    """`func` with its first parameter replaced by the `added` options, for Typer to read."""
    hints = typing.get_type_hints(func, include_extras=True)
    own = list(inspect.signature(func).parameters.values())[1:]
    params = [p.replace(annotation=hints[p.name]) for p in own]
    params += [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=False if name in _OUTPUT_OPTIONS else None,
            annotation=kind,
        )
        for name, kind in added.items()
    ]

    @functools.wraps(func)
    @exits_on_failure
    def command(**given: Any) -> None:
        call(given)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    del command.__wrapped__
    return command


def connected(func: Callable[..., None]) -> Callable[..., None]:
    """Give command `func(api, ...)` the connection and output options and an `Api`."""

    def call(given: dict[str, Any]) -> None:
        out = Output(bool(given.pop("quiet")), bool(given.pop("as_json")))
        found = resolve(*(given.pop(name) for name in _CONNECTION_OPTIONS))
        api = Api(found, out)
        try:
            func(api, **given)
        finally:
            api.close()

    return _with_options(func, _OPTIONS, call)


def reporting(func: Callable[..., None]) -> Callable[..., None]:
    """Give command `func(out, ...)` the --quiet and --json options and an `Output`."""

    def call(given: dict[str, Any]) -> None:
        func(Output(bool(given.pop("quiet")), bool(given.pop("as_json"))), **given)

    return _with_options(func, _OUTPUT_OPTIONS, call)
