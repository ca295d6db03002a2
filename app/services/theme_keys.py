"""Theme keys across analyses: matching a new analysis's themes to the previous one's, the
keys they keep or get, and the lineage rows the match records (see docs/architecture.md)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.themes.identity import ThemeMatching, match_themes


def new_key(project_id: str, medoid_narrative_id: int, taken: set[str], level: int = 0) -> str:
    """A key derived from the theme's most central narrative: the same run gives the same keys."""
    salt = 0
    while True:
        material = f"{project_id}:{level}:{medoid_narrative_id}:{salt}".encode()
        key = "t" + hashlib.sha256(material).hexdigest()[:8]
        if key not in taken:
            return key
        salt += 1


@dataclass
class PreviousAnalysis:
    """What the previous analysis found, per level: keys, centroids and members."""

    analysis_id: int
    centroids: dict[int, dict[str, np.ndarray]]
    members: dict[int, dict[str, set[int]]]
    narrative_count: int = 0
    resolution: float | None = None
    #: narratives of the analysis that chose ``resolution`` (it may have been held since)
    chosen_at: int = 0


def match(
    previous: PreviousAnalysis | None,
    level: int,
    centroids: np.ndarray,
    members: list[set[int]],
    seen: set[int],
) -> ThemeMatching | None:
    """Match one level's new themes to the previous analysis's (keys and lineage)."""
    if previous is None:
        return None
    old = {k: c for k, c in previous.centroids.get(level, {}).items() if c.shape[0]}
    if centroids.shape[0] and any(c.shape[0] != centroids.shape[1] for c in old.values()):
        return None  # another embedding model: nothing comparable
    return match_themes(old, previous.members.get(level, {}), centroids, members, new_ids=seen)


def keys_for(
    project_id: str,
    level: int,
    descriptions: list[Any],
    ids: list[int],
    matching: ThemeMatching | None,
    taken: set[str],
) -> list[str]:
    """Each theme's key: the one it keeps from the previous analysis, else a new one."""
    kept = matching.kept() if matching is not None else {}
    taken.update(str(k) for k in kept.values())
    keys: list[str] = []
    for index, description in enumerate(descriptions):
        key = kept.get(index)
        if key is None:
            medoid = ids[description.exemplars[0]] if description.exemplars else index
            key = new_key(project_id, medoid, taken, level)
        taken.add(str(key))
        keys.append(str(key))
    return keys


def lineage_rows(
    analysis_id: int,
    previous: PreviousAnalysis | None,
    level: int,
    matching: ThemeMatching | None,
    keys: list[str],
) -> list[dict[str, Any]]:
    if previous is None or matching is None:
        return []
    return [
        {
            "analysis_id": analysis_id,
            "previous_analysis_id": previous.analysis_id,
            "level": level,
            "kind": event.kind,
            "previous_keys": [str(k) for k in event.previous],
            "current_keys": [keys[i] for i in event.current],
            "overlaps": [[str(k), keys[i], n] for k, i, n in event.overlaps],
            "similarity": None if np.isnan(event.similarity) else float(event.similarity),
        }
        for event in matching.events
    ]
