"""Sentence-aware segments of long narratives.

A narrative longer than ``LONG_TOKENS`` word pieces is embedded by segments: its sentences
(found by the small rule-based splitter below, which ships its rules and downloads nothing)
packed in order into segments of at most ``SEGMENT_TOKENS`` word pieces. A sentence longer
than that is cut at word boundaries. Spans are character offsets into the narrative's
canonical text (``normalize_text``), the text that is hashed and embedded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipelines.embed import normalize_text

#: A narrative is segmented above this many word pieces: all-MiniLM-L6-v2 was trained on
#: 128 and truncates at 256.
LONG_TOKENS = 128
#: Sentences are packed into segments of at most this many word pieces. Half the training
#: length: a segment holding two topics is what segmenting is meant to avoid, and a few
#: sentences still give the model enough context.
SEGMENT_TOKENS = 64
#: A last segment under this share of ``SEGMENT_TOKENS`` joins the one before it.
MIN_LAST_SHARE = 0.25
#: Word pieces per whitespace word, for embedders without a tokenizer (English prose with a
#: WordPiece vocabulary of 30k averages about 1.3).
PIECES_PER_WORD = 1.3

TokenCounter = Callable[[Sequence[str]], list[int]]
Span = tuple[int, int]

#: Words that end with a full stop without ending a sentence (compared lowercased, without
#: the stop). Single letters (initials, "e.g." parts) are handled apart.
ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "vs",
        "etc",
        "eg",
        "ie",
        "cf",
        "al",
        "approx",
        "dept",
        "inc",
        "ltd",
        "co",
        "corp",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "rev",
        "hon",
        "govt",
        "univ",
        "assoc",
        "ave",
    }
)
#: Abbreviations only before a number ("No. 5", "vol. 2"): "I said no. Then" ends there.
NUMBER_ABBREVIATIONS = frozenset(
    {"no", "nos", "vol", "vols", "fig", "figs", "pp", "ch", "sec", "art"}
)

#: Closing quotes and brackets that may follow the end of a sentence, and opening ones.
_CLOSERS = "\"')]\u201d\u2019\u00bb"
_OPENERS = "\"'([\u201c\u2018\u00ab\u00bf\u00a1"
# A candidate end: terminal punctuation, closing quotes or brackets, then a space.
_END = re.compile(r"[.!?\u2026]+[" + re.escape(_CLOSERS) + r"]*(?=\s)")


def _word_before(text: str, end: int) -> str:
    """The word that the punctuation at ``end`` closes (without its dots)."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].strip(_OPENERS).rstrip(".")


def _next_word(text: str, position: int) -> str:
    match = re.match(r"\s*(\S+)", text[position:])
    return match.group(1).lstrip(_OPENERS) if match else ""


def _is_boundary(text: str, match: re.Match[str]) -> bool:
    marks = match.group(0)
    following = _next_word(text, match.end())
    if not following:
        return False
    closes_quote = marks[-1] in _CLOSERS
    starts_lower = following[0].islower()
    if "!" in marks or "?" in marks:
        # '"Why?" she asked.' goes on; 'Why? She asked.' does not
        return not (closes_quote and starts_lower)
    if "\u2026" in marks or marks.startswith(".."):
        return not starts_lower
    word = _word_before(text, match.start())
    lowered = word.lower()
    if lowered in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return False
    if lowered in NUMBER_ABBREVIATIONS and following[0].isdigit():
        return False
    # letters with inner stops: "e.g.", "U.S.", "a.m."
    return re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", word) is None


def split_sentences(text: str) -> list[Span]:
    """Character spans of the sentences of ``text``, in order, without surrounding spaces.

    A sentence ends at ``.``, ``!``, ``?`` or an ellipsis (with any closing quotes or
    brackets after it) followed by a space, except after a known abbreviation or an initial,
    inside an ellipsis or a quoted question followed by a lowercase word, and never inside a
    number ("3.5" has no space after its stop). Text without such punctuation is one sentence.
    """
    spans: list[Span] = []
    start = 0
    for match in _END.finditer(text):
        if _is_boundary(text, match):
            spans.append((start, match.end()))
            start = match.end()
    spans.append((start, len(text)))
    out: list[Span] = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def word_piece_estimate(texts: Sequence[str]) -> list[int]:
    """Word pieces per text estimated from its words, for embedders without a tokenizer."""
    return [math.ceil(PIECES_PER_WORD * len(text.split())) for text in texts]


def token_counter(embedder: object) -> TokenCounter:
    """The embedder's own ``count_tokens`` when it has one, else :func:`word_piece_estimate`."""
    counter = getattr(embedder, "count_tokens", None)
    return counter if callable(counter) else word_piece_estimate


def _cut_words(text: str, span: Span, tokens: int, limit: int) -> list[Span]:
    """A sentence over ``limit`` word pieces cut at word boundaries into near-equal parts."""
    base = span[0]
    words = [(base + m.start(), base + m.end()) for m in re.finditer(r"\S+", text[base : span[1]])]
    parts = max(1, math.ceil(tokens / limit))
    per_part = math.ceil(len(words) / parts)
    return [
        (words[i][0], words[min(i + per_part, len(words)) - 1][1])
        for i in range(0, len(words), per_part)
    ]


def pack(
    sentences: Sequence[Span], tokens: Sequence[int], limit: int = SEGMENT_TOKENS
) -> list[Span]:
    """Consecutive sentences joined into segments of at most ``limit`` word pieces.

    ``tokens`` is each sentence's count. A segment is closed when the next sentence would
    take it past ``limit``; a last segment under ``MIN_LAST_SHARE`` of ``limit`` joins the
    one before it.
    """
    segments: list[Span] = []
    sizes: list[int] = []
    for span, count in zip(sentences, tokens, strict=True):
        if segments and sizes[-1] + count <= limit:
            segments[-1] = (segments[-1][0], span[1])
            sizes[-1] += count
        else:
            segments.append(span)
            sizes.append(count)
    if len(segments) > 1 and sizes[-1] < MIN_LAST_SHARE * limit:
        segments[-2:] = [(segments[-2][0], segments[-1][1])]
    return segments


def segment_spans(
    texts: Sequence[str],
    count_tokens: TokenCounter = word_piece_estimate,
    long_tokens: int = LONG_TOKENS,
    segment_tokens: int = SEGMENT_TOKENS,
) -> list[list[Span] | None]:
    """For each canonical text, its segment spans when it is long, else ``None``.

    Sentences are counted in one call of ``count_tokens``; a text is long when its
    sentences add up to more than ``long_tokens`` word pieces.
    """
    sentences = [split_sentences(text) for text in texts]
    flat = [text[a:b] for text, spans in zip(texts, sentences, strict=True) for a, b in spans]
    counts = iter(count_tokens(flat) if flat else [])
    out: list[list[Span] | None] = []
    for text, spans in zip(texts, sentences, strict=True):
        sizes = [next(counts) for _ in spans]
        if sum(sizes) <= long_tokens:
            out.append(None)
            continue
        pieces: list[Span] = []
        piece_sizes: list[int] = []
        for span, size in zip(spans, sizes, strict=True):
            cut = _cut_words(text, span, size, segment_tokens) if size > segment_tokens else [span]
            pieces += cut
            piece_sizes += [math.ceil(size / len(cut))] * len(cut)
        out.append(pack(pieces, piece_sizes, segment_tokens))
    return out


@dataclass(frozen=True)
class Segmented:
    """The segments of one long narrative: spans into its canonical text, and their texts."""

    spans: list[Span]
    texts: list[str]

    @property
    def lengths(self) -> npt.NDArray[np.float64]:
        """Characters per segment: the weights of the narrative's vector and its shares."""
        return np.asarray([b - a for a, b in self.spans], dtype=np.float64)


def segment(
    texts: Sequence[str],
    count_tokens: TokenCounter = word_piece_estimate,
    long_tokens: int = LONG_TOKENS,
    segment_tokens: int = SEGMENT_TOKENS,
) -> list[Segmented | None]:
    """:func:`segment_spans` of the canonical form of each text, with the segments' texts."""
    canonical = [normalize_text(text) for text in texts]
    spans = segment_spans(canonical, count_tokens, long_tokens, segment_tokens)
    return [
        None if found is None else Segmented(found, [text[a:b] for a, b in found])
        for text, found in zip(canonical, spans, strict=True)
    ]


def reads_whole(embedder: object, texts: Sequence[str]) -> list[bool]:
    """Whether the embedder reads each text whole: it has a window (``max_tokens``) and the
    text's word pieces fit in it. An embedder without a window never does, so a long text's
    vector is then always pooled from its segments."""
    window = getattr(embedder, "max_tokens", None)
    if not isinstance(window, int) or not texts:
        return [False] * len(texts)
    return [count <= window for count in token_counter(embedder)(texts)]


def pooled_vector(vectors: npt.ArrayLike, lengths: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """A long narrative's own vector when the model cannot read it whole: its segment vectors
    averaged, weighted by length, and scaled to unit length."""
    matrix = np.asarray(vectors, dtype=np.float64)
    weights = np.asarray(lengths, dtype=np.float64)
    mean = weights @ matrix / max(float(weights.sum()), 1e-12)
    norm = float(np.linalg.norm(mean))
    return np.asarray(mean / norm if norm > 0 else mean, dtype=np.float32)
