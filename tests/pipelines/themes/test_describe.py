from __future__ import annotations

import numpy as np
import pytest

from pipelines.themes import ThemeDescriber, exemplar_indices, stem
from pipelines.themes.describe import clean_text, diverse_keywords, short_label

# Three themes in a hand-made meeting chat, with the usual boilerplate mixed in.
NURSING = [
    "The nurses on the ward are exhausted after night shifts",
    "Nursing staff shortages mean nurses cover extra shifts",
    "A nurse told me the night shifts on the ward are too long",
    "Agency nurses cost the ward more than permanent nursing staff",
    "Thanks everyone, nurses are leaving because of night shifts",
    "Nurses need rest between night shifts on the ward",
]
PHARMACY = [
    "The pharmacy ran out of insulin again this week",
    "Prescriptions at the pharmacy take days to be ready",
    "Insulin prescriptions are delayed at the local pharmacy",
    "Can you hear me? The pharmacy queue for prescriptions is huge",
    "Pharmacy staff cannot find insulin stock https://example.org/stock",
    "Repeat prescriptions from the pharmacy arrive late",
]
PARKING = [
    "Parking at the hospital costs too much for visitors",
    "Visitors pay for parking and the car park is always full",
    "The car park is full so visitors circle for parking",
    "+1 parking charges for visitors are unfair",
    "Hi all, the hospital car park needs more parking spaces",
    "Parking fees put off visitors from coming to the hospital",
]
BOILERPLATE = ["Hi all", "Thanks!", "+1", "Sam joined the meeting", "can you hear me?", "thank you"]
TEXTS = NURSING + PHARMACY + PARKING + BOILERPLATE
LABELS = np.array([0] * 6 + [1] * 6 + [2] * 6 + [-1] * 6)


@pytest.fixture(scope="module")
def described() -> ThemeDescriber:
    return ThemeDescriber(n_keywords=8).fit(TEXTS, LABELS)


def _words(keywords: list[tuple[str, float]]) -> set[str]:
    return {w for phrase, _ in keywords for w in phrase.split()}


def test_expected_keywords_appear(described: ThemeDescriber) -> None:
    assert described.n_themes_ == 3
    assert {"nurse", "nurses", "nursing"} & _words(described.keywords_[0])
    assert "shifts" in _words(described.keywords_[0]) or "night shifts" in dict(
        described.keywords_[0]
    )
    assert {"pharmacy", "insulin"} <= _words(described.keywords_[1])
    assert "parking" in _words(described.keywords_[2])
    assert "visitors" in _words(described.keywords_[2])


def test_boilerplate_never_appears(described: ThemeDescriber) -> None:
    banned = {"thanks", "thank", "hi", "hear", "joined", "meeting", "example", "org", "https", "1"}
    for keywords in described.keywords_:
        assert not _words(keywords) & banned


def test_the_remains_of_web_markup_name_no_theme_and_are_no_keyword() -> None:
    # text copied from web pages with its punctuation stripped: tags and links left as words
    markup = "lt href http investor reuters fullquote aspx ticker gt"
    texts = [
        f"ceo pleads guilty to fraud {markup} chief executive pleaded guilty",
        f"schwab cuts trading fees {markup} biggest discount brokerage cut fees",
        f"boeing to negotiate tax breaks {markup} boeing discussed tax breaks",
        "the striker scored twice in the cup final",
        "the keeper saved a penalty in the cup final",
        "the cup final went to extra time after the striker scored",
    ]
    fitted = ThemeDescriber().fit(texts, np.array([0, 0, 0, 1, 1, 1]))
    residue = {"lt", "gt", "href", "http", "aspx", "fullquote", "ticker"}
    assert not {w.lower() for w in fitted.theme_labels_[0].split()} & residue
    assert not _words(fitted.keywords_[0]) & residue


def test_no_two_forms_of_one_word(described: ThemeDescriber) -> None:
    for keywords in described.keywords_:
        stems = [stem(w) for phrase, _ in keywords for w in phrase.split()]
        assert len(stems) == len(set(stems)), keywords


def test_weights_are_positive_and_sorted(described: ThemeDescriber) -> None:
    for keywords in described.keywords_:
        weights = [w for _, w in keywords]
        assert weights and all(w > 0 for w in weights)
        assert weights == sorted(weights, reverse=True)


def test_labels_are_short_phrases_from_the_theme(described: ThemeDescriber) -> None:
    # a label is a phrase of the theme's own texts now, no longer its first keywords joined
    for t, label in enumerate(described.theme_labels_):
        assert 0 < len(label.split()) <= 6
        assert any(label.lower() in TEXTS[i].lower() for i in np.flatnonzero(t == LABELS))


def test_diverse_keywords_drop_other_forms() -> None:
    ranked = [
        ("nurses", 3.0),
        ("nurse", 2.9),
        ("nursing", 2.8),
        ("ward", 2.0),
        ("nurse nurses", 1.5),
    ]
    assert [k for k, _ in diverse_keywords(ranked, 5)] == ["nurses", "ward"]
    assert stem("nurse") == stem("nurses") == stem("nursing")


def test_clean_text_strips_chat_boilerplate() -> None:
    cleaned = clean_text("Hi! Can you hear me? See https://x.org/a and thanks so much +1")
    assert "http" not in cleaned and "hear" not in cleaned and "thanks" not in cleaned
    assert "+1" not in cleaned


def test_short_label_of_nothing() -> None:
    assert short_label([]) == "(no keywords)"


def test_exemplars_are_central_and_not_duplicates() -> None:
    rng = np.random.default_rng(0)
    centre = rng.normal(size=16)
    centre /= np.linalg.norm(centre)
    # Members 0-2 are the same point (near-duplicates), 3-5 distinct, all close to the centre.
    base = centre + 0.05 * rng.normal(size=16)
    others = centre + 0.35 * rng.normal(size=(6, 16))
    emb = np.vstack([base, base + 1e-4, base - 1e-4, others])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    members = np.arange(emb.shape[0], dtype=np.int64)
    picked = exemplar_indices(emb, members, centre, n_exemplars=4, duplicate_threshold=0.9)
    assert picked[0] in {0, 1, 2}
    assert len(picked) == 4
    assert len({0, 1, 2} & set(picked)) == 1
    sims = emb[picked] @ emb[picked].T
    assert np.all(sims[~np.eye(len(picked), dtype=bool)] < 0.9)


def test_exemplars_skip_repeated_texts() -> None:
    emb = np.eye(4)
    emb[:, 0] += 1.0
    texts = ["same words", "Same  words", "other", "more"]
    picked = exemplar_indices(
        emb, np.arange(4, dtype=np.int64), np.array([1.0, 0, 0, 0]), 3, 0.99, texts
    )
    assert 0 in picked and 1 not in picked


def test_describer_exemplars_index_into_texts() -> None:
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(len(TEXTS), 8))
    d = ThemeDescriber(n_exemplars=3).fit(TEXTS, LABELS, embeddings=emb)
    for t, ex in enumerate(d.exemplars_):
        assert 0 < len(ex) <= 3
        assert all(LABELS[i] == t for i in ex)


def test_no_themes() -> None:
    d = ThemeDescriber().fit(["hello", "thanks"], np.array([-1, -1]))
    assert d.n_themes_ == 0 and d.keywords_ == [] and d.theme_labels_ == []


def test_labels_must_match_texts() -> None:
    with pytest.raises(ValueError):
        ThemeDescriber().fit(["a", "b"], np.array([0]))
