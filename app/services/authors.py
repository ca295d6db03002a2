"""Pseudonyms: a stable keyed hash per project, so one person keeps one pseudonym."""

from __future__ import annotations

import hashlib
import hmac

from models import Project
from pipelines.embed import normalize_text


def pseudonym(project: Project, author: str | None) -> str | None:
    """The name to store for `author` under the project's privacy setting."""
    if author is None or not author.strip():
        return None
    name = normalize_text(author)
    if project.keep_author_names:
        return name
    digest = hmac.new(
        project.pseudonym_key.encode("ascii"), name.casefold().encode("utf-8"), hashlib.sha256
    ).hexdigest()
    return f"person-{digest[:10]}"
