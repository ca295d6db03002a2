"""Pseudonyms: a stable keyed hash per project, so one person keeps one pseudonym.

The key is not in the database (app/services/pseudonym_secret.py): a project's key is derived
from the service secret, or is its pre-secret key kept in the secret file's keyring.
"""

from __future__ import annotations

import hashlib
import hmac

from app.services import pseudonym_secret
from models import Project
from pipelines.embed import normalize_text


def project_key(project: Project) -> str:
    """The project's pseudonym key (a key still in the database until start-up moves it)."""
    return project.pseudonym_key or pseudonym_secret.current().key_for(project.id)


def pseudonym(project: Project, author: str | None) -> str | None:
    """The name to store for `author` under the project's privacy setting."""
    if author is None or not author.strip():
        return None
    name = normalize_text(author)
    if project.keep_author_names:
        return name
    digest = hmac.new(
        project_key(project).encode("ascii"), name.casefold().encode("utf-8"), hashlib.sha256
    ).hexdigest()
    return f"person-{digest[:10]}"
