from __future__ import annotations

from pipelines.ingest.mentions import SHARED, Mentions, mentions_of

NAMES = {
    "Ana Duarte": "person-ana",
    "Chidi Eze": "person-chidi",
    "natalia": "person-natalia",
    "Maria Lopez": "person-lopez",
    "Maria Chen (Fab Lab Leon)": "person-chen",
    "Ben Shanghai": "person-ben",
    "Jin Cui Shanghai": "person-jin",
    "Distance": "person-distance",
    "Will": "person-will",
}


def test_a_participant_named_in_a_message_becomes_their_pseudonym() -> None:
    unnamed = Mentions(NAMES)
    assert unnamed("Thanks Chidi, very useful") == "Thanks @person-chidi, very useful"
    assert unnamed("thanks chidi") == "thanks chidi"  # lower case: could be any word
    # the whole name is one mention, not one per part
    assert unnamed("Ana Duarte said so") == "@person-ana said so"
    assert unnamed("@Ana: agreed") == "@person-ana: agreed"
    assert unnamed("ask Duarte") == "ask @person-ana"


def test_a_lower_case_user_name_is_replaced_as_its_owner_writes_it() -> None:
    unnamed = Mentions(NAMES)
    assert unnamed("natalia your link works") == "@person-natalia your link works"
    assert unnamed("Natalia: yes") == "@person-natalia: yes"


def test_a_first_name_two_people_share_names_nobody() -> None:
    unnamed = Mentions(NAMES)
    assert unnamed("Maria, can you share it?") == f"{SHARED}, can you share it?"
    assert unnamed("Chen and Lopez agree") == "@person-chen and @person-lopez agree"


def test_places_labs_and_common_words_in_display_names_stay() -> None:
    unnamed = Mentions(NAMES)
    # a trailing part two people share is a place more often than a person
    assert unnamed("I am in Shanghai too") == "I am in Shanghai too"
    # what a display name says in brackets is an affiliation
    assert unnamed("The Fab Lab in Leon is open") == "The Fab Lab in Leon is open"
    # a common English word is not taken for a name
    assert unnamed("Will you post the slides?") == "Will you post the slides?"
    # the word written in lower case is a word, not the person
    assert unnamed("the distance is long") == "the distance is long"
    assert unnamed("Hello Distance!") == "Hello @person-distance!"


def test_addresses_are_left_whole() -> None:
    unnamed = Mentions(NAMES)
    text = "see https://example.org/Chidi/notes and chidi.eze@example.org"
    assert unnamed(text) == text


def test_names_kept_as_written_are_not_replaced() -> None:
    # a project that keeps authors' names keeps them in the words too
    assert mentions_of(["Ana Duarte"], lambda name: name)("Thanks Ana") == "Thanks Ana"
    assert not mentions_of([None, " "], lambda name: "person-x")
    assert mentions_of(["Ana Duarte"], lambda name: "person-a")("Thanks Ana") == (
        "Thanks @person-a"
    )


def test_a_pseudonym_in_the_words_never_reaches_a_theme_name() -> None:
    from pipelines.themes.describe import clean_text

    text = Mentions(NAMES)("Ask Chidi about the booking rule")
    assert "person" not in clean_text(text)
    assert "booking rule" in clean_text(text)
