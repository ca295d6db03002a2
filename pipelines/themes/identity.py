"""Stable theme identity across analyses: keep keys, record splits, merges and endings."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from pipelines.embed import unit_rows

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LineageKind = Literal["continued", "split", "merged", "new", "ended"]

#: A new theme keeps a previous key when the two share at least this share of the smaller one's
#: narratives (counted over narratives present in both analyses).
MIN_CONTAINMENT = 0.5
#: Without shared narratives, a key is kept on centroid cosine similarity alone, at least this.
MIN_CENTROID_SIMILARITY = 0.9
#: A flow between a previous and a new theme counts in the lineage when it holds at least this
#: share of either side's shared narratives.
MIN_FLOW_SHARE = 0.2


@dataclass(frozen=True)
class LineageEvent:
    """One change between two analyses.

    Attributes
    ----------
    kind : {"continued", "split", "merged", "new", "ended"}
        ``continued``: a new theme kept a previous key. ``split``: one previous theme's
        narratives went to several new themes. ``merged``: several previous themes'
        narratives came together in one new theme. ``new``: a new theme no previous theme
        fed. ``ended``: a previous theme with no successor.
    previous : tuple of keys
        Previous themes involved, sorted by key.
    current : tuple of int
        New themes involved (indices into the new analysis), ascending.
    overlaps : tuple of (key, int, int)
        ``(previous key, new index, shared narratives)`` for each flow behind the event.
    similarity : float
        Centroid cosine similarity for ``continued`` events, ``nan`` otherwise.
    """

    kind: LineageKind
    previous: tuple[Hashable, ...]
    current: tuple[int, ...]
    overlaps: tuple[tuple[Hashable, int, int], ...]
    similarity: float = float("nan")


@dataclass(frozen=True)
class ThemeMatching:
    """How the themes of a new analysis relate to those of the previous one.

    Attributes
    ----------
    keys : list
        For each new theme (by index), the previous key it keeps, or ``None`` for a new key.
    events : list of LineageEvent
        Continued, split, merged, new and ended themes; ordered by kind, then by the first
        new index or previous key involved.
    previous_keys : list
        The previous keys, sorted: the order of the columns of ``overlaps`` and ``similarity``.
    overlaps : ndarray of shape (n_new, n_previous)
        Narratives shared by each new and previous theme.
    similarity : ndarray of shape (n_new, n_previous)
        Centroid cosine similarities.
    """

    keys: list[Hashable | None]
    events: list[LineageEvent]
    previous_keys: list[Hashable]
    overlaps: IntArray
    similarity: FloatArray

    def kept(self) -> dict[int, Hashable]:
        """New theme index -> kept key, for the themes that kept one."""
        return {i: k for i, k in enumerate(self.keys) if k is not None}


def _sort_key(key: Hashable) -> tuple[str, str]:
    return (type(key).__name__, str(key))


def match_themes(
    prev_centroids: Mapping[Any, npt.ArrayLike],
    prev_members: Mapping[Any, Set[Any]],
    new_centroids: npt.ArrayLike,
    new_members: Sequence[Set[Any]],
    *,
    new_ids: Set[Any] | None = None,
    min_containment: float = MIN_CONTAINMENT,
    min_similarity: float = MIN_CENTROID_SIMILARITY,
    min_flow_share: float = MIN_FLOW_SHARE,
) -> ThemeMatching:
    """Match the themes of a new analysis to the previous analysis's themes.

    Keys go one-to-one (Hungarian assignment) to the pairs with the largest membership
    overlap (Jaccard over the narratives both analyses saw, plus a small centroid term so
    ties follow the centroids). A pair qualifies when the shared narratives are at least
    ``min_containment`` of the smaller side and the centroids have a positive cosine, or,
    when the two analyses share no narratives at all, when the centroid cosine is at least
    ``min_similarity``. The result depends only on the inputs: no randomness, ties broken
    by index and key order.

    Parameters
    ----------
    prev_centroids : mapping key -> array of shape (n_features,)
        Centroid of every previous theme. Keys are any hashable, sortable-by-``str`` ids.
    prev_members : mapping key -> set of narrative ids
        Narratives of every previous theme (a missing key counts as no members).
    new_centroids : array-like of shape (n_new, n_features)
        Centroid of every new theme.
    new_members : sequence of sets of narrative ids
        Narratives of every new theme, aligned with ``new_centroids``.
    new_ids : set of narrative ids or None
        Every narrative the new analysis saw, clustered or not. Previous members outside it
        (deleted narratives) do not count against a match; ``None`` uses the union of
        ``new_members``, so previous members the new analysis left unclustered are not
        told apart from deleted ones.
    min_containment : float, default=0.5
        Shared share of the smaller side for a key to be kept.
    min_similarity : float, default=0.9
        Centroid cosine for a key to be kept when no narratives are shared.
    min_flow_share : float, default=0.2
        Share of either side for a flow to count in split and merge events.

    Returns
    -------
    ThemeMatching
    """
    keys = sorted(prev_centroids, key=_sort_key)
    new_c = np.asarray(new_centroids, dtype=np.float64)
    n_new = len(new_members)
    if new_c.ndim != 2 or new_c.shape[0] != n_new:
        if n_new == 0:
            new_c = np.zeros((0, 1))
        else:
            raise ValueError(
                f"new_centroids must be (len(new_members), dim); got shape {new_c.shape}"
            )
    n_prev = len(keys)
    if n_prev and n_new:
        prev_c = np.vstack([np.asarray(prev_centroids[k], dtype=np.float64) for k in keys])
        if prev_c.shape[1] != new_c.shape[1]:
            raise ValueError("previous and new centroids must have the same dimension")
        similarity = unit_rows(new_c) @ unit_rows(prev_c).T
    else:
        similarity = np.zeros((n_new, n_prev))

    seen = set(new_ids) if new_ids is not None else set().union(*new_members)
    prev_sets = [set(prev_members.get(k, set())) & seen for k in keys]
    overlaps = np.zeros((n_new, n_prev), dtype=np.int64)
    for j, members in enumerate(prev_sets):
        if not members:
            continue
        for i, current in enumerate(new_members):
            overlaps[i, j] = len(members & current) if len(current) else 0
    prev_sizes = np.array([len(s) for s in prev_sets], dtype=np.float64)
    new_sizes = np.array([len(s) for s in new_members], dtype=np.float64)
    smaller = np.minimum(new_sizes[:, None], prev_sizes[None, :])
    containment = np.divide(overlaps, smaller, out=np.zeros(overlaps.shape), where=smaller > 0)
    union = new_sizes[:, None] + prev_sizes[None, :] - overlaps
    jaccard = np.divide(overlaps, union, out=np.zeros(overlaps.shape), where=union > 0)

    shares_any = bool(overlaps.sum() > 0)
    if shares_any:
        eligible = (containment >= min_containment) & (similarity > 0.0)
        score = jaccard + 1e-3 * similarity
    else:
        eligible = similarity >= min_similarity
        score = similarity.copy()

    kept: list[Hashable | None] = [None] * n_new
    cont_sim: dict[int, float] = {}
    if eligible.any():
        cost = np.where(eligible, -score, 1e6)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            if eligible[r, c]:
                kept[int(r)] = keys[int(c)]
                cont_sim[int(r)] = float(similarity[r, c])

    share_prev = np.divide(
        overlaps, prev_sizes[None, :], out=np.zeros(overlaps.shape), where=prev_sizes[None, :] > 0
    )
    share_new = np.divide(
        overlaps, new_sizes[:, None], out=np.zeros(overlaps.shape), where=new_sizes[:, None] > 0
    )
    flow = (overlaps > 0) & ((share_prev >= min_flow_share) | (share_new >= min_flow_share))

    def flows(pairs: list[tuple[int, int]]) -> tuple[tuple[Hashable, int, int], ...]:
        return tuple((keys[j], i, int(overlaps[i, j])) for i, j in sorted(pairs))

    events: list[LineageEvent] = []
    for i in range(n_new):
        key = kept[i]
        if key is not None:
            j = keys.index(key)
            events.append(LineageEvent("continued", (key,), (i,), flows([(i, j)]), cont_sim[i]))
    for j, key in enumerate(keys):
        children = [i for i in range(n_new) if flow[i, j] and share_prev[i, j] >= min_flow_share]
        if len(children) >= 2:
            events.append(
                LineageEvent("split", (key,), tuple(children), flows([(i, j) for i in children]))
            )
    for i in range(n_new):
        parents = [j for j in range(n_prev) if flow[i, j] and share_new[i, j] >= min_flow_share]
        if len(parents) >= 2:
            events.append(
                LineageEvent(
                    "merged",
                    tuple(keys[j] for j in parents),
                    (i,),
                    flows([(i, j) for j in parents]),
                )
            )
    # Themes no other event explains: a new theme without a kept key, a previous key without
    # a successor. Their minor flows stay on record.
    involved_new = {i for e in events for i in e.current}
    involved_prev = {k for e in events for k in e.previous}
    for i in range(n_new):
        if kept[i] is None and i not in involved_new:
            pairs = [(i, j) for j in range(n_prev) if flow[i, j]]
            events.append(LineageEvent("new", (), (i,), flows(pairs)))
    for j, key in enumerate(keys):
        if key not in involved_prev:
            pairs = [(i, j) for i in range(n_new) if flow[i, j]]
            events.append(LineageEvent("ended", (key,), (), flows(pairs)))
    order = {"continued": 0, "split": 1, "merged": 2, "new": 3, "ended": 4}
    events.sort(
        key=lambda e: (
            order[e.kind],
            e.current[0] if e.current else -1,
            _sort_key(e.previous[0]) if e.previous else ("", ""),
        )
    )
    return ThemeMatching(
        keys=kept,
        events=events,
        previous_keys=list(keys),
        overlaps=overlaps,
        similarity=similarity,
    )
