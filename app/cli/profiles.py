"""Named connections (url, key, project) in a config file only its owner can read.

The file is `$WEFT_CONFIG_DIR/profiles.json`, else `$XDG_CONFIG_HOME/weft/profiles.json`,
else `~/.config/weft/profiles.json`. It is written with mode 0600 in a 0700 directory, to a
new file renamed over the old one, so a key is never readable by others, even for a moment.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FILE_NAME = "profiles.json"


@dataclass(frozen=True)
class Profile:
    url: str | None = None
    key: str | None = None
    project: str | None = None


def config_dir() -> Path:
    explicit = os.environ.get("WEFT_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "weft"


def profiles_path() -> Path:
    return config_dir() / FILE_NAME


def load_profiles() -> dict[str, Profile]:
    """Every saved profile by name; none when there is no file yet."""
    path = profiles_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ProfileFileError(f"cannot read {path}: {exc}; fix or delete it") from exc
    if not isinstance(raw, dict):
        raise ProfileFileError(f"{path} is not a JSON object of profiles; fix or delete it")
    fields = set(Profile.__dataclass_fields__)
    return {
        name: Profile(**{k: v for k, v in entry.items() if k in fields})
        for name, entry in raw.items()
        if isinstance(entry, dict)
    }


def save_profiles(profiles: dict[str, Profile]) -> Path:
    """Write `profiles` (mode 0600) and answer the file's path."""
    path = profiles_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staged = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump({name: asdict(p) for name, p in sorted(profiles.items())}, file, indent=2)
        os.chmod(staged, 0o600)
        os.replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return path


class ProfileFileError(Exception):
    """The profiles file exists but cannot be used."""
