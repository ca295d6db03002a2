"""Non-responses: placeholders are told apart from short answers, at ingest and by vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipelines.embed import SentenceTransformerEmbedder
from pipelines.ingest._text import is_low_content, low_content_kind
from pipelines.ingest.batch import parse_batch
from pipelines.ingest.zoom_chat import parse_zoom_chat
from pipelines.nonresponse import (
    ABOUT_THE_CALL,
    CORRECTION,
    LAUGHTER,
    LINK_ONLY,
    NEGATIVE_ANCHORS,
    PLACEHOLDER,
    PLEASANTRY,
    POSITIVE_ANCHORS,
    PROJECT_PLACEHOLDER,
    REPEATS_QUESTION,
    SYMBOLS_ONLY,
    PlaceholderScreen,
    nonresponse_reason,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "nonresponse_judged.json"


@pytest.mark.parametrize("text", ["Did not answer", "N/A", "n/a.", "-", ".", "No comment", "?"])
def test_placeholders_are_no_answer(text: str) -> None:
    assert nonresponse_reason(text) is not None


@pytest.mark.parametrize(
    "text", ["Nothing", "Nothing.", "Excellent service", "No.", "Not sure.", "Waiting time"]
)
def test_short_answers_are_content(text: str) -> None:
    assert nonresponse_reason(text, "What could we improve?") is None


def test_an_answer_repeating_its_question_is_no_answer_in_any_language() -> None:
    assert nonresponse_reason("What could we do better", "What could we do better?") == (
        REPEATS_QUESTION
    )
    assert nonresponse_reason("Was können wir besser machen", "Was können wir besser machen?")
    long = "What could we do better? Answer the phone faster, the wait was an hour."
    assert nonresponse_reason(long, "What could we do better?") is None


def test_a_project_declares_its_own_placeholders() -> None:
    assert nonresponse_reason("Keine Angabe.", None, ["keine angabe"]) == PROJECT_PLACEHOLDER
    assert nonresponse_reason("Keine Angabe.") is None


def test_survey_rows_with_a_question_keep_short_answers_and_drop_placeholders() -> None:
    body = (
        b"FFT question,FFT answer\n"
        b"Why?,Did not answer\n"
        b"What could we do better?,No.\n"
        b"Why?,Thank you.\n"
        b"What could we do better?,What could we do better?\n"
    )
    records = list(parse_batch(body))
    assert [r.low_content_reason for r in records] == [PLACEHOLDER, None, None, REPEATS_QUESTION]
    assert records[0].attributes["FFT question"] == "Why?"


@pytest.mark.parametrize(
    "line",
    [
        "Thank you - very useful!",
        "thanks, very useful!",
        "+1",
        "agreed",
        "Hi everyone",
        "can you hear me?",
        "hahaha",
        "great echo :P",
    ],
)
def test_chat_pleasantries_are_low_content(line: str) -> None:
    assert is_low_content(line)


@pytest.mark.parametrize(
    "line", ["Great service", "thanks, I will check the link about grasshopper", "Yes, you can"]
)
def test_chat_lines_with_a_subject_are_content(line: str) -> None:
    assert not is_low_content(line)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("https://www.ftdichip.com/Drivers/D2XX.htm", LINK_ONLY),
        ("\U0001f44d\U0001f44d", SYMBOLS_ONLY),
        (":O", SYMBOLS_ONLY),
        ("thanks Ana!", PLEASANTRY),
        ("Thank you - very useful!", PLEASANTRY),
        ("Thanks Ferdi and Maciek", PLEASANTRY),
        ("Thanks @Fiore and @Neil", PLEASANTRY),
        ("Thank you Maryam :D I will check it out", None),
        ("Thanks Neil, the Arduino IDE works now", None),
        ("yes, thank you:)", PLEASANTRY),
        ("ok thanks!", PLEASANTRY),
        ("yes thanks, the link works", None),
        ("can you hear me?", ABOUT_THE_CALL),
        ("Hi Neil. I am ready to present now", ABOUT_THE_CALL),
        ("HAHAHA", LAUGHTER),
        ("*link", CORRECTION),
        ("Great service", None),
    ],
)
def test_a_chat_line_left_out_says_what_kind_it_is(line: str, kind: str | None) -> None:
    # a shared link is not a pleasantry: the notes and the themes page name the kind
    assert low_content_kind(line) == kind


def test_a_parsed_chat_carries_each_left_out_lines_kind() -> None:
    chat = (
        b"14:06:25\t From Ana : https://fabacademy.org/2020/schedule.html\n"
        b"14:06:52\t From Ben : thanks Ana!\n"
        b"14:07:03\t From Ana : the laser cutter is booked until Friday\n"
    )
    records = parse_zoom_chat(chat).records
    assert [(r.low_content, r.low_content_reason) for r in records] == [
        (True, LINK_ONLY),
        (True, PLEASANTRY),
        (False, None),
    ]


@pytest.fixture(scope="module")
def model() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(batch_size=16)


def test_placeholders_on_no_list_are_found_by_their_vectors(
    model: SentenceTransformerEmbedder,
) -> None:
    answers = [
        "Das Personal war sehr freundlich und hilfsbereit",
        "Die Wartezeit war zu lang",
        "Muy buen servicio, gracias",
        "El médico me escuchó con paciencia",
        "Nothing.",
        "Parking was difficult",
    ]
    texts = answers * 8 + ["keine Angabe"] * 6 + ["sin comentarios"] * 6 + ["Nothing."] * 10
    assert nonresponse_reason("keine Angabe") is None  # on no list
    X = model.encode(texts)
    screen = PlaceholderScreen().fit(
        texts, X, model.encode(POSITIVE_ANCHORS), model.encode(NEGATIVE_ANCHORS)
    )
    assert set(screen.found_) == {"keine angabe", "sin comentarios"}
    assert int(np.sum(screen.mask(texts))) == 12


def test_the_hand_checked_sample_holds_ids_and_judgements_only() -> None:
    judged = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert len(judged["nhs"]) == 200 and len(judged["chat"]) == 200
    assert all(set(j) == {"comment_id", "left_out"} for j in judged["nhs"])
    assert all(set(j) == {"file", "line", "left_out"} for j in judged["chat"])
