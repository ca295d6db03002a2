"""Projects, keys and saved profiles. A new key is printed once, when it is made."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated, Any

import typer

from app.cli.connection import Api, Connection, connected, reporting
from app.cli.console import Output
from app.cli.profiles import Profile, load_profiles, profiles_path, save_profiles

project_app = typer.Typer(help="Create a project.", no_args_is_help=True)
key_app = typer.Typer(
    help="Issue, list and revoke a project's keys (admin key).", no_args_is_help=True
)
profile_app = typer.Typer(help="Saved connections: url, key and project.", no_args_is_help=True)


class Scope(StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


def _save_profile(name: str, connection: Connection) -> None:
    profiles = load_profiles()
    profiles[name] = Profile(connection.url, connection.key, connection.project)
    save_profiles(profiles)


@project_app.command(
    "create",
    epilog="Example: weft project create 'Discharge CoP' --save-profile discharge",
)
@connected
def project_create(
    api: Api,
    name: Annotated[str, typer.Argument(help="The project's name.")],
    description: Annotated[str, typer.Option(help="A line about the project.")] = "",
    save_profile: Annotated[
        str | None, typer.Option(help="Save url, project and admin key as this profile.")
    ] = None,
) -> None:
    """Create a project; its id and admin key are printed this once."""
    token = os.environ.get("WEFT_BOOTSTRAP_TOKEN")
    # the bootstrap token, when the server needs one, is the only credential sent here
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"name": name, "description": description}
    api.http.headers.pop("Authorization", None)
    created: dict[str, Any] = api.call("POST", "/v1/projects", json=body, headers=headers).json()
    key = created["admin_key"]["key"]
    if save_profile:
        _save_profile(save_profile, Connection(api.connection.url, key, created["id"]))
        api.out.message(f"saved as profile {save_profile!r} in {profiles_path()}")
    if api.out.as_json:
        api.out.json(created)
        return
    api.out.data(f"project  {created['id']}\nadmin key  {key}")
    api.out.message("the admin key is shown this once: keep it (WEFT_API_KEY or a profile)")


@key_app.command("create", epilog="Example: weft key create --scope read --name dashboard")
@connected
def key_create(
    api: Api,
    scope: Annotated[Scope, typer.Option(help="read, write or admin.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
) -> None:
    """Issue a key; the secret is printed this once."""
    issued = api.post(api.in_project("/keys"), {"scope": scope.value, "name": name})
    if api.out.as_json:
        api.out.json(issued)
        return
    api.out.data(issued["key"])
    api.out.message(f"key {issued['id']} ({issued['scope']}): shown this once, keep it")


@key_app.command("list", epilog="Example: weft key list --profile discharge")
@connected
def key_list(api: Api) -> None:
    """The project's keys: id, scope, name, prefix; never the secrets."""
    keys = api.get(api.in_project("/keys"))
    if api.out.as_json:
        api.out.json(keys)
        return
    rows = [
        [k["id"], k["scope"], k["name"], k["prefix"], k["created_at"], k["revoked_at"] or ""]
        for k in keys
    ]
    api.out.table(["id", "scope", "name", "prefix", "created", "revoked"], rows)


@key_app.command("revoke", epilog="Example: weft key revoke 3f9c0a...")
@connected
def key_revoke(api: Api, key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke a key: it stops working at once."""
    revoked = api.delete(api.in_project(f"/keys/{key_id}"))
    if api.out.as_json:
        api.out.json(revoked)
    else:
        api.out.message(f"key {revoked['id']} revoked")


@profile_app.command(
    "add",
    epilog="Example: WEFT_API_KEY=weft_... weft profile add field --url http://127.0.0.1:8000 "
    "--project 1a2b...  (the key from WEFT_API_KEY keeps it out of `ps`)",
)
@reporting
def profile_add(
    out: Output,
    name: Annotated[str, typer.Argument(help="The profile's name; `default` is used unasked.")],
    url: Annotated[str | None, typer.Option(help="Weft's address.")] = None,
    key: Annotated[
        str | None, typer.Option(help="API key (else WEFT_API_KEY); visible in `ps`.")
    ] = None,
    project: Annotated[str | None, typer.Option(help="Project id (else WEFT_PROJECT).")] = None,
) -> None:
    """Save a connection (file mode 0600); the key is never printed again."""
    profile = Profile(
        url=url or os.environ.get("WEFT_URL"),
        key=key or os.environ.get("WEFT_API_KEY"),
        project=project or os.environ.get("WEFT_PROJECT"),
    )
    profiles = load_profiles()
    profiles[name] = profile
    path = save_profiles(profiles)
    out.message(f"profile {name!r} saved in {path}")


@profile_app.command("list", epilog="Example: weft profile list --json")
@reporting
def profile_list(out: Output) -> None:
    """Saved profiles: name, url, project and whether a key is saved (never the key)."""
    listed = [
        {"name": name, "url": p.url, "project": p.project, "key": "saved" if p.key else None}
        for name, p in sorted(load_profiles().items())
    ]
    if out.as_json:
        out.json(listed)
        return
    out.table(
        ["name", "url", "project", "key"],
        [[p["name"], p["url"], p["project"], p["key"] or "none"] for p in listed],
    )


@profile_app.command("remove", epilog="Example: weft profile remove field")
@reporting
def profile_remove(out: Output, name: Annotated[str, typer.Argument()]) -> None:
    """Forget a saved profile."""
    profiles = load_profiles()
    if profiles.pop(name, None) is None:
        raise typer.BadParameter(f"no profile {name!r}", param_hint="NAME")
    save_profiles(profiles)
    out.message(f"profile {name!r} removed")
