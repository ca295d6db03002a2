"""Theme names: short phrases from the theme's own texts, distinct among siblings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipelines.embed import FloatMatrix, HashEmbedder
from pipelines.themes import ThemeDescriber, find_themes, stem
from pipelines.themes.naming import (
    MAX_NAME_WORDS,
    WordRoles,
    fallback_name,
    sentence_case,
    spans,
)
from tests.pipelines.themes.test_api import _corpus
from tests.pipelines.themes.test_describe import LABELS, TEXTS

TOPICS = ("nurse", "pharmacy", "parking")


def _topic_vectors(texts: Sequence[str]) -> FloatMatrix:
    """A vector per text pointing at the topic its words name (a fourth axis for none)."""
    rows = []
    for text in texts:
        low = text.lower()
        row = np.array([float(w in low) for w in (*TOPICS, "insulin")] + [0.1])
        rows.append(row / np.linalg.norm(row))
    return np.asarray(rows, dtype=np.float32)


class CountingEmbedder:
    """Topic vectors for phrases, counting the calls made."""

    name = "topics"
    dimension = 5

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        self.calls += 1
        return _topic_vectors(texts)


def test_names_are_short_phrases_from_the_themes_own_texts() -> None:
    d = ThemeDescriber().fit(TEXTS, LABELS, _topic_vectors(TEXTS))
    for t, name in enumerate(d.theme_labels_):
        assert 1 <= len(name.split()) <= MAX_NAME_WORDS
        members = [TEXTS[i].lower() for i in np.flatnonzero(t == LABELS)]
        assert any(name.lower() in text for text in members), name
        assert "," not in name
    assert "nurs" in d.theme_labels_[0].lower()
    assert "pharmacy" in d.theme_labels_[1].lower() or "insulin" in d.theme_labels_[1].lower()
    assert "park" in d.theme_labels_[2].lower()


def test_a_theme_of_stop_words_is_named_by_its_most_central_text() -> None:
    texts = ["Nothing.", "nothing", "Nothing at all", "parking costs", "parking fees"]
    labels = np.array([0, 0, 0, 1, 1])
    vectors = np.array([[1, 0], [0.9, 0.1], [0.7, 0.3], [0, 1], [0.1, 0.9]], dtype=np.float32)
    d = ThemeDescriber().fit(texts, labels, vectors)
    assert d.keywords_[0] == []
    # the text nearest the centroid ("nothing", not "Nothing." or "Nothing at all"), capitalised
    assert d.theme_labels_[0] == "Nothing"
    assert "(no keywords)" not in d.theme_labels_


def test_sibling_themes_never_share_a_name() -> None:
    # two themes of the same words (as "Nothing." and "Nothing" were), and two of one phrase
    texts = ["Nothing."] * 4 + ["Nothing"] * 4 + ["car park full"] * 3 + ["car park full!"] * 3
    labels = np.array([0] * 4 + [1] * 4 + [2] * 3 + [3] * 3)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(texts), 8))
    for embeddings in (None, vectors):
        names = ThemeDescriber().fit(texts, labels, embeddings).theme_labels_
        keys = [" ".join(n.lower().strip(".!").split()) for n in names]
        assert len(set(keys)) == 4, names


def test_candidates_are_embedded_in_one_batch() -> None:
    embedder = CountingEmbedder()
    d = ThemeDescriber().fit(TEXTS, LABELS, _topic_vectors(TEXTS), phrase_embedder=embedder)
    assert embedder.calls == 1
    assert "nurs" in d.theme_labels_[0].lower()
    assert "park" in d.theme_labels_[2].lower()


def test_a_name_is_drawn_again_without_the_narrative_it_came_from() -> None:
    texts = [
        "zorblaxian beds are short",
        "zorblaxian beds again",
        "few beds on the ward tonight",
        "parking costs too much",
        "parking fees for visitors",
    ]
    labels = np.array([0, 0, 0, 1, 1])
    before = ThemeDescriber().fit(texts, labels, _topic_vectors(texts)).theme_labels_[0]
    kept = [2, 3, 4]  # the two narratives using the word are deleted
    after = (
        ThemeDescriber()
        .fit([texts[i] for i in kept], labels[kept], _topic_vectors([texts[i] for i in kept]))
        .theme_labels_[0]
    )
    assert "zorblaxian" in before.lower()
    assert "zorblaxian" not in after.lower() and "beds" in after.lower()


def test_spans_stay_inside_a_clause_and_end_on_content_words() -> None:
    found = {c.surface for c in spans("Beds are short, the ward is full", _content, _stem)}
    assert "Beds are short" in found and "ward is full" in found
    assert not any("," in s or s.startswith("the") or s.endswith("is") for s in found)


def test_a_span_has_at_most_six_words_as_written() -> None:
    found = spans("Free speech & dissent should not be banned", str.isalpha, str.lower)
    assert found and all(len(c.surface.split()) <= MAX_NAME_WORDS for c in found)
    surfaces = {c.surface for c in found}
    assert "Free speech & dissent should not" in surfaces  # six words, five of them tokens
    assert "Free speech & dissent should not be" not in surfaces


def test_fallback_name_is_cut_to_six_words() -> None:
    assert fallback_name("Nothing.") == "Nothing"
    long = "I do not have anything else to say at all"
    assert fallback_name(long) == "I do not have anything else\u2026"


def _content(word: str) -> bool:
    return word.lower() not in {"are", "the", "is"}


def _stem(word: str) -> str:
    return word.lower()


class HashPhrases:
    """Vectors of any dimension for phrases, counting the batches asked for."""

    name = "hash"

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        self.calls += 1
        return HashEmbedder(self.dimension).encode(texts)


def test_find_themes_embeds_the_candidates_of_a_level_in_one_batch() -> None:
    texts, X, _ = _corpus([40, 35, 30])
    embedder = HashPhrases(X.shape[1])
    result = find_themes(texts, X, with_map=False, embedder=embedder)
    assert 1 <= embedder.calls <= 2  # the themes, then the sub-themes when there are any
    assert result.parameters["names_embedded"] is True
    names = [t.label.lower() for t in result.themes]
    assert len(set(names)) == len(names)
    assert find_themes(texts, X, with_map=False).parameters["names_embedded"] is False


def _spans_of(text: str) -> dict[str, bool]:
    """Each span of ``text`` (English stop words out) and whether it is well formed."""
    stop = {"to", "the", "we", "at", "a", "our", "is", "and", "are", "because"}
    found = spans(text, lambda w: w.lower() not in stop, str.lower, roles=None)
    return {c.surface: c.well_formed for c in found}


def test_a_span_cut_from_its_object_or_its_subject_is_not_well_formed() -> None:
    found = _spans_of("Staff try to make the ward safe")
    assert found["Staff try to make"] is False  # "make" governs "the ward safe"
    assert found["make the ward safe"] is False  # "make" follows "to"
    assert found["Staff try"] is False  # "try" governs "to make"
    assert found["ward safe"] is True
    found = _spans_of("We spent the shift waiting")
    assert found["spent the shift"] is False  # "spent" follows "we"
    assert found["shift waiting"] is True
    found = _spans_of("the nurse rota is unfair")
    assert found["nurse"] is False and found["rota"] is False  # each cut from "nurse rota"
    assert found["nurse rota"] is True and found["nurse rota is unfair"] is True


def test_a_span_starts_with_the_negation_before_it() -> None:
    stop = {"is", "are", "were", "no", "not", "the", "on"}

    def found(text: str) -> dict[str, bool]:
        return {
            c.surface: c.well_formed
            for c in spans(text, lambda w: w.lower() not in stop, str.lower, roles=None)
        }

    # without "no" the name would say the opposite
    assert "longer needed" not in found("Retirement is no longer needed")
    assert found("Retirement is no longer needed")["no longer needed"] is True
    assert found("There were no beds on the ward")["no beds"] is True
    assert found("Shifts are not safe")["not safe"] is True
    assert "safe" not in found("Shifts are not safe")


def test_a_span_opening_a_clause_ends_with_it() -> None:
    found = _spans_of("Vaccines are mandatory because children need protection")
    assert found["mandatory because children"] is False  # "... need protection" left out
    assert found["children need protection"] is True
    assert _spans_of("Mandatory because children suffer")["Mandatory because children suffer"]


def test_a_word_the_texts_use_as_a_verb_ends_no_well_formed_span() -> None:
    roles = WordRoles()
    for text in ("we chase the results", "they chase the forms", "to chase the rota"):
        roles.add(text)
    [alone] = [c for c in spans("Nurses chase", str.isalpha, str.lower) if c.n_words == 2]
    [seen] = [
        c for c in spans("Nurses chase", str.isalpha, str.lower, roles=roles) if c.n_words == 2
    ]
    assert alone.well_formed and not seen.well_formed
    assert roles.ends_badly("chase") and roles.starts_badly("chase")
    assert not roles.ends_badly("results") and not roles.starts_badly("results")


def _name(texts: list[str], labels: list[int], **kwargs: object) -> list[str]:
    return (
        ThemeDescriber().fit(texts, np.array(labels), _topic_vectors(texts), **kwargs).theme_labels_
    )


def test_names_are_well_formed_phrases_when_the_theme_has_one() -> None:
    # every text starts "staff try to make": the commonest span, cut before its object
    texts = [
        "Staff try to make the nurse rota fair",
        "Staff try to make nurse shifts shorter",
        "Staff try to make the nurse handover quick",
        "parking costs too much",
        "parking fees for visitors",
    ]
    names = _name(texts, [0, 0, 0, 1, 1])
    roles = WordRoles()
    for text in texts:
        roles.add(text)
    assert not names[0].lower().endswith(("make", "try")), names
    last = names[0].split()[-1].lower()
    assert not roles.ends_badly(last)


def test_sibling_names_do_not_nest() -> None:
    texts = [
        "records system crashed at handover",
        "records system crashed at handover again",
        "the records system crashed at handover today",
        "it crashed at handover",
        "crashed at handover, so slow",
        "again it crashed at handover time",
    ]
    rng = np.random.default_rng(3)
    centre = rng.normal(size=8)
    vectors = np.stack([centre + 0.05 * rng.normal(size=8) for _ in texts])
    vectors[3:, 0] += 0.5  # two themes close together, as siblings are
    names = ThemeDescriber().fit(texts, np.array([0, 0, 0, 1, 1, 1]), vectors).theme_labels_
    first, second = ({stem(w) for w in n.lower().split()} - {"at"} for n in names)
    assert not (first <= second or second <= first), names


def test_names_are_in_sentence_case() -> None:
    texts = [
        "night shifts are long",
        "night shifts again",
        "PARKING COSTS TOO MUCH",
        "PARKING COSTS",
    ]
    names = ThemeDescriber().fit(texts, np.array([0, 0, 1, 1]), _topic_vectors(texts)).theme_labels_
    assert all(n[0].isupper() for n in names), names
    assert names[1] == names[1][0] + names[1][1:].lower()  # shouting is not kept
    assert sentence_case("nHS waits") == "NHS waits" and sentence_case("GP waits") == "GP waits"


def test_fixed_names_are_kept_and_the_others_named_apart() -> None:
    fixed = {1: "Insulin at the pharmacy"}
    d = ThemeDescriber().fit(
        TEXTS, LABELS, _topic_vectors(TEXTS), phrase_embedder=CountingEmbedder(), fixed_names=fixed
    )
    assert d.theme_labels_[1] == "Insulin at the pharmacy"
    assert "nurs" in d.theme_labels_[0].lower() and "park" in d.theme_labels_[2].lower()
    kept = ThemeDescriber().fit(TEXTS, LABELS, _topic_vectors(TEXTS), fixed_names={0: "Parking"})
    assert kept.theme_labels_[0] == "Parking"
    assert "park" not in kept.theme_labels_[2].lower()  # the kept name's words are taken


def test_a_name_drawn_with_the_model_is_drawn_again_without_the_narrative() -> None:
    texts = [
        "zorblaxian nurses are short",
        "zorblaxian nurses again",
        "few nurses on the ward tonight",
        "nurses on night shifts are tired",
        "parking costs too much",
        "parking fees for visitors",
    ]
    labels = np.array([0, 0, 0, 0, 1, 1])
    fit = ThemeDescriber().fit(
        texts, labels, _topic_vectors(texts), phrase_embedder=CountingEmbedder()
    )
    assert "zorblaxian" in fit.theme_labels_[0].lower()
    kept = [2, 3, 4, 5]
    left = [texts[i] for i in kept]
    again = ThemeDescriber().fit(
        left,
        labels[kept],
        _topic_vectors(left),
        phrase_embedder=CountingEmbedder(),
        fixed_names={1: fit.theme_labels_[1]},
    )
    assert "zorblaxian" not in again.theme_labels_[0].lower()
    assert "nurs" in again.theme_labels_[0].lower()
    assert again.theme_labels_[1] == fit.theme_labels_[1]
