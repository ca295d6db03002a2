"""Describing themes: c-TF-IDF keywords, a phrase name and non-redundant exemplars."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from pipelines.embed import Embedder, unit_rows
from pipelines.themes.naming import name_themes
from pipelines.themes.timing import StepClock

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_CHAT_STOP_TEXT = """
hi hello hey hiya morning afternoon evening everyone everybody folks guys all
thanks thank thankyou thx ty ta cheers welcome bye goodbye later
yes yeah yep yup no nope ok okay k sure right agree agreed indeed absolutely exactly
lol haha hahaha lmao omg wow cool nice great awesome brilliant lovely good
sorry apologies oops please pls plz
joined left join leave leaving rejoin rejoined
hear hearing heard see seeing mute muted unmute unmuted mic microphone camera audio
video screen share sharing shared link links chat zoom teams meet call
just really actually basically literally maybe think thought like lot lots bit
going got get gets getting know want wants need needs say said says
plus pm am http https www com org uk html
"""
#: Markup left as words in text copied from web pages ("lt a href ... gt").
_MARKUP_WORDS = ("lt", "gt", "amp", "quot", "nbsp", "href", "src", "aspx")
#: Words that carry no theme in meeting chats and feedback: greetings, thanks, call mechanics,
#: markup.
CHAT_STOP_WORDS: frozenset[str] = frozenset(_CHAT_STOP_TEXT.split()) | frozenset(_MARKUP_WORDS)

#: Whole phrases removed before counting (boilerplate that single stop words would split).
_BOILERPLATE = re.compile(
    r"""
    (?:https?://|www\.)\S+              # URLs
    | \S+@\S+\.\S+                      # e-mail addresses
    | @[\w-]+                           # mentions (and pseudonyms written as one)
    | \b(?:can\s+)?(?:you|everyone|everybody|anyone)\s+(?:can\s+)?(?:hear|see)
      \s+(?:me|us|my\s+screen)\b
    | \b(?:has|have)?\s*(?:joined|left)\s+(?:the\s+)?(?:meeting|call|chat|session|room)\b
    | \b(?:is|are)\s+(?:now\s+)?(?:on\s+)?mute[d]?\b
    | \b(?:thank\s+you|thanks)(?:\s+(?:so|very)\s+much)?(?:\s+(?:all|everyone|everybody))?\b
    | (?<!\w)[+-]1\b                     # +1 / -1 votes
    | \b(?:lt\s+)?(?:a\s+)?href\b(?:\s+[\w-]+){0,15}?\s+gt\b   # a link tag left as words
    """
    + rf"| \b(?:{'|'.join(_MARKUP_WORDS)})\b",  # other markup left as words
    re.IGNORECASE | re.VERBOSE,
)

_TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W_]+(?:['-][^\W_]+)*\b"
#: A word the keywords could count: a letter first, two characters at least.
_CONTENT = re.compile(r"[^\W\d_][^\W_]+(?:['-][^\W_]+)*")

_SUFFIXES = (
    "izations",
    "ization",
    "ational",
    "fulness",
    "iveness",
    "ations",
    "ation",
    "ments",
    "ment",
    "ness",
    "ings",
    "ing",
    "ies",
    "ied",
    "ers",
    "er",
    "ed",
    "es",
    "ly",
    "s",
    "e",
)


def stem(word: str) -> str:
    """A light suffix-stripping stem, enough to see that "nurse", "nurses", "nursing" agree."""
    w = word.lower().replace("'", "")
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            if suffix in ("er", "ers") and len(w) - len(suffix) < 4:
                continue
            base = w[: -len(suffix)]
            if suffix in ("ies", "ied"):
                base += "y"
            elif suffix == "s" and w.endswith("ss"):
                continue
            if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]
            return base
    return w


#: A piece of text every boilerplate phrase above holds, one of these at least (case folded):
#: most texts hold none, and are passed over without running the slower pattern.
_BOILERPLATE_CUES = (
    "http",
    "www.",
    "@",
    "hear",
    "see",
    "joined",
    "left",
    "mute",
    "thank",
    "1",
    "href",
    "src",
    "aspx",
)


def _may_hold_boilerplate(text: str) -> bool:
    folded = text.casefold()
    return any(cue in folded for cue in _BOILERPLATE_CUES)


def clean_text(text: str) -> str:
    """Lower-cased text with URLs, mentions, chat boilerplate phrases and the remains of web
    markup ("lt a href ... gt") removed."""
    low = text.lower()
    return _BOILERPLATE.sub(" ", low) if _may_hold_boilerplate(text) else low


def strip_boilerplate(text: str) -> str:
    """The text as written, each URL, mention or boilerplate phrase replaced by a clause break
    (so no name is cut across one)."""
    return _BOILERPLATE.sub(" ; ", text) if _may_hold_boilerplate(text) else text


def same_word(a: str, b: str) -> bool:
    """Whether two stems look like forms of one word ("yemen"/"yemeni", "egypt"/"egyptian")."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= 3


def diverse_keywords(
    ranked: Sequence[tuple[str, float]], n_keywords: int
) -> list[tuple[str, float]]:
    """Keep the best-ranked phrases whose word stems no earlier pick already used.

    A phrase is skipped when it repeats a stem (``"nurse nurses"``) or shares one with a
    phrase already chosen, so a keyword list never holds two forms of one word.
    """
    chosen: list[tuple[str, float]] = []
    used: set[str] = set()
    for phrase, weight in ranked:
        if len(chosen) >= n_keywords:
            break
        words = phrase.split()
        stems = [stem(w) for w in words]
        if len(stems) > 1 and any(
            same_word(x, y) for i, x in enumerate(stems) for y in stems[i + 1 :]
        ):
            continue
        if any(same_word(x, u) for x in stems for u in used):
            continue
        chosen.append((phrase, weight))
        used.update(stems)
    return chosen


def short_label(
    keywords: Sequence[tuple[str, float]], max_words: int = 3, max_chars: int = 40
) -> str:
    """The first keywords joined by commas, at most ``max_words`` and about ``max_chars`` long
    (the label themes had before they were named by a phrase; benchmarks compare with it)."""
    parts: list[str] = []
    for phrase, _ in keywords:
        if len(parts) >= max_words:
            break
        if parts and len(", ".join([*parts, phrase])) > max_chars:
            break
        parts.append(phrase)
    return ", ".join(parts) if parts else "(no keywords)"


def exemplar_indices(
    embeddings: FloatArray,
    members: IntArray,
    centroid: FloatArray,
    n_exemplars: int = 5,
    duplicate_threshold: float = 0.9,
    texts: Sequence[str] | None = None,
) -> list[int]:
    """The members closest to the centroid, skipping any near-duplicate of one already picked.

    Parameters
    ----------
    embeddings : ndarray of shape (n_samples, n_features)
        Embeddings of all narratives.
    members : ndarray of int
        Indices (into ``embeddings``) of the theme's narratives.
    centroid : ndarray of shape (n_features,)
        The theme's centroid.
    n_exemplars : int, default=5
        How many exemplars at most.
    duplicate_threshold : float, default=0.9
        Cosine similarity at or above which two narratives count as near-duplicates.
    texts : sequence of str or None
        When given, narratives whose normalised text was already picked are skipped too.

    Returns
    -------
    list of int
        Indices into ``embeddings``, most central first.
    """
    if members.size == 0 or n_exemplars <= 0:
        return []
    vectors = unit_rows(embeddings[members].astype(np.float64))
    c = centroid / (np.linalg.norm(centroid) or 1.0)
    order = np.lexsort((members, -(vectors @ c)))
    picked: list[int] = []
    seen_texts: set[str] = set()
    for pos in order:
        if len(picked) >= n_exemplars:
            break
        if texts is not None:
            key = " ".join(clean_text(texts[int(members[pos])]).split())
            if key in seen_texts:
                continue
        if picked:
            sims = vectors[[p for p in picked]] @ vectors[pos]
            if float(sims.max()) >= duplicate_threshold:
                continue
        picked.append(int(pos))
        if texts is not None:
            seen_texts.add(key)
    return [int(members[p]) for p in picked]


class ThemeDescriber(BaseEstimator):  # type: ignore[misc]
    """Describe themes with c-TF-IDF keywords, a phrase name and exemplar narratives.

    Every theme's texts are pooled into one document; a phrase (one or two words, English
    and chat stop words removed, URLs and boilerplate phrases stripped first) scores
    ``tf(phrase, theme) * log(1 + A / f(phrase))`` where ``tf`` is the phrase's share of the
    theme's phrases, ``f`` its count over all narratives and ``A`` the mean number of
    phrases per theme. The ranked phrases are then thinned so no two share a word stem.

    The name is a well-formed span of at most six words from one of the theme's central texts,
    in sentence case, chosen by :func:`pipelines.themes.naming.name_themes` from the same
    c-TF-IDF weights (by word stem), the narrative vectors and the centroids, so that sibling
    themes get different names that share few words.

    Parameters
    ----------
    n_keywords : int, default=10
        Keywords kept per theme.
    n_exemplars : int, default=5
        Exemplar narratives per theme.
    duplicate_threshold : float, default=0.9
        Cosine similarity at or above which two exemplars count as near-duplicates.
    ngram_range : tuple of (int, int), default=(1, 2)
        Phrase lengths in words.
    extra_stop_words : sequence of str, default=()
        More words to ignore (for example the name of the organisation).

    Attributes
    ----------
    keywords_ : list of list of (str, float)
        Per theme, its keywords with c-TF-IDF weights, best first.
    theme_labels_ : list of str
        Per theme, its name: a phrase of at most six words, distinct among the themes.
    exemplars_ : list of list of int
        Per theme, indices of exemplar narratives, most central first.
    sizes_ : ndarray of shape (n_themes,)
        Narratives per theme.
    n_themes_ : int
        Number of themes described (``max(labels) + 1``).
    timings_ : dict of str to float
        Wall seconds of the last fit's ``keywords``, ``naming`` and ``exemplars`` steps.
    """

    def __init__(
        self,
        n_keywords: int = 10,
        n_exemplars: int = 5,
        duplicate_threshold: float = 0.9,
        ngram_range: tuple[int, int] = (1, 2),
        extra_stop_words: Sequence[str] = (),
    ) -> None:
        self.n_keywords = n_keywords
        self.n_exemplars = n_exemplars
        self.duplicate_threshold = duplicate_threshold
        self.ngram_range = ngram_range
        self.extra_stop_words = extra_stop_words

    def _stop_words(self) -> list[str]:
        return sorted(
            ENGLISH_STOP_WORDS | CHAT_STOP_WORDS | {w.lower() for w in self.extra_stop_words}
        )

    def fit(
        self,
        texts: Sequence[str],
        labels: Any,
        embeddings: Any = None,
        centroids: Any = None,
        phrase_counts: tuple[sp.csr_matrix, npt.NDArray[np.str_]] | None = None,
        phrase_embedder: Embedder | None = None,
        fixed_names: Mapping[int, str] | None = None,
    ) -> ThemeDescriber:
        """Compute keywords, labels and exemplars for every theme in ``labels``.

        Parameters
        ----------
        texts : sequence of str
            One text per narrative.
        labels : array-like of shape (n_samples,)
            Theme of each narrative, ``-1`` for unclustered ones (used only in the
            document frequencies).
        embeddings : array-like of shape (n_samples, n_features) or None
            Narrative embeddings, needed for exemplars; without them exemplars are the
            first members in order.
        centroids : array-like of shape (n_themes, n_features) or None
            Theme centroids; the mean member embedding when omitted.
        phrase_counts : tuple of (sparse matrix, ndarray of str) or None
            The result of :meth:`count` on the same ``texts``, to skip counting again.
        phrase_embedder : Embedder or None
            When given (with ``embeddings``), candidate names are embedded by it in one batch
            and scored by their own vectors; otherwise a candidate sits at the mean vector of
            the central narratives using its words.
        fixed_names : mapping of int to str or None
            Themes whose names stay as given (when only some themes are described again);
            the other themes are named apart from them.

        Returns
        -------
        self : ThemeDescriber
            The fitted describer.
        """
        label_arr = np.asarray(labels, dtype=np.int64)
        if label_arr.shape != (len(texts),):
            raise ValueError(f"labels must have one entry per text ({len(texts)})")
        n_themes = int(label_arr.max()) + 1 if label_arr.size and label_arr.max() >= 0 else 0
        self.n_themes_ = n_themes
        self.phrase_counts_ = phrase_counts
        self.sizes_ = np.bincount(label_arr[label_arr >= 0], minlength=n_themes).astype(np.int64)
        clock = StepClock()
        self.timings_ = clock.laps
        self.keywords_ = self._keywords(texts, label_arr, n_themes)
        clock.lap("keywords")
        self.theme_labels_ = self._names(
            texts, label_arr, embeddings, centroids, phrase_embedder, fixed_names
        )
        clock.lap("naming")
        self.exemplars_ = self._exemplars(texts, label_arr, n_themes, embeddings, centroids)
        clock.lap("exemplars")
        return self

    def count(self, texts: Sequence[str]) -> tuple[sp.csr_matrix, npt.NDArray[np.str_]] | None:
        """Phrase counts of ``texts`` (narratives x phrases) and the phrases, or ``None``.

        Reusable through ``fit(..., phrase_counts=...)`` when the same texts are described
        twice (themes, then sub-themes); ``None`` when no phrase survives the stop words.
        """
        vectorizer = CountVectorizer(
            preprocessor=clean_text,
            token_pattern=_TOKEN_PATTERN,
            stop_words=self._stop_words(),
            ngram_range=self.ngram_range,
            min_df=2 if len(texts) >= 1000 else 1,
        )
        try:
            counts = sp.csr_matrix(vectorizer.fit_transform(texts))
        except ValueError:
            return None
        return counts, np.asarray(vectorizer.get_feature_names_out())

    def _names(
        self,
        texts: Sequence[str],
        labels: IntArray,
        embeddings: Any,
        centroids: Any,
        phrase_embedder: Embedder | None,
        fixed_names: Mapping[int, str] | None = None,
    ) -> list[str]:
        if self.n_themes_ == 0:
            return []
        stop = frozenset(self._stop_words())

        def is_content(word: str) -> bool:
            low = word.lower().replace("\u2019", "'")
            if _CONTENT.fullmatch(low) is None or low in stop or low.endswith("n't"):
                return False
            # "it's", "I'm", "we'd": a contraction of a stop word is one too
            return low.split("'")[0] not in stop

        emb = None if embeddings is None else np.asarray(embeddings, dtype=np.float64)
        cents = None if centroids is None or emb is None else np.asarray(centroids, np.float64)
        embed: Callable[[list[str]], Any] | None = (
            phrase_embedder.encode if phrase_embedder is not None else None
        )
        return name_themes(
            texts,
            labels,
            self.stem_weights_,
            self.stem_index_,
            is_content,
            stem,
            emb,
            cents,
            embed,
            strip_boilerplate,
            fixed=fixed_names,
        )

    def _keywords(
        self, texts: Sequence[str], labels: IntArray, n_themes: int
    ) -> list[list[tuple[str, float]]]:
        self.stem_index_: dict[str, int] = {}
        self.stem_weights_ = np.zeros((n_themes, 0))
        if n_themes == 0:
            return []
        counted = self.phrase_counts_ if self.phrase_counts_ is not None else self.count(texts)
        if counted is None:  # nothing left after stop words
            return [[] for _ in range(n_themes)]
        counts, vocab = counted
        clustered = np.flatnonzero(labels >= 0)
        member = sp.csr_matrix(
            (np.ones(clustered.size), (labels[clustered], clustered)),
            shape=(n_themes, len(texts)),
        )
        per_theme = np.asarray((member @ counts).toarray(), dtype=np.float64)
        overall = np.asarray(counts.sum(axis=0)).ravel().astype(np.float64)
        theme_totals = per_theme.sum(axis=1)
        mean_words = float(theme_totals.mean()) if theme_totals.size else 0.0
        idf = np.log1p(mean_words / np.maximum(overall, 1.0))
        tf = per_theme / np.maximum(theme_totals[:, None], 1.0)
        scores = tf * idf[None, :]
        self._stem_weights(scores, vocab)
        out: list[list[tuple[str, float]]] = []
        pool = max(50, 5 * self.n_keywords)
        for t in range(n_themes):
            row = scores[t]
            nonzero = np.flatnonzero(row > 0)
            if nonzero.size == 0:
                out.append([])
                continue
            top = nonzero[np.lexsort((vocab[nonzero], -row[nonzero]))][:pool]
            ranked = [(str(vocab[i]), float(row[i])) for i in top]
            out.append(diverse_keywords(ranked, self.n_keywords))
        return out

    def _stem_weights(self, scores: FloatArray, vocab: npt.NDArray[np.str_]) -> None:
        """Per theme, the summed c-TF-IDF weight of the one-word phrases sharing each stem."""
        single = np.flatnonzero(np.char.find(vocab.astype(str), " ") < 0)
        index: dict[str, int] = {}
        columns = np.array([index.setdefault(stem(str(vocab[i])), len(index)) for i in single])
        merge = sp.csr_matrix(
            (np.ones(single.size), (np.arange(single.size), columns)),
            shape=(single.size, len(index)),
        )
        self.stem_index_ = index
        self.stem_weights_ = np.asarray(merge.T @ scores[:, single].T, dtype=np.float64).T

    def _exemplars(
        self,
        texts: Sequence[str],
        labels: IntArray,
        n_themes: int,
        embeddings: Any,
        centroids: Any,
    ) -> list[list[int]]:
        out: list[list[int]] = []
        emb = None if embeddings is None else np.asarray(embeddings, dtype=np.float64)
        for t in range(n_themes):
            members = np.flatnonzero(labels == t).astype(np.int64)
            if emb is None:
                out.append([int(i) for i in members[: self.n_exemplars]])
                continue
            centre = (
                np.asarray(centroids, dtype=np.float64)[t]
                if centroids is not None
                else emb[members].mean(axis=0)
            )
            out.append(
                exemplar_indices(
                    emb, members, centre, self.n_exemplars, self.duplicate_threshold, texts
                )
            )
        return out
