"""Naming themes: a short phrase drawn from each theme's own texts.

A theme's name is a span of one to six words cut from one of its most central narratives.
Candidate spans start and end on a content word and never cross a clause boundary. They are
ranked in two stages, so the cost stays bounded however large the analysis:

1. **Distinctiveness** (cheap, every candidate of the theme's central texts): the summed
   c-TF-IDF weight of the span's content words, times the share of the central texts that use
   all of them (a span only one narrative uses names nobody else).
2. **Centrality against the siblings** (the best ``n_candidates`` per theme): the span's vector
   scored by its cosine with its theme's centroid minus ``contrast`` times its best cosine with
   another theme's centroid. Without an embedder the span's vector is the mean of the
   narratives that use all its content words (their vectors are already known); with one, all
   candidates of all themes are embedded in a single batch.

Themes are then named largest first by maximal marginal relevance: a candidate loses
``diversity`` times its cosine with a name already given, and a name already given (up to case
and punctuation) is never given again. A theme whose texts hold no content word ("Nothing.")
is named by its most central text, cut to six words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipelines.embed import unit_rows as _unit_rows

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: At most this many words in a name.
MAX_NAME_WORDS = 6
_CLAUSE = re.compile('[.,;:!?()\\[\\]{}"\u201c\u201d\\n\\r\\t]+|\\s[-\u2013\u2014]+\\s|\\s/\\s')
_TOKEN = re.compile("[^\\W_]+(?:['\u2019-][^\\W_]+)*", re.UNICODE)


def unit_rows(rows: npt.ArrayLike) -> FloatArray:
    return np.asarray(_unit_rows(np.asarray(rows, dtype=np.float64)), dtype=np.float64)


@dataclass(frozen=True)
class Candidate:
    """One span of a central text: its words as written and the stems of its content words."""

    surface: str
    stems: frozenset[str]
    n_words: int


def _key(name: str) -> str:
    return " ".join(_TOKEN.findall(name.casefold()))


def spans(
    text: str,
    is_content: Callable[[str], bool],
    stem: Callable[[str], str],
    max_words: int = MAX_NAME_WORDS,
) -> list[Candidate]:
    """Every span of ``text`` of at most ``max_words`` words, inside one clause, that starts
    and ends on a content word."""
    out: list[Candidate] = []
    for clause in _CLAUSE.split(text):
        tokens = list(_TOKEN.finditer(clause))
        content = [is_content(t.group()) for t in tokens]
        for i, first in enumerate(tokens):
            if not content[i]:
                continue
            for j in range(i, min(i + max_words, len(tokens))):
                if not content[j]:
                    continue
                stems = frozenset(stem(tokens[k].group()) for k in range(i, j + 1) if content[k])
                out.append(Candidate(clause[first.start() : tokens[j].end()], stems, j - i + 1))
    return out


def fallback_name(text: str, max_words: int = MAX_NAME_WORDS) -> str:
    """A text cut to ``max_words`` words, for a theme with no content word to name it by."""
    words = text.split()
    cut = " ".join(words[:max_words]).strip(" .,;:!?-\u2013\u2014\"'")
    return cut + ("…" if len(words) > max_words else "") if cut else text.strip()[:60]


class _Pool:
    """A theme's ranked candidates (after stage 1) with the members each one's words cover."""

    def __init__(self, candidates: list[Candidate], scores: FloatArray, covers: list[IntArray]):
        self.candidates = candidates
        self.scores = scores
        self.covers = covers


def _pool(
    clean: Callable[[str], str],
    texts: Sequence[str],
    central: IntArray,
    weights: Callable[[str], float],
    is_content: Callable[[str], bool],
    stem: Callable[[str], str],
    n_candidates: int,
    prefilter: int,
) -> _Pool:
    by_stems: dict[frozenset[str], Candidate] = {}
    stem_sets: list[set[str]] = []
    for i in central:
        found = spans(clean(texts[int(i)]), is_content, stem)
        stem_sets.append({s for c in found if c.n_words == 1 for s in c.stems})
        for c in found:
            held = by_stems.get(c.stems)
            # the shortest wording of a set of content words reads best; the first one seen
            # (most central text) wins ties
            if held is None or c.n_words < held.n_words:
                by_stems[c.stems] = c
    if not by_stems:
        return _Pool([], np.zeros(0), [])
    pool = list(by_stems.values())
    weight = np.array([sum(weights(s) for s in c.stems) for c in pool])
    order = np.argsort(-weight, kind="stable")[:prefilter]
    pool = [pool[int(i)] for i in order if weight[int(i)] > 0]
    covers: list[IntArray] = []
    scores = np.zeros(len(pool))
    for n, c in enumerate(pool):
        cover = np.array([k for k, held in enumerate(stem_sets) if c.stems <= held], np.int64)
        covers.append(cover)
        scores[n] = weight[int(order[n])] * (cover.size / max(len(central), 1))
    keep = np.argsort(-scores, kind="stable")[:n_candidates]
    return _Pool([pool[int(i)] for i in keep], scores[keep], [covers[int(i)] for i in keep])


def name_themes(
    texts: Sequence[str],
    labels: IntArray,
    word_weights: FloatArray,
    stem_index: dict[str, int],
    is_content: Callable[[str], bool],
    stem: Callable[[str], str],
    embeddings: FloatArray | None = None,
    centroids: FloatArray | None = None,
    embed: Callable[[list[str]], npt.ArrayLike] | None = None,
    clean: Callable[[str], str] = str,
    *,
    n_central: int = 50,
    n_candidates: int = 60,
    prefilter: int = 200,
    contrast: float = 0.75,
    diversity: float = 0.3,
    one_word: float = 0.9,
    min_words: int = 2,
) -> list[str]:
    """A short name for every theme ``0..max(labels)``, distinct among them.

    Parameters
    ----------
    texts : sequence of str
        One text per narrative.
    labels : ndarray of int, shape (n_samples,)
        Theme of each narrative, ``-1`` for none.
    word_weights : ndarray of shape (n_themes, n_stems)
        Per theme, the c-TF-IDF weight of each content-word stem.
    stem_index : dict
        Column of each stem in ``word_weights``.
    is_content, stem : callable
        Whether a word is a content word, and its stem (the describer's own rules).
    embeddings : ndarray of shape (n_samples, n_features) or None
        Unit vectors of the narratives; without them names rank by stage 1 alone and the
        fallback is the first member.
    centroids : ndarray of shape (n_themes, n_features) or None
        Unit theme centroids; the normalised mean member vector when omitted.
    embed : callable or None
        Turns a list of phrases into vectors; when given, candidates are embedded themselves
        (one call for all themes) instead of being placed at their narratives' mean.
    clean : callable, default=str
        Applied to a text before cutting spans (boilerplate taken out).
    n_central : int, default=50
        Most central members whose texts supply candidates.
    n_candidates : int, default=60
        Candidates per theme scored against the centroids.
    prefilter : int, default=200
        Candidates per theme, by content-word weight, whose coverage is counted.
    contrast : float, default=0.75
        Weight of the best cosine with another theme's centroid, subtracted.
    diversity : float, default=0.3
        Weight of the best cosine with a name already given, subtracted.
    one_word : float, default=0.9
        Factor on a one-word candidate's distinctiveness (a phrase reads better).
    min_words : int, default=2
        Shortest name while any candidate of the theme is at least this long.

    Returns
    -------
    list of str
        One name per theme.
    """
    n_themes = int(word_weights.shape[0])
    if n_themes == 0:
        return []
    emb = None if embeddings is None else unit_rows(np.asarray(embeddings, dtype=np.float64))
    members = [np.flatnonzero(labels == t).astype(np.int64) for t in range(n_themes)]
    cents = _centroids(emb, centroids, members)
    central = [_central(emb, cents, t, m, n_central) for t, m in enumerate(members)]
    pools = []
    for t in range(n_themes):
        row = word_weights[t]

        def weight(s: str, row: FloatArray = row) -> float:
            column = stem_index.get(s)
            return float(row[column]) if column is not None else 0.0

        pools.append(
            _pool(clean, texts, central[t], weight, is_content, stem, n_candidates, prefilter)
        )
    vectors = _candidate_vectors(pools, central, emb, embed)
    taken: set[str] = set()
    given: list[FloatArray] = []
    order = sorted(range(n_themes), key=lambda t: (-members[t].size, t))
    out = [""] * n_themes
    for t in order:
        name, vector = _choose(
            t, pools[t], vectors[t], cents, given, taken, contrast, diversity, one_word, min_words
        )
        if not name:
            name = _fallback(texts, central[t], members[t], taken)
        out[t] = name
        taken.add(_key(name))
        if vector is not None:
            given.append(vector)
    return out


def _centroids(
    emb: FloatArray | None, centroids: FloatArray | None, members: list[IntArray]
) -> FloatArray | None:
    if emb is None:
        return None
    if centroids is not None:
        return unit_rows(np.asarray(centroids, dtype=np.float64))
    rows = [emb[m].mean(axis=0) if m.size else np.zeros(emb.shape[1]) for m in members]
    return unit_rows(np.stack(rows))


def _central(
    emb: FloatArray | None, cents: FloatArray | None, t: int, members: IntArray, n: int
) -> IntArray:
    """The theme's members closest to its centroid (its first members without vectors)."""
    if emb is None or cents is None or members.size == 0:
        return members[:n]
    sims = emb[members] @ cents[t]
    return members[np.lexsort((members, -sims))][:n]


def _candidate_vectors(
    pools: list[_Pool],
    central: list[IntArray],
    emb: FloatArray | None,
    embed: Callable[[list[str]], npt.ArrayLike] | None,
) -> list[FloatArray | None]:
    if emb is None:
        return [None] * len(pools)
    if embed is not None:
        phrases = [c.surface for p in pools for c in p.candidates]
        flat = unit_rows(np.asarray(embed(phrases), dtype=np.float64)) if phrases else None
        out: list[FloatArray | None] = []
        start = 0
        for p in pools:
            n = len(p.candidates)
            out.append(flat[start : start + n] if flat is not None and n else None)
            start += n
        return out
    proxies: list[FloatArray | None] = []
    for p, c in zip(pools, central, strict=True):
        if not p.candidates:
            proxies.append(None)
            continue
        rows = [
            emb[c[cover]].mean(axis=0) if cover.size else np.zeros(emb.shape[1])
            for cover in p.covers
        ]
        proxies.append(unit_rows(np.stack(rows)))
    return proxies


def _choose(
    t: int,
    pool: _Pool,
    vectors: FloatArray | None,
    cents: FloatArray | None,
    given: list[FloatArray],
    taken: set[str],
    contrast: float,
    diversity: float,
    one_word: float,
    min_words: int = 1,
) -> tuple[str, FloatArray | None]:
    if not pool.candidates:
        return "", None
    prior = pool.scores / (float(pool.scores.max()) or 1.0)
    prior = prior * np.array([one_word if c.n_words == 1 else 1.0 for c in pool.candidates])
    if vectors is None or cents is None:
        score = prior
    else:
        sims = vectors @ cents.T
        own = sims[:, t]
        others = np.delete(sims, t, axis=1)
        rival = others.max(axis=1) if others.shape[1] else np.zeros(own.size)
        score = own - contrast * rival + 0.1 * prior
        if given:
            score = score - diversity * (vectors @ np.stack(given).T).max(axis=1)
    long_enough = np.array([c.n_words >= min_words for c in pool.candidates])
    if long_enough.any():
        score = np.where(long_enough, score, -np.inf)
    for i in np.argsort(-score, kind="stable"):
        name = pool.candidates[int(i)].surface
        if _key(name) not in taken:
            return name, None if vectors is None else vectors[int(i)]
    return "", None


def _fallback(texts: Sequence[str], central: IntArray, members: IntArray, taken: set[str]) -> str:
    """The most central text not already a name, cut short; numbered when every one is."""
    tried = central if central.size else members
    for i in tried:
        name = fallback_name(texts[int(i)])
        if name and _key(name) not in taken:
            return name
    base = fallback_name(texts[int(tried[0])]) if tried.size else "Theme"
    n = 2
    while _key(f"{base} ({n})") in taken:
        n += 1
    return f"{base} ({n})"
