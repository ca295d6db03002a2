"""Participants' names inside a session's messages, replaced by their pseudonyms.

A chat line or transcript turn often names another participant ("Thanks Ferdi", "Marco, can
you share the link?"). Authors are stored under pseudonyms, so their names are not stored in
the words either: each name of a participant, whole or by its parts, becomes that participant's
pseudonym written as a mention (``@person-…``). A part two participants share ("Maria" for
Maria Lopez and Maria Chen) cannot say who was meant and becomes ``@participant``.

Only the session's own participants are known, so other people named in a message are left
as written. A part that is also a common English word ("Will", "May") is not replaced, and a
part is replaced where it is written with a capital, or exactly as the participant writes it
(a lower-case user name such as ``natalia``), so "the distance" stays while "Hello Distance"
does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

#: Written for a name that more than one participant carries.
SHARED = "@participant"

_PART = re.compile(r"[^\W\d_]{3,}")
# what a display name adds after the person: "Greg (Dassault)", "Antonio - OpenDot", "Ben / Paris"
_AFFILIATION = re.compile(r"\(.*?\)|\[.*?\]|\s[-\u2013|/@,]\s.*$|[/|@,].*$")
# words that display names carry beside a person's name: their place of work, their device
_NOT_A_NAME = frozenset(
    [
        "lab",
        "labs",
        "fab",
        "fablab",
        "makerspace",
        "hub",
        "studio",
        "school",
        "university",
        "college",
        "office",
        "team",
        "group",
        "room",
        "meeting",
        "zoom",
        "teams",
        "host",
        "admin",
        "user",
        "guest",
        "ipad",
        "iphone",
        "android",
        "phone",
        "laptop",
        "desktop",
        "computer",
    ]
)
# addresses are left whole: a name inside one is part of the address
_ADDRESS = r"(?:https?://|www\.)\S+|\S+@\S+\.\S+"


def _parts(name: str) -> list[str]:
    """The parts of a display name that can name a person: words of three letters or more
    that are not common words, acronyms ("BCN") or run-together names ("FabAcademy")."""
    return [
        p
        for p in _PART.findall(name)
        if p.casefold() not in ENGLISH_STOP_WORDS
        and p.casefold() not in _NOT_A_NAME
        and not (p.isupper() or any(c.isupper() for c in p[1:]))
    ]


class Mentions:
    """Rewrites texts so that no participant of `names` is named in them.

    `names` maps each participant's display name, as the file writes it, to the pseudonym the
    store keeps for them.
    """

    def __init__(self, names: dict[str, str]) -> None:
        owners: dict[str, set[str]] = {}
        # parts that come after a person's first name somewhere: shared by several people,
        # such a part is more often a place or a lab ("Ben Shanghai", "Jin Cui Shanghai")
        trailing: set[str] = set()
        self._written: set[str] = set()
        for display, alias in names.items():
            person = " ".join(_AFFILIATION.sub(" ", " ".join(display.split())).split())
            parts = _parts(person)
            if not parts:
                continue
            if len(parts) > 1:
                full = " ".join(parts)
                owners.setdefault(full.casefold(), set()).add(alias)
                self._written.add(full)
                trailing.update(p.casefold() for p in parts[1:])
            for part in parts:
                owners.setdefault(part.casefold(), set()).add(alias)
                self._written.add(part)
        self._alias = {
            key: "@" + next(iter(aliases)) if len(aliases) == 1 else SHARED
            for key, aliases in owners.items()
            if len(aliases) == 1 or key not in trailing
        }
        self._pattern: re.Pattern[str] | None = None
        if self._alias:
            # the longest first, so a full name is one mention rather than one per part
            alternatives = sorted(self._alias, key=len, reverse=True)
            body = "|".join(r"\s+".join(map(re.escape, a.split())) for a in alternatives)
            self._pattern = re.compile(
                rf"{_ADDRESS}|@?(?<![\w./])(?:{body})(?!\w|[./]\w)", re.IGNORECASE
            )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def _replace(self, match: re.Match[str]) -> str:
        said = match.group(0)
        name = said.removeprefix("@")
        key = " ".join(name.split()).casefold()
        if key not in self._alias or not (name[:1].isupper() or name in self._written):
            return said
        return self._alias[key]

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(self._replace, text)


def mentions_of(authors: Iterable[str | None], alias: Callable[[str], str | None]) -> Mentions:
    """The `Mentions` of a session's `authors`, each one's pseudonym given by `alias`; an
    author whose name is kept as written (no pseudonym differs from it) is not replaced."""
    names: dict[str, str] = {}
    for author in authors:
        if not author or not author.strip():
            continue
        kept = alias(author)
        if kept and kept != " ".join(author.split()):
            names[author] = kept
    return Mentions(names)
