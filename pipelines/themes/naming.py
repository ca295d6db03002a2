"""Naming themes: a short phrase drawn from each theme's own texts.

A theme's name is a span of one to six words cut from one of its most central narratives.
Candidate spans start and end on a content word and never cross a clause boundary. A span is
*well formed* when it cuts no phrase apart: no content word stands right before or after it
("nurse | rota"), its last word is not followed by "to", an article, a possessive or an object
pronoun ("make | the ward", "try | to"), its first word does not follow "to", a subject pronoun
or a modal ("we | spent the shift"), a span right after "no", "not", "nor" or "never" starts
with it ("No longer needed": without it the name says the opposite), a clause it opens
("because", "when", "who") ends with it ("mandatory because children | need"), and neither end
is a word the central texts mostly use in that place (a verb, seen from its neighbours). Names
are drawn from well-formed spans whenever a theme has one. Candidates are ranked in two stages,
so the cost stays bounded however large the analysis:

1. **Distinctiveness** (cheap, every candidate of the theme's central texts): the summed
   c-TF-IDF weight of the span's content words, times the share of the central texts that use
   all of them (a span only one narrative uses names nobody else).
2. **Centrality against the siblings** (the best ``n_candidates`` per theme): the span's vector
   scored by its cosine with its theme's centroid minus ``contrast`` times its best cosine with
   another theme's centroid. Without an embedder the span's vector is the mean of the
   narratives that use all its content words (their vectors are already known); with one, all
   candidates of all themes are embedded in a single batch.

Themes are then named largest first by maximal marginal relevance: a candidate loses
``diversity`` times its cosine with a name already given and ``overlap`` times the share of its
content words a given name already uses; a name already given (up to case and punctuation), or
one whose content words hold or are held by a given name's ("crashed at handover" beside
"records system crashed at handover"), is not given again while another candidate is left.
Words that most themes use (the subject of the whole analysis) are not counted in either. A
theme whose texts hold no content word ("Nothing.") is named by its most central text, cut to
six words. Every name is written in sentence case: its first letter capitalised, the other
words as written (a shouted, all-capitals name is lower-cased first).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from pipelines.embed import unit_rows as _unit_rows

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: At most this many words in a name.
MAX_NAME_WORDS = 6
_CLAUSE = re.compile('[.,;:!?()\\[\\]{}"\u201c\u201d\\n\\r\\t]+|\\s[-\u2013\u2014]+\\s|\\s/\\s')
_TOKEN = re.compile("[^\\W_]+(?:['\u2019-][^\\W_]+)*", re.UNICODE)
_CHUNK = re.compile("\\S+")
_VERB_CUE_TEXT = """
to i we they you he she will would can could should must may might shall
do does did don't didn't can't cannot won't wouldn't couldn't never
"""
_OBJECT_CUE_TEXT = "to the a an my your his her its our their this these those me him us them"
_OPENER_TEXT = (
    "because when if since while although though who which whom whose where whether unless until"
)
#: Words that turn round what follows: a span starting after one starts with it instead.
_NEGATIONS = frozenset(("no", "not", "nor", "never"))
#: Words that open a clause inside a clause: a span holding one ends where its clause ends.
_OPENERS = frozenset(_OPENER_TEXT.split())
#: Words after which the next word is a verb ("to make", "we spent", "can't find").
_VERB_CUES = frozenset(_VERB_CUE_TEXT.split())
#: Words before which the previous word governs what follows ("make | the ward", "try | to").
_OBJECT_CUES = frozenset(_OBJECT_CUE_TEXT.split())
#: Share of a word's uses after a verb cue (before an object cue) above which it never starts
#: (ends) a well-formed name.
ROLE_SHARE = 1 / 3


def unit_rows(rows: npt.ArrayLike) -> FloatArray:
    return np.asarray(_unit_rows(np.asarray(rows, dtype=np.float64)), dtype=np.float64)


class Candidate(NamedTuple):
    """One span of a central text: its words as written, the stems of its content words and
    whether it is well formed (no end cut from what it governs or what governs it). A tuple:
    hundreds of thousands are made per analysis."""

    surface: str
    stems: frozenset[str]
    n_words: int
    well_formed: bool = True


class WordRoles:
    """How often each word, in the texts seen, follows a verb cue (it is *governed*: a verb)
    and precedes an object cue (it *governs*: a verb or a preposition), whatever its form."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.governed: Counter[str] = Counter()
        self.governing: Counter[str] = Counter()

    def add(self, text: str) -> None:
        for clause in _CLAUSE.split(text):
            words = _folded(clause)
            governed, governing = _cues(words)
            for w, after_cue, before_cue in zip(words, governed, governing, strict=True):
                self.seen[w] += 1
                self.governed[w] += int(after_cue)
                self.governing[w] += int(before_cue)

    def starts_badly(self, word: str) -> bool:
        """Whether the word is mostly a verb after its subject, "to" or a modal."""
        return self.governed[word] > ROLE_SHARE * max(self.seen[word], 1)

    def ends_badly(self, word: str) -> bool:
        """Whether the word mostly governs an object or "to" that a name would cut off."""
        return self.governing[word] > ROLE_SHARE * max(self.seen[word], 1)


def _folded(clause: str) -> list[str]:
    return [t.group().casefold().replace("\u2019", "'") for t in _TOKEN.finditer(clause)]


def _cues(words: list[str]) -> tuple[list[bool], list[bool]]:
    """Per word, whether a verb cue stands before it and whether an object cue follows it."""
    governed = [i > 0 and words[i - 1] in _VERB_CUES for i in range(len(words))]
    governing = [i + 1 < len(words) and words[i + 1] in _OBJECT_CUES for i in range(len(words))]
    return governed, governing


def _key(name: str) -> str:
    return " ".join(_TOKEN.findall(name.casefold()))


def sentence_case(name: str) -> str:
    """``name`` with its first letter capitalised and its other words as written; a shouted
    name (all capitals, longer than an acronym) is lower-cased first."""
    letters = [ch for ch in name if ch.isalpha()]
    if len(letters) > 4 and all(ch.isupper() for ch in letters):
        name = name.lower()
    for i, ch in enumerate(name):
        if ch.isalpha():
            return name[:i] + ch.upper() + name[i + 1 :]
    return name


def spans(
    text: str,
    is_content: Callable[[str], bool],
    stem: Callable[[str], str],
    max_words: int = MAX_NAME_WORDS,
    roles: WordRoles | None = None,
) -> list[Candidate]:
    """Every span of ``text`` of at most ``max_words`` words, inside one clause, that starts
    and ends on a content word; ``roles`` (else the text alone) tells which are well formed."""
    return [Candidate(*span) for span in _spans(text, is_content, stem, max_words, roles)]


#: A candidate as a plain tuple (surface, stems, n_words, well_formed), the fields of
#: :class:`Candidate`: cheaper to make by the hundred thousand.
_Span = tuple[str, frozenset[str], int, bool]


def _spans(
    text: str,
    is_content: Callable[[str], bool],
    stem: Callable[[str], str],
    max_words: int,
    roles: WordRoles | None,
) -> list[_Span]:
    out: list[_Span] = []
    for clause in _CLAUSE.split(text):
        tokens = list(_TOKEN.finditer(clause))
        if not tokens:
            continue
        raw = [t.group() for t in tokens]
        words = [w.casefold().replace("\u2019", "'") for w in raw]
        content = [is_content(w) for w in raw]
        governed, governing = _cues(words)
        if roles is not None:
            bad_start = [g or roles.starts_badly(w) for w, g in zip(words, governed, strict=True)]
            bad_end = [g or roles.ends_badly(w) for w, g in zip(words, governing, strict=True)]
        else:
            bad_start, bad_end = governed, governing
        # each content token's stem, once per clause rather than once per span holding it
        stems_of = [stem(w) if c else "" for w, c in zip(raw, content, strict=True)]
        starts = [t.start() for t in tokens]
        ends = [t.end() for t in tokens]
        # words as written ("&", "+" between words count too): where each one starts
        chunks = [m.start() for m in _CHUNK.finditer(clause)]
        # openers among the first k words, so "an opener inside the span" is one subtraction
        openers = [0]
        for w in words:
            openers.append(openers[-1] + (w in _OPENERS))
        last = len(tokens) - 1
        for i in range(len(tokens)):
            if not content[i]:
                continue
            # "no | longer needed": the negation opens the span, or it says the opposite
            first = i - 1 if i > 0 and words[i - 1] in _NEGATIONS else i
            begin = starts[first]
            first_chunk = bisect.bisect_right(chunks, begin)
            # what the start alone decides: a content word cut off before it, a verb's start
            start_fails = (first > 0 and content[first - 1]) or (bad_start[i] and first == i)
            held: set[str] = set()
            for j in range(i, min(i + max_words, len(tokens))):
                if not content[j]:
                    continue
                held.add(stems_of[j])
                end = ends[j]
                if bisect.bisect_left(chunks, end) - first_chunk + 1 > max_words:
                    break
                # a phrase ends where its text's phrase does: no content word cut off
                cut = j < last and content[j + 1]
                # "mandatory because children | need ...": an opened clause left unfinished
                open_ = j < last and openers[j] > openers[i]
                formed = not (start_fails or cut or open_ or bad_end[j])
                out.append((clause[begin:end], frozenset(held), j - first + 1, formed))
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


def _better(c: _Span, held: _Span | None) -> bool:
    # a well-formed wording first, then the shortest; the first seen (most central text)
    # wins ties
    return held is None or (not held[3], c[2]) < (not c[3], held[2])


def _ill_formed(pool: list[Candidate]) -> npt.NDArray[np.bool_]:
    return np.array([not c.well_formed for c in pool], dtype=bool)


def _pool(
    central_texts: Sequence[str],
    weights: Callable[[str], float],
    is_content: Callable[[str], bool],
    stem: Callable[[str], str],
    roles: WordRoles,
    n_candidates: int,
    prefilter: int,
) -> _Pool:
    by_stems: dict[frozenset[str], _Span] = {}
    stem_sets: list[set[str]] = []
    for text in central_texts:
        found = _spans(text, is_content, stem, MAX_NAME_WORDS, roles)
        stem_sets.append({s for c in found if c[2] == 1 for s in c[1]})
        for c in found:
            if _better(c, by_stems.get(c[1])):
                by_stems[c[1]] = c
    if not by_stems:
        return _Pool([], np.zeros(0), [])
    found_all = list(by_stems.values())
    # summed in a fixed order: a set of strings iterates in an order that varies by process
    weight = np.array([sum(map(weights, sorted(c[1]))) for c in found_all])
    # well-formed spans first at each cut: the others only stand in for a theme short of them
    ill_formed = np.array([not c[3] for c in found_all], dtype=bool)
    order = np.lexsort((-weight, ill_formed))[:prefilter]
    order = order[weight[order] > 0]
    pool = [Candidate(*found_all[int(i)]) for i in order]
    # which central texts hold each stem, as bits: a span covers the texts holding all its stems
    holders: dict[str, int] = {}
    for k, held in enumerate(stem_sets):
        for s in held:
            holders[s] = holders.get(s, 0) | (1 << k)
    everyone = (1 << len(stem_sets)) - 1
    covers: list[IntArray] = []
    scores = np.zeros(len(pool))
    for n, c in enumerate(pool):
        bits = everyone
        for s in c.stems:
            bits &= holders.get(s, 0)
        held_by: list[int] = []
        while bits:
            low = bits & -bits
            held_by.append(low.bit_length() - 1)
            bits ^= low
        cover = np.array(held_by, np.int64)
        covers.append(cover)
        scores[n] = weight[int(order[n])] * (cover.size / max(len(central_texts), 1))
    keep = np.lexsort((-scores, _ill_formed(pool)))[:n_candidates]
    return _Pool([pool[int(i)] for i in keep], scores[keep], [covers[int(i)] for i in keep])


@dataclass
class _Given:
    """The names given so far: their keys, content-word stems and vectors."""

    keys: set[str]
    stems: list[frozenset[str]]
    vectors: list[FloatArray]
    common: frozenset[str]

    def add(self, name: str, stems: frozenset[str], vector: FloatArray | None) -> None:
        self.keys.add(_key(name))
        if stems - self.common:
            self.stems.append(stems - self.common)
        if vector is not None:
            self.vectors.append(vector)


@dataclass(frozen=True)
class _Weights:
    contrast: float
    diversity: float
    overlap: float
    one_word: float
    min_words: int


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
    fixed: Mapping[int, str] | None = None,
    n_central: int = 50,
    n_candidates: int = 60,
    prefilter: int = 200,
    contrast: float = 0.75,
    diversity: float = 0.3,
    overlap: float = 0.3,
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
    fixed : mapping of int to str or None
        Themes that keep the name given (as when only some themes are described again):
        they are not named anew, and the others' names differ from theirs.
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
    overlap : float, default=0.3
        Weight of the largest share of a candidate's content words (or of a given name's,
        the smaller set counting) that a name already given uses, subtracted.
    one_word : float, default=0.9
        Factor on a one-word candidate's distinctiveness (a phrase reads better).
    min_words : int, default=2
        Shortest name while any candidate of the theme is at least this long.

    Returns
    -------
    list of str
        One name per theme, in sentence case.
    """
    n_themes = int(word_weights.shape[0])
    if n_themes == 0:
        return []
    # the same words recur across spans and texts
    stem = functools.cache(stem)
    is_content = functools.cache(is_content)
    kept = {t: n for t, n in (fixed or {}).items() if 0 <= t < n_themes}
    emb = None if embeddings is None else unit_rows(np.asarray(embeddings, dtype=np.float64))
    members = [np.flatnonzero(labels == t).astype(np.int64) for t in range(n_themes)]
    cents = _centroids(emb, centroids, members)
    central = [_central(emb, cents, t, m, n_central) for t, m in enumerate(members)]
    named = [t for t in range(n_themes) if t not in kept]
    # each central text cleaned once, for the word roles and for its spans
    cleaned = {t: [clean(texts[int(i)]) for i in central[t]] for t in named}
    roles = WordRoles()
    for t in named:
        for text in cleaned[t]:
            roles.add(text)
    pools = [_Pool([], np.zeros(0), []) for _ in range(n_themes)]
    for t in named:
        row = word_weights[t]

        @functools.cache
        def weight(s: str, row: FloatArray = row) -> float:
            column = stem_index.get(s)
            return float(row[column]) if column is not None else 0.0

        pools[t] = _pool(cleaned[t], weight, is_content, stem, roles, n_candidates, prefilter)
    vectors, kept_vectors = _candidate_vectors(pools, central, emb, embed, kept, cents)
    # words most themes use (the analysis's subject) tell no two siblings apart
    spread = (word_weights > 0).mean(axis=0) if word_weights.size else np.zeros(0)
    common = frozenset(s for s, col in stem_index.items() if spread[col] > 0.5)
    given = _Given(set(), [], [], common)
    out = [""] * n_themes
    for t, name in sorted(kept.items()):
        out[t] = name
        given.add(name, _content_stems(name, is_content, stem), kept_vectors.get(t))
    w = _Weights(contrast, diversity, overlap, one_word, min_words)
    for t in sorted(named, key=lambda t: (-members[t].size, t)):
        name, stems, vector = _choose(t, pools[t], vectors[t], cents, given, w)
        if not name:
            name = _fallback(texts, central[t], members[t], given.keys)
        out[t] = sentence_case(name)
        given.add(name, stems, vector)
    return out


def _content_stems(
    name: str, is_content: Callable[[str], bool], stem: Callable[[str], str]
) -> frozenset[str]:
    return frozenset(stem(w) for w in _TOKEN.findall(name) if is_content(w))


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
    kept: Mapping[int, str],
    cents: FloatArray | None,
) -> tuple[list[FloatArray | None], dict[int, FloatArray]]:
    """Per theme its candidates' vectors, and the vectors of the names kept as they were
    (embedded in the same batch, or their theme's centroid without a model)."""
    if emb is None:
        return [None] * len(pools), {}
    if embed is not None:
        kept_order = sorted(kept)
        phrases = [c.surface for p in pools for c in p.candidates]
        phrases += [kept[t] for t in kept_order]
        flat = unit_rows(np.asarray(embed(phrases), dtype=np.float64)) if phrases else None
        out: list[FloatArray | None] = []
        start = 0
        for p in pools:
            n = len(p.candidates)
            out.append(flat[start : start + n] if flat is not None and n else None)
            start += n
        rows = {t: flat[start + k] for k, t in enumerate(kept_order)} if flat is not None else {}
        return out, rows
    proxies: list[FloatArray | None] = []
    for p, c in zip(pools, central, strict=True):
        if not p.candidates:
            proxies.append(None)
            continue
        rows_ = [
            emb[c[cover]].mean(axis=0) if cover.size else np.zeros(emb.shape[1])
            for cover in p.covers
        ]
        proxies.append(unit_rows(np.stack(rows_)))
    return proxies, {t: cents[t] for t in kept} if cents is not None else {}


def _shared_words(candidates: list[frozenset[str]], given: list[frozenset[str]]) -> FloatArray:
    """Per candidate (its distinctive content-word stems), the largest share of its or a given
    name's stems (the smaller set) the two have in common: 1 when one holds the other."""
    out = np.zeros(len(candidates))
    for n, c in enumerate(candidates):
        for g in given:
            common = len(c & g)
            if common:
                out[n] = max(out[n], common / min(len(c), len(g)))
    return out


def _choose(
    t: int,
    pool: _Pool,
    vectors: FloatArray | None,
    cents: FloatArray | None,
    given: _Given,
    w: _Weights,
) -> tuple[str, frozenset[str], FloatArray | None]:
    if not pool.candidates:
        return "", frozenset(), None
    prior = pool.scores / (float(pool.scores.max()) or 1.0)
    prior = prior * np.array([w.one_word if c.n_words == 1 else 1.0 for c in pool.candidates])
    if vectors is None or cents is None:
        score = prior
    else:
        sims = vectors @ cents.T
        own = sims[:, t]
        others = np.delete(sims, t, axis=1)
        rival = others.max(axis=1) if others.shape[1] else np.zeros(own.size)
        score = own - w.contrast * rival + 0.1 * prior
        if given.vectors:
            score = score - w.diversity * (vectors @ np.stack(given.vectors).T).max(axis=1)
    shared = _shared_words([c.stems - given.common for c in pool.candidates], given.stems)
    score = score - w.overlap * shared
    # what a name must be, most important first: not nested in a sibling's name, long
    # enough, well formed; the best score within the first tier that has a candidate
    tier = np.array(
        [
            4 * int(s >= 1.0) + 2 * int(c.n_words < w.min_words) + int(not c.well_formed)
            for c, s in zip(pool.candidates, shared, strict=True)
        ]
    )
    for i in np.lexsort((-score, tier)):
        c = pool.candidates[int(i)]
        if _key(c.surface) not in given.keys:
            return c.surface, c.stems, None if vectors is None else vectors[int(i)]
    return "", frozenset(), None


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
