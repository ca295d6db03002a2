"""The sentence splitter's rules, packing sentences into segments, and segment shares."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.segments import (
    LONG_TOKENS,
    SEGMENT_TOKENS,
    pack,
    pooled_vector,
    reads_whole,
    segment,
    segment_spans,
    split_sentences,
    word_piece_estimate,
)
from pipelines.themes.membership import closest_segment, segment_distribution, top_memberships


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


class TestSplitter:
    def test_ends_at_stops_questions_and_exclamations(self) -> None:
        assert sentences("The ward was full. Where could we go? Nowhere!  We waited") == [
            "The ward was full.",
            "Where could we go?",
            "Nowhere!",
            "We waited",
        ]

    @pytest.mark.parametrize(
        "text",
        [
            "Dr. Patel saw us at once.",
            "Mrs. Jones and Mr. Smith came too.",
            "We brought food, drinks, etc. and blankets.",
            "Bring something warm, e.g. a coat.",
            "J. R. Smith signed the letter.",
            "The U.S. team arrived late.",
            "She lives in bed No. 5 on the left.",
        ],
    )
    def test_abbreviations_and_initials_do_not_end_a_sentence(self, text: str) -> None:
        assert sentences(text) == [text]

    def test_no_as_a_word_ends_a_sentence(self) -> None:
        assert sentences("I said no. Then I left.") == ["I said no.", "Then I left."]

    def test_decimals_and_times_stay_whole(self) -> None:
        text = "The wait was 3.5 hours, from 10.30 to 14.00. Fees rose by 2.75%."
        assert sentences(text) == [
            "The wait was 3.5 hours, from 10.30 to 14.00.",
            "Fees rose by 2.75%.",
        ]

    def test_closing_quotes_stay_with_their_sentence(self) -> None:
        text = 'He said "Stop!" Then he left. \u201cWhy?\u201d she asked. \u201cNo.\u201d We went.'
        assert sentences(text) == [
            'He said "Stop!"',
            "Then he left.",
            "\u201cWhy?\u201d she asked.",
            "\u201cNo.\u201d",
            "We went.",
        ]

    def test_an_ellipsis_ends_only_before_a_capital(self) -> None:
        assert sentences("We waited... and waited. Then\u2026 Nothing.") == [
            "We waited... and waited.",
            "Then\u2026",
            "Nothing.",
        ]

    def test_text_without_punctuation_is_one_sentence(self) -> None:
        text = "no stops at all just a long run of words from a chat"
        assert sentences(text) == [text]
        assert sentences("") == []
        assert sentences("   ") == []


class TestSegments:
    def test_short_texts_are_not_segmented(self) -> None:
        words = LONG_TOKENS // 2
        assert segment_spans([" ".join(["word"] * words)]) == [None]

    def test_sentences_are_packed_up_to_the_limit(self) -> None:
        spans = [(0, 10), (11, 20), (21, 30), (31, 40)]
        assert pack(spans, [30, 30, 30, 30], limit=64) == [(0, 20), (21, 40)]
        # a short last segment joins the one before it
        assert pack(spans[:3], [30, 30, 10], limit=64) == [(0, 30)]

    def test_text_without_punctuation_is_cut_at_words_within_the_limit(self) -> None:
        text = " ".join(f"w{i}" for i in range(300))
        (found,) = segment([text])
        assert found is not None and len(found.texts) > 1
        assert " ".join(found.texts) == text
        assert max(word_piece_estimate(found.texts)) <= SEGMENT_TOKENS + 2

    def test_segments_cover_the_sentences_in_order(self) -> None:
        story = " ".join(f"Sentence number {i} tells of the ward and its beds." for i in range(20))
        (found,) = segment([story + "  "])
        assert found is not None and len(found.spans) >= 3
        assert " ".join(found.texts) == story
        assert all(t.endswith(".") for t in found.texts)
        assert max(word_piece_estimate(found.texts)) <= SEGMENT_TOKENS

    def test_the_models_counter_decides_what_is_long(self) -> None:
        text = "Short words. Few of them."
        assert segment_spans([text], lambda ts: [100 for _ in ts]) != [None]
        assert segment_spans([text]) == [None]


class TestSegmentMemberships:
    def test_pooled_vector_is_the_length_weighted_unit_mean(self) -> None:
        v = pooled_vector([[1.0, 0.0], [0.0, 1.0]], [3.0, 1.0])
        np.testing.assert_allclose(v, np.array([3.0, 1.0]) / np.sqrt(10.0), rtol=1e-6)

    def test_shares_follow_the_themes_the_segments_fall_in(self) -> None:
        centroids = np.eye(3)
        segments = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.1, 0.9, 0.0], [0, 0, 1.0]])
        owners = np.array([0, 0, 0, 1])
        lengths = np.array([30.0, 30.0, 40.0, 10.0])
        shares = segment_distribution(owners, segments, lengths, centroids, 2)
        np.testing.assert_allclose(shares, [[0.6, 0.4, 0.0], [0.0, 0.0, 1.0]])
        themes, probs = top_memberships(shares, np.array([0, 2]))
        assert themes[0].tolist() == [0, 1, -1] and probs[0, :2].tolist() == [0.6, 0.4]
        assert themes[1].tolist() == [2, -1, -1]

    def test_the_quote_is_the_segment_nearest_the_theme(self) -> None:
        segments = np.array([[1.0, 0.0], [0.0, 1.0]])
        assert closest_segment(segments, np.array([0.2, 0.98])) == 1
        assert closest_segment(segments, np.array([0.98, 0.2])) == 0


class _Windowed:
    max_tokens = 10

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]


def test_a_text_is_read_whole_only_when_it_fits_the_models_window() -> None:
    assert reads_whole(_Windowed(), ["one two", " ".join(["w"] * 11)]) == [True, False]
    # an embedder without a window pools every long text from its segments
    assert reads_whole(object(), ["one two"]) == [False]
