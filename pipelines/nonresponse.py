"""Non-responses: survey answers that say nothing, told apart from short answers that do.

Two stages, each as cheap as its place allows:

* at ingest, on every row, `nonresponse_reason` recognises placeholders a form or a person
  writes instead of an answer ("Did not answer", "N/A", "-", "no comment", a form's default
  text), strings a project declares as its own placeholders, and an answer that only repeats
  its question. It is a dictionary look-up and, for short answers with a question, one
  character-trigram comparison: no model, so 500,000 rows stay fast.
* in the analysis, which holds the vectors, `PlaceholderScreen` catches placeholders on no
  list and in any language: a short text many respondents typed verbatim whose embedding is
  close to a small set of multilingual "no answer" anchors, and closer to them than to
  anchors of real short answers ("nothing", "none", "everything").

Repetition alone never decides: "Nothing." typed 261 times to "What could we do better?" is
an answer (nothing to improve), and "Excellent service" is praise; both stay content.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pipelines.embed import FloatMatrix

#: Why a text is left out of the themes (stored with the narrative).
PLACEHOLDER = "placeholder"
FORM_DEFAULT = "form default text"
NO_WORDS = "no words"
REPEATS_QUESTION = "repeats the question"
PROJECT_PLACEHOLDER = "project placeholder"
PLEASANTRY = "pleasantry"
LINK_ONLY = "link only"
SYMBOLS_ONLY = "emoji or symbols only"
ABOUT_THE_CALL = "about the call"
LAUGHTER = "laughter"
CORRECTION = "a typo's correction"
SIMILAR_TO_PLACEHOLDER = "like a placeholder"

#: Placeholders written in place of an answer, normalised (see `normalize`). Kept short on
#: purpose: what is on no list is left to the signals of `PlaceholderScreen`.
PLACEHOLDERS = frozenset(
    {
        "did not answer",
        "didn't answer",
        "didnt answer",
        "not answered",
        "no answer",
        "no answer given",
        "no response",
        "no reply",
        "not stated",
        "not given",
        "none given",
        "not provided",
        "not specified",
        "no comment",
        "no comments",
        "no comment made",
        "n/a",
        "n / a",
        "n\\a",
        "n.a",
        "na",
        "n/a/",
        "not applicable",
        "prefer not to say",
        "rather not say",
        "declined",
        "declined to answer",
        "refused",
        "skipped",
        "blank",
        "left blank",
        "unreadable",
        "illegible",
        "test",
        "testing",
        "xxx",
        "xx",
        "x",
    }
)

#: Text forms put in an answer box before anyone types (normalised).
FORM_DEFAULTS = frozenset(
    {
        "type here",
        "type your answer here",
        "please type your answer here",
        "enter text here",
        "enter your answer",
        "enter your answer here",
        "your answer",
        "your answer here",
        "please specify",
        "please comment",
        "comments",
        "click here to enter text",
        "click or tap here to enter text",
        "answer",
        "text",
        "lorem ipsum",
    }
)

_SPACES = re.compile(r"\s+")
#: Punctuation trimmed from the ends of an answer ("N/A." and "N/A" are one placeholder).
_END_PUNCT = " \t\n.,;:!?'\"`()[]{}*#~_-\u2026\u2018\u2019\u201c\u201d\u00ab\u00bb\u00bf\u00a1"


def normalize(text: str) -> str:
    """Case-folded, NFKC, spaces collapsed and end punctuation trimmed: the key that lists and
    a project's declared placeholders are matched on."""
    flat = _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    flat = flat.replace("\u2019", "'")
    return flat.strip(_END_PUNCT)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold())


def _trigrams(text: str) -> Counter[str]:
    padded = f"  {' '.join(_words(text))} "
    return Counter(padded[i : i + 3] for i in range(len(padded) - 2))


def char_similarity(a: str, b: str) -> float:
    """Cosine of the character-trigram counts of two texts (0..1), blind to case and
    punctuation and to no language."""
    x, y = _trigrams(a), _trigrams(b)
    if not x or not y:
        return 0.0
    dot = sum(n * y[g] for g, n in x.items())
    return float(dot / ((sum(n * n for n in x.values()) * sum(n * n for n in y.values())) ** 0.5))


#: An answer this close (character trigrams) to its question only repeats it.
QUESTION_SIMILARITY = 0.8


def repeats_question(answer: str, question: str | None) -> bool:
    """Whether `answer` is its question again (copied, or with a word changed), in any
    language; a longer answer that starts by quoting the question is not."""
    if not question:
        return False
    a, q = normalize(answer), normalize(question)
    if not a or not q:
        return False
    if a == q:
        return True
    if len(a) > 1.3 * len(q) + 5 or len(a) < 0.6 * len(q):
        return False
    return char_similarity(a, q) >= QUESTION_SIMILARITY


def nonresponse_reason(
    text: str,
    question: str | None = None,
    placeholders: Iterable[str] = (),
) -> str | None:
    """Why `text` is no answer (one of the reasons above), or None when it is content.

    `question` is the question it answers, when the upload names a question column;
    `placeholders` are a project's own placeholder strings, matched after `normalize`.
    """
    stripped = text.strip()
    if len(stripped) > 80 and not question:
        return None  # longer than any placeholder: the common case, decided at once
    if not any(ch.isalnum() for ch in stripped):
        return NO_WORDS
    key = normalize(stripped)
    if key in PLACEHOLDERS:
        return PLACEHOLDER
    if key in FORM_DEFAULTS:
        return FORM_DEFAULT
    if placeholders and key in {normalize(p) for p in placeholders}:
        return PROJECT_PLACEHOLDER
    if repeats_question(stripped, question):
        return REPEATS_QUESTION
    return None


#: "No answer" in a few languages: what a placeholder means, not a list of placeholders.
POSITIVE_ANCHORS = (
    "no answer",
    "did not answer",
    "no response",
    "not applicable",
    "no comment",
    "prefer not to say",
    "keine Antwort",
    "sans réponse",
    "sin respuesta",
    "sem resposta",
    "nessuna risposta",
    "geen antwoord",
)
#: Short real answers a placeholder must be closer to the anchors than to.
NEGATIVE_ANCHORS = (
    "nothing",
    "none",
    "no",
    "nothing at all",
    "nothing to improve",
    "everything",
    "all good",
    "thank you",
    "don't know",
    "not sure",
)


@dataclass
class PlaceholderScreen:
    """Finds placeholders on no list among the texts of an analysis, from their vectors.

    A distinct text is a placeholder when it is short (at most `max_words` words), repeated
    (at least `min_count` times and `min_share` of the texts: respondents who skip a
    question write the same thing), its vector is within `similarity` (cosine) of one of the
    positive anchors, and it is closer to them by `margin` than to the negative anchors (real
    short answers). Anchors are embedded by the same model as the texts.
    """

    similarity: float = 0.55
    margin: float = 0.1
    min_count: int = 3
    min_share: float = 0.002
    max_words: int = 4
    found_: dict[str, int] = field(default_factory=dict)

    def fit(
        self,
        texts: Sequence[str],
        X: FloatMatrix,
        positive: FloatMatrix,
        negative: FloatMatrix,
    ) -> PlaceholderScreen:
        """Learn `found_`: each placeholder text (normalised) and how many times it occurs."""
        keys = [normalize(t) for t in texts]
        counts = Counter(keys)
        floor = max(self.min_count, self.min_share * len(texts))
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        candidates = [
            k for k, n in counts.items() if n >= floor and k and len(k.split()) <= self.max_words
        ]
        self.found_ = {}
        if not candidates:
            return self
        rows = np.asarray([X[first[k]] for k in candidates], dtype=np.float64)
        rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        pos = _unit(positive) @ rows.T
        neg = _unit(negative) @ rows.T
        best_pos, best_neg = pos.max(axis=0), neg.max(axis=0)
        for key, p, q in zip(candidates, best_pos, best_neg, strict=True):
            if p >= self.similarity and p >= q + self.margin:
                self.found_[key] = counts[key]
        return self

    def mask(self, texts: Sequence[str]) -> np.ndarray:
        """True for each text that is one of the placeholders found."""
        return np.asarray([normalize(t) in self.found_ for t in texts], dtype=bool)


def _unit(M: FloatMatrix) -> np.ndarray:
    A = np.asarray(M, dtype=np.float64)
    unit: np.ndarray = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)
    return unit
