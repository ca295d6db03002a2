"""Revising stored analyses when narratives are deleted.

Every analysis that held a deleted narrative gets its counts, sizes and shares recounted, the
themes and sub-themes the narrative was in described again from their remaining members with
the labelling code the analysis used (`ThemeDescriber`: keywords, label, exemplars), and its
signals cleaned of the narrative's exemplars, quotes and words. A theme left with no member
keeps its key but says so in its label and flags.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.services.analyses import used_parameters
from app.services.embeddings import load_vectors
from app.services.incremental import EMERGING
from models import Analysis, Narrative, Signal, Theme, ThemeAssignment
from pipelines.embed import Embedder, unit_rows
from pipelines.themes import ThemeDescriber

#: The label and flag of a theme whose every member was deleted.
EMPTIED = "emptied"
EMPTIED_LABEL = "(no narratives left)"
#: Said in a signal's evidence once deleted narratives were taken out of it.
SIGNAL_NOTE = (
    "narratives were deleted after this signal was computed: their exemplars, quotes and "
    "words are taken out here; its statistics are recomputed by the next analysis"
)
_WORD = re.compile(r"[^\W\d_][^\W_]*", re.UNICODE)
_CHUNK = 500
#: From this many narratives `ThemeDescriber.count` keeps only phrases found in two of them.
_MIN_DF_FROM = 1000


@dataclass
class Touch:
    """What one analysis held of the narratives about to be deleted."""

    theme_ids: set[int] = field(default_factory=set)
    incremental: int = 0
    incremental_unassigned: int = 0


@dataclass
class Revision:
    analyses: int = 0
    themes: int = 0


def chunks(ids: Sequence[int], size: int = _CHUNK) -> Iterable[list[int]]:
    """`ids` in lists of at most `size`, so no statement passes a backend's parameter limit."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def touched(session: Session, ids: Sequence[int]) -> dict[int, Touch]:
    """Analysis id -> the themes, sub-themes and placements of `ids` it holds (read before
    the narratives go, since their assignments go with them)."""
    out: dict[int, Touch] = defaultdict(Touch)
    emerging = _emerging_theme_ids(session, ids)
    for chunk in chunks(ids):
        for analysis_id, theme_id, subtheme_id, incremental in session.execute(
            select(
                ThemeAssignment.analysis_id,
                ThemeAssignment.theme_id,
                ThemeAssignment.subtheme_id,
                ThemeAssignment.incremental,
            ).where(ThemeAssignment.narrative_id.in_(chunk))
        ):
            touch = out[analysis_id]
            touch.theme_ids.update(t for t in (theme_id, subtheme_id) if t is not None)
            if incremental:
                touch.incremental += 1
                if theme_id is None or theme_id in emerging:
                    touch.incremental_unassigned += 1
    return dict(out)


def _emerging_theme_ids(session: Session, ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in chunks(ids):
        rows = session.execute(
            select(Theme.id, Theme.flags)
            .join(ThemeAssignment, ThemeAssignment.theme_id == Theme.id)
            .where(ThemeAssignment.narrative_id.in_(chunk), ThemeAssignment.incremental)
        )
        found.update(theme_id for theme_id, flags in rows if EMERGING in (flags or []))
    return found


def revise(
    session: Session,
    touches: dict[int, Touch],
    removed_ids: set[int],
    removed_texts: list[str],
    embedder: Embedder | None = None,
) -> Revision:
    """Recount and describe again every analysis in `touches`, once the narratives are gone;
    `embedder` ranks the new names as the analysis did, when it named with the same model."""
    revision = Revision()
    words = {w.casefold() for text in removed_texts for w in _WORD.findall(text)}
    texts = {t.strip() for t in removed_texts if t.strip()}
    analyses = [session.get_one(Analysis, i) for i in sorted(touches)]
    members = {a.id: _members(session, a.id) for a in analyses}
    shared = _SharedCounts(session, analyses, members, touches)
    for analysis in analyses:
        touch = touches[analysis.id]
        revision.themes += _revise_analysis(
            session, analysis, touch, removed_ids, members[analysis.id], shared, embedder
        )
        touched_keys = set(
            session.scalars(select(Theme.key).where(Theme.id.in_(touch.theme_ids or {-1})))
        )
        _clean_signals(session, analysis.id, removed_ids, texts, words, touched_keys)
        revision.analyses += 1
    session.flush()
    return revision


@dataclass
class _Member:
    narrative_id: int
    theme_id: int | None
    subtheme_id: int | None
    x: float | None
    y: float | None
    text_hash: str


def _members(session: Session, analysis_id: int) -> list[_Member]:
    rows = session.execute(
        select(
            ThemeAssignment.narrative_id,
            ThemeAssignment.theme_id,
            ThemeAssignment.subtheme_id,
            ThemeAssignment.x,
            ThemeAssignment.y,
            Narrative.text_hash,
        )
        .join(Narrative, Narrative.id == ThemeAssignment.narrative_id)
        .where(ThemeAssignment.analysis_id == analysis_id)
        .order_by(ThemeAssignment.narrative_id)
    )
    return [_Member(*row) for row in rows]


class _SharedCounts:
    """The texts and phrase counts of every remaining narrative the revised analyses hold,
    read and counted once for all of them: counting is the costly part of describing, and
    successive analyses of a project share most of their narratives.

    An analysis's counts are the rows of its members, keeping the phrases in at least
    ``min_df`` of them, which is what counting its texts alone gives (`ThemeDescriber.count`
    keeps phrases in two narratives from 1,000 narratives up, else in one); when the
    analyses fall on both sides of that size each is counted on its own instead.
    """

    def __init__(
        self,
        session: Session,
        analyses: list[Analysis],
        members: dict[int, list[_Member]],
        touches: dict[int, Touch],
    ) -> None:
        wanted = {
            m.narrative_id for a in analyses if touches[a.id].theme_ids for m in members[a.id]
        }
        self.texts: dict[int, str] = {}
        for chunk in chunks(sorted(wanted), 5000):
            rows = session.execute(
                select(Narrative.id, Narrative.text).where(Narrative.id.in_(chunk))
            )
            self.texts.update((narrative_id, text) for narrative_id, text in rows)
        order = sorted(self.texts)
        self._row = {narrative_id: r for r, narrative_id in enumerate(order)}
        big = len(order) >= _MIN_DF_FROM
        sizes = [len(members[a.id]) for a in analyses if touches[a.id].theme_ids]
        self._uniform = all((n >= _MIN_DF_FROM) == big for n in sizes)
        self._counted = (
            ThemeDescriber().count([self.texts[i] for i in order])
            if self._uniform and order
            else None
        )

    def counts(self, members: list[_Member]) -> tuple[sp.csr_matrix, Any] | None:
        """Phrase counts of `members` (rows in their order) and the phrases, or None."""
        if not members:
            return None
        if not self._uniform:
            return ThemeDescriber().count([self.texts[m.narrative_id] for m in members])
        if self._counted is None:
            return None
        matrix, vocab = self._counted
        sub = sp.csr_matrix(matrix[[self._row[m.narrative_id] for m in members]])
        frequency = np.asarray((sub > 0).sum(axis=0)).ravel()
        keep = np.flatnonzero(frequency >= (2 if len(members) >= _MIN_DF_FROM else 1))
        if keep.size == 0:
            return None
        return sp.csr_matrix(sub[:, keep]), vocab[keep]


def _revise_analysis(
    session: Session,
    analysis: Analysis,
    touch: Touch,
    removed_ids: set[int],
    members: list[_Member],
    shared: _SharedCounts,
    embedder: Embedder | None = None,
) -> int:
    """Counts of the analysis and its themes, then its touched themes described again."""
    themes = list(
        session.scalars(select(Theme).where(Theme.analysis_id == analysis.id).order_by(Theme.id))
    )
    n = len(members)
    sizes = Counter(m.theme_id for m in members if m.theme_id is not None)
    sizes.update(m.subtheme_id for m in members if m.subtheme_id is not None)
    for theme in themes:
        theme.size = sizes.get(theme.id, 0)
        theme.share = theme.size / n if n else 0.0
        if any(i in removed_ids for i in _ints(theme.exemplars)):
            theme.exemplars = [i for i in _ints(theme.exemplars) if i not in removed_ids]
    clustered = sum(1 for m in members if m.theme_id is not None)
    analysis.narrative_count = n
    analysis.revision += 1
    analysis.unclustered_share = (n - clustered) / n if n else 0.0
    analysis.incremental_count = max(analysis.incremental_count - touch.incremental, 0)
    analysis.incremental_unassigned = max(
        analysis.incremental_unassigned - touch.incremental_unassigned, 0
    )
    redo = [t for t in themes if t.id in touch.theme_ids]
    if not redo:
        return 0
    used = used_parameters(analysis)
    describer = ThemeDescriber(
        n_keywords=_int(used.get("n_keywords"), 10), n_exemplars=_int(used.get("n_exemplars"), 5)
    )
    texts = [shared.texts[m.narrative_id] for m in members]
    counts = shared.counts(members)
    embeddings = _embeddings(session, analysis.model_name, members)
    same_model = embedder is not None and embedder.name == analysis.model_name
    namer = embedder if same_model and used.get("names_embedded") is True else None
    for level in (0, 1):
        at_level = [t for t in themes if t.level == level]
        wanted = [t for t in redo if t.level == level]
        if wanted:
            _describe(describer, texts, counts, embeddings, members, at_level, wanted, level, namer)
    return len(redo)


def _describe(
    describer: ThemeDescriber,
    texts: list[str],
    counts: Any,
    embeddings: np.ndarray | None,
    members: list[_Member],
    at_level: list[Theme],
    wanted: list[Theme],
    level: int,
    namer: Embedder | None = None,
) -> None:
    """Keywords, label, exemplars, centroid and position of `wanted` from their members, with
    document frequencies over every remaining narrative of the analysis; the other themes of
    the level keep their names, which the new ones stay apart from."""
    index = {t.id: i for i, t in enumerate(at_level)}
    owner = [m.theme_id if level == 0 else m.subtheme_id for m in members]
    labels = np.array([index.get(o, -1) if o is not None else -1 for o in owner], dtype=np.int64)
    centroids = np.zeros((len(at_level), embeddings.shape[1])) if embeddings is not None else None
    if embeddings is not None and centroids is not None:
        for i in range(len(at_level)):
            if np.any(labels == i):
                c = embeddings[labels == i].mean(axis=0)
                centroids[i] = c / (np.linalg.norm(c) or 1.0)
    redone = {t.id for t in wanted}
    kept = {index[t.id]: t.label for t in at_level if t.id not in redone and t.label}
    if texts:
        describer.fit(
            texts,
            labels,
            embeddings,
            centroids,
            phrase_counts=counts,
            phrase_embedder=namer if embeddings is not None else None,
            fixed_names=kept,
        )
    for theme in wanted:
        i = index[theme.id]
        inside = np.flatnonzero(labels == i)
        if inside.size == 0:
            _mark_emptied(theme)
            continue
        theme.label = describer.theme_labels_[i]
        theme.keywords = [[term, round(float(w), 6)] for term, w in describer.keywords_[i]]
        theme.exemplars = [members[j].narrative_id for j in describer.exemplars_[i]]
        if centroids is not None:
            theme.centroid = np.asarray(centroids[i], dtype="<f4").tobytes()
        xy = np.array([[members[j].x or 0.0, members[j].y or 0.0] for j in inside])
        # top-level themes sit at their members' median, as the analysis placed them
        centre = (
            np.median(xy, axis=0)
            if level == 0 and EMERGING not in (theme.flags or [])
            else xy.mean(axis=0)
        )
        theme.x, theme.y = float(centre[0]), float(centre[1])


def _mark_emptied(theme: Theme) -> None:
    theme.label = EMPTIED_LABEL
    theme.keywords = []
    theme.exemplars = []
    theme.centroid = None
    theme.flags = [*[f for f in (theme.flags or []) if f != EMPTIED], EMPTIED]


def _embeddings(session: Session, model: str, members: list[_Member]) -> np.ndarray | None:
    """Unit vectors of the members, in order; None when the cache lacks one (exemplars are
    then the first members, as the describer does without embeddings)."""
    if not members:
        return None
    vectors = load_vectors(session, model, [m.text_hash for m in members])
    if any(m.text_hash not in vectors for m in members):
        return None
    return unit_rows(np.stack([vectors[m.text_hash] for m in members]).astype(np.float64))


def _clean_signals(
    session: Session,
    analysis_id: int,
    removed_ids: set[int],
    texts: set[str],
    words: set[str],
    touched_keys: set[str],
) -> None:
    """Exemplar ids, quotes and (for the touched themes) keywords of the deleted narratives
    taken out of the analysis's signals; a signal changed so says it in its evidence."""
    for signal in session.scalars(select(Signal).where(Signal.analysis_id == analysis_id)):
        exemplars = {
            side: [i for i in _ints(ids) if i not in removed_ids]
            for side, ids in (signal.exemplars or {}).items()
        }
        in_theme = bool(touched_keys & {str(k) for k in signal.theme_keys or []})
        evidence = _scrub(signal.evidence or {}, texts, words if in_theme else set())
        if exemplars != signal.exemplars or evidence != signal.evidence:
            signal.exemplars = dict(exemplars)
            signal.evidence = {**evidence, "withdrawn": SIGNAL_NOTE}


def _scrub(value: Any, texts: set[str], words: set[str]) -> Any:
    """`value` without strings quoting a deleted text and without [phrase, weight] pairs
    whose phrase uses one of `words`."""
    if isinstance(value, dict):
        return {k: _scrub(v, texts, words) for k, v in value.items()}
    if isinstance(value, list):
        kept = [v for v in value if not _uses_words(v, words)]
        return [_scrub(v, texts, words) for v in kept]
    if isinstance(value, str) and _quotes(value, texts):
        return None
    return value


def _quotes(value: str, texts: set[str]) -> bool:
    # a short text ("ok", "+1") is only matched whole, so it cannot blank other strings
    return value.strip() in texts or any(len(t) >= 20 and t in value for t in texts)


def _uses_words(item: Any, words: set[str]) -> bool:
    """Whether `item` is a [phrase, weight] pair (a keyword) using one of `words`."""
    if not words or not isinstance(item, list) or len(item) != 2:
        return False
    if not isinstance(item[0], str) or not isinstance(item[1], int | float):
        return False
    return any(w.casefold() in words for w in _WORD.findall(item[0]))


def _ints(values: Any) -> list[int]:
    return [v for v in values if isinstance(v, int)] if isinstance(values, list) else []


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and value > 0 else default
