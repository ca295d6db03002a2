"""Shared helpers: reading input, detecting encodings, HTML to text, low-content messages."""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, BinaryIO

import charset_normalizer

from pipelines.ingest.records import UnreadableFile
from pipelines.nonresponse import (
    ABOUT_THE_CALL,
    CORRECTION,
    LAUGHTER,
    LINK_ONLY,
    PLEASANTRY,
    SYMBOLS_ONLY,
)

#: Upper bound for formats that are parsed whole (chats, transcripts, JSON, definitions).
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

Source = bytes | bytearray | memoryview | BinaryIO

_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (Word, Excel or similar)"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document (.doc/.xls)"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"SQLite format 3", "an SQLite database"),
)


#: Error handler name: bytes that are not UTF-8 inside a UTF-8 file are read as Windows-1252.
FALLBACK_ERRORS = "weft-cp1252-fallback"


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not UTF-8 as Windows-1252.

    A file that starts as plain ASCII is read as UTF-8, but a Windows tool may have
    written a "café" further down; reading that byte as Windows-1252 is almost always
    what the author typed, where a replacement character would lose it.
    """
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bytes(bad).decode("cp1252", errors="replace"), error.end


codecs.register_error(FALLBACK_ERRORS, _cp1252_fallback)


def read_source(data: Source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """All bytes of `data` (bytes or a binary file object), refusing files over `max_bytes`."""
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        raw = data.read(max_bytes + 1)
        if not isinstance(raw, bytes):
            raise TypeError("expected a binary file object (opened with 'rb')")
    if len(raw) > max_bytes:
        raise UnreadableFile(
            f"The file is larger than {max_bytes // (1024 * 1024)} MB, the limit for this format."
        )
    return raw


def describe_binary(head: bytes) -> str | None:
    """What a binary file looks like, from its first bytes, or None if it may be text."""
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            return what
    return None


def _looks_utf16(head: bytes) -> str | None:
    """UTF-16 without a BOM: mostly-ASCII text has a NUL in every other byte."""
    sample = head[:4096]
    if len(sample) < 4:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_nuls > 0.4 * half and even_nuls < 0.05 * half:
        return "utf-16-le"
    if even_nuls > 0.4 * half and odd_nuls < 0.05 * half:
        return "utf-16-be"
    return None


def detect_encoding(head: bytes) -> str:
    """The encoding of a file from its first bytes (a BOM, UTF-16 shape, UTF-8, else a guess).

    Raises UnreadableFile for binary content.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # The "utf-16" codec reads the BOM and picks the byte order itself.
        return "utf-16"
    utf16 = _looks_utf16(head)
    if utf16:
        return utf16
    binary = describe_binary(head)
    if binary:
        raise UnreadableFile(f"This looks like {binary}, not a text file.")
    if b"\x00" in head[:8192]:
        raise UnreadableFile("This looks like a binary file, not a text file.")
    try:
        # An incremental decoder tolerates a character cut at the end of the head.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(head[:65536]).best()
    guess = best.encoding if best is not None else None
    if guess is None:
        raise UnreadableFile("The file's text encoding could not be recognised.")
    # Windows-1252 is what Excel and Notepad write on Western-European Windows; short
    # samples are often guessed as a sibling code page, which would garble quotes and €.
    if guess in {"cp1250", "cp1252", "latin_1", "iso8859_15", "iso8859_2", "cp1254", "cp1257"}:
        try:
            head.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return guess
    return guess


#: The encoding a report names for a file whose lines are partly UTF-8, partly Windows-1252.
MIXED_ENCODING = "utf-8+cp1252"
#: Encodings that keep ASCII bytes as they are, so a file in them can be split into lines
#: before decoding (UTF-16 cannot).
_LINE_SAFE = frozenset({"utf-8", "utf-8-sig", "ascii"})


def mixed_encoding_note(legacy: str, minority: str, lines: list[int], more: int) -> str:
    """The report line for a file whose lines are not all in one encoding."""
    shown = ", ".join(str(n) for n in lines)
    extra = f" and {more} more" if more else ""
    names = {"utf-8": "UTF-8", "cp1252": "Windows-1252"}
    return (
        f"the file mixes UTF-8 and {names.get(legacy, legacy)} lines; each line was read in "
        f"its own encoding, the {names.get(minority, minority)} ones are line(s) {shown}{extra}: "
        "check them, and save the file as UTF-8 to avoid this"
    )


class LineDecoder:
    """Decodes a file line by line: a line that is valid UTF-8 is read as UTF-8, any other
    as the file's legacy encoding (Windows-1252 unless detected otherwise), and remembers
    which lines took which, so a file mixing both is read right and reported."""

    #: line numbers kept per encoding for the report
    KEEP = 10

    def __init__(self, encoding: str) -> None:
        utf8 = encoding in _LINE_SAFE
        self.detected = encoding
        self.legacy = "cp1252" if utf8 else encoding
        self.bom = encoding == "utf-8-sig"
        self.counts = {"utf-8": 0, self.legacy: 0}
        self.lines: dict[str, list[int]] = {"utf-8": [], self.legacy: []}
        self.number = 0

    def decode(self, line: bytes) -> str:
        self.number += 1
        if self.number == 1 and self.bom:
            line = line.removeprefix(codecs.BOM_UTF8)
        if line.isascii():
            return line.decode("ascii")
        try:
            text, used = line.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, used = line.decode(self.legacy, errors="replace"), self.legacy
        self.counts[used] += 1
        if len(self.lines[used]) < self.KEEP:
            self.lines[used].append(self.number)
        return text

    @property
    def mixed(self) -> bool:
        return all(self.counts.values())

    @property
    def encoding(self) -> str:
        """The encoding to report: one name, or MIXED_ENCODING."""
        if self.mixed:
            return MIXED_ENCODING if self.legacy == "cp1252" else f"utf-8+{self.legacy}"
        if self.counts[self.legacy]:
            return self.legacy
        return self.detected if self.detected in _LINE_SAFE or not self.counts["utf-8"] else "utf-8"

    def note(self) -> str | None:
        """The report line when the file mixes encodings, else None."""
        if not self.mixed:
            return None
        minority = min(self.counts, key=lambda k: self.counts[k])
        lines = self.lines[minority]
        return mixed_encoding_note(self.legacy, minority, lines, self.counts[minority] - len(lines))


def line_decodable(encoding: str) -> bool:
    """Whether a file in `encoding` is read line by line with a LineDecoder."""
    if encoding in _LINE_SAFE:
        return True
    try:
        return codecs.lookup(encoding).name in {
            "cp1252",
            "latin-1",
            "iso8859-15",
            "cp1250",
            "iso8859-2",
            "cp1254",
            "cp1257",
        }
    except LookupError:
        return False


def check_text(text: str, where: str = "The file") -> None:
    """Refuse decoded text that is mostly control characters (binary data read as text)."""
    sample = text[:8192]
    if not sample.strip():
        return
    controls = sum(
        1
        for ch in sample
        if unicodedata.category(ch) in ("Cc", "Cs", "Co") and ch not in "\t\n\r\f"
    )
    replacement = sample.count("\ufffd")
    if controls + replacement > 0.1 * len(sample):
        raise UnreadableFile(f"{where} looks like binary data, not text.")


@dataclass(frozen=True, slots=True)
class Decoded:
    """A whole file's text, its encoding, and the report line if it mixes encodings."""

    text: str
    encoding: str
    note: str | None = None


def decode_text(raw: bytes) -> Decoded:
    """Decode a whole file (without its BOM).

    A file in UTF-8 or a Western code page is decoded line by line (see LineDecoder); its
    encoding is then MIXED_ENCODING when its lines are not all in one, and `note` says which.
    Raises UnreadableFile when the file is empty or not text.
    """
    if not raw.strip(b" \t\r\n\x00"):
        raise UnreadableFile("The file is empty.")
    encoding = detect_encoding(raw[:65536])
    note = None
    if line_decodable(encoding):
        decoder = LineDecoder(encoding)
        text = "".join(decoder.decode(line) for line in raw.splitlines(keepends=True))
        encoding, note = decoder.encoding, decoder.note()
    else:
        text = raw.decode(encoding, errors="replace")
    text = text.removeprefix("\ufeff")
    check_text(text)
    if not text.strip():
        raise UnreadableFile("The file is empty.")
    return Decoded(text, encoding, note)


def decode_bytes(raw: bytes) -> tuple[str, str]:
    """Decode a whole file: (text without BOM, encoding name); see `decode_text`."""
    decoded = decode_text(raw)
    return decoded.text, decoded.encoding


def normalize_newlines(text: str) -> str:
    """Turn CRLF, the doubled CR some Windows tools write (CR CR LF) and lone CR into LF."""
    return text.replace("\r\r\n", "\n").replace("\r\n", "\n").replace("\r", "\n")


class PrefixedStream(io.RawIOBase):
    """A raw stream that replays already-read bytes before the rest of a file object.

    Lets a parser sniff the head of a non-seekable upload and still read it from the start.
    """

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        buffer = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        chunk = self._rest.read(len(buffer))
        if not chunk:
            return 0
        n = len(chunk)
        buffer[:n] = chunk
        return n


def peek(stream: BinaryIO, size: int) -> tuple[BinaryIO, bytes]:
    """The first `size` bytes of a stream, and a stream that still starts at the beginning."""
    if stream.seekable():
        position = stream.tell()
        head = stream.read(size)
        stream.seek(position)
        return stream, head
    head = stream.read(size)
    return io.BufferedReader(PrefixedStream(head, stream)), head


def open_binary(data: Source) -> BinaryIO:
    """A binary file object for bytes or a file object (returned as is)."""
    if isinstance(data, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(data))
    return data


class _HTMLToText(HTMLParser):
    """Collects the visible text of an HTML fragment, keeping line breaks of block elements."""

    _BLOCK = frozenset({"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"})
    _SKIP = frozenset({"script", "style", "attachment"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip_depth += 1
        elif tag == "br" or tag in self._BLOCK:
            self.parts.append("\n")
        elif tag in ("emoji", "img"):
            # Teams writes emoji as <emoji alt="😀">; an image's alt text is its content too.
            alt = dict(attrs).get("alt")
            if alt and tag == "emoji":
                self.parts.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


#: A "<" that opens no complete, reasonably short tag or comment: the HTML parser would
#: rescan from each such one to the end of the text (minutes for a crafted message), so it
#: is read as the character it is.
_STRAY_LT = re.compile(r"<(?!/?[A-Za-z][^<>]{0,2000}>|!--(?:(?!--).){0,1000}-->)", re.S)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, whitespace tidied."""
    if "<" not in fragment and "&" not in fragment:
        return tidy_whitespace(fragment)
    fragment = _STRAY_LT.sub("&lt;", fragment)
    # convert_charrefs decodes entities (&amp;, &nbsp;, &#128512;) inside text runs.
    parser = _HTMLToText()
    parser.feed(fragment)
    parser.close()
    return tidy_whitespace("".join(parser.parts))


def tidy_whitespace(text: str) -> str:
    """Collapse runs of spaces inside lines, drop blank runs of lines, strip the ends."""
    lines = [" ".join(line.replace("\xa0", " ").split()) for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def one_line(text: str) -> str:
    """All whitespace (including line breaks) collapsed to single spaces."""
    return " ".join(text.replace("\xa0", " ").split())


_ACKNOWLEDGEMENTS = frozenset(
    {
        "thanks",
        "thank you",
        "thankyou",
        "thanks all",
        "thanks everyone",
        "thank you all",
        "thank you everyone",
        "thanks so much",
        "thank you so much",
        "many thanks",
        "thx",
        "ty",
        "tx",
        "cheers",
        "+1",
        "1",
        "same",
        "same here",
        "me too",
        "agreed",
        "agree",
        "i agree",
        "yes",
        "yep",
        "yeah",
        "no",
        "nope",
        "ok",
        "okay",
        "k",
        "sure",
        "great",
        "nice",
        "cool",
        "lol",
        "haha",
        "hi",
        "hello",
        "hey",
        "hi all",
        "hello all",
        "hi everyone",
        "hello everyone",
        "morning",
        "good morning",
        "good afternoon",
        "good evening",
        "bye",
        "goodbye",
        "bye all",
        "see you",
        "welcome",
        "joined",
        "left",
        "has joined",
        "has left",
        "joined the meeting",
        "left the meeting",
        "brb",
        "back",
        "done",
        "noted",
        "will do",
        "ditto",
        "exactly",
        "absolutely",
        "indeed",
        "wow",
        "love it",
        "well said",
        "great point",
        "good point",
        "can you hear me",
        "you are on mute",
        "you're on mute",
        "sorry",
        "sorry all",
        "no worries",
        "don't worry",
        "dont worry",
        "awesome",
        "excellent",
        "perfect",
        "amazing",
        "wonderful",
        "good",
        "respect",
        "bravo",
        "congrats",
        "congratulations",
        "omg",
        "yay",
        "stay safe",
        "stay well",
        "take care",
        "speak up",
        "i am here",
        "i'm here",
        "here",
        "same issue",
        "same problem",
        "i have the same issue",
        "i have the same problem",
    }
)

_URL_ONLY = re.compile(r"^(?:<)?(?:https?://|www\.)\S+(?:>)?$", re.IGNORECASE)


#: Words that open a courtesy: a line made of one of these and fillers carries no narrative.
_COURTESY_OPENERS = frozenset(
    {
        "thanks",
        "thank",
        "thankyou",
        "thx",
        "ty",
        "tks",
        "cheers",
        "hi",
        "hello",
        "hey",
        "hiya",
        "bye",
        "goodbye",
        "welcome",
        "congrats",
        "congratulations",
        "bravo",
        "morning",
        "good",
        "see",
        "great",
        "nice",
        "cool",
        "wow",
        "awesome",
        "amazing",
        "excellent",
        "damn",
        "agreed",
        "agree",
        "+1",
    }
)
#: Words a courtesy is padded with ("thank you - very useful!", "great session, thanks all").
_COURTESY_FILLERS = frozenset(
    {
        "you",
        "so",
        "very",
        "much",
        "really",
        "super",
        "soo",
        "sooo",
        "useful",
        "helpful",
        "interesting",
        "great",
        "nice",
        "good",
        "cool",
        "awesome",
        "amazing",
        "lovely",
        "wonderful",
        "excellent",
        "fantastic",
        "brilliant",
        "fun",
        "again",
        "all",
        "everyone",
        "everybody",
        "guys",
        "folks",
        "y'all",
        "a",
        "lot",
        "lots",
        "for",
        "the",
        "this",
        "that",
        "that's",
        "it",
        "it's",
        "was",
        "is",
        "your",
        "session",
        "class",
        "talk",
        "presentation",
        "lecture",
        "workshop",
        "meeting",
        "today",
        "tonight",
        "time",
        "help",
        "sharing",
        "share",
        "info",
        "link",
        "links",
        "and",
        "too",
        "as",
        "well",
        "always",
        "thanks",
        "thank",
        "morning",
        "afternoon",
        "evening",
        "night",
        "day",
        "weekend",
        "soon",
        "later",
        "tomorrow",
        "next",
        "week",
        "have",
        "bye",
        "everything",
        "both",
        "of",
        "to",
        "from",
        "me",
        "us",
        "!",
        "much!",
        "one",
        "point",
        "idea",
        "job",
        "work",
        "+1",
        "x",
        "xx",
        "cheers",
        "knowledge",
        # a reply's first word before the thanks ("yes, thank you:)", "ok thanks!")
        "yes",
        "yeah",
        "yep",
        "ok",
        "okay",
        "oh",
        "ah",
    }
)
#: Lines about the call itself, not its subject.
_CALL_LOGISTICS = re.compile(
    r"^(?:(?:can|could) (?:you|u|everyone|anyone) (?:hear|see) (?:me|us|my screen|the screen)"
    r"|(?:we|i) can(?:'t| not|not)? (?:hear|see) (?:you|u|it)(?: now| fine| well| ok)?"
    r"|(?:you(?:'re| are)|u r) (?:on )?mute(?:d)?"
    r"|(?:your|the) (?:mic|microphone|sound|audio) is (?:off|muted)"
    r"|(?:is|are) (?:it|this|we) (?:being )?record(?:ed|ing)"
    r"|(?:sorry )?(?:i|i'm|im) (?:was )?(?:back|here|muted|on mute|lost connection)"
    r"|(?:can|may) (?:you|u) (?:share|repeat) (?:the )?(?:link|screen) please"
    r"|(?:we are|we're|i am|i'm) (?:recording|back|ready(?: to (?:present|start|share))?(?: now)?)"
    r"|(?:great |bad |an |the )?echo"
    r"|(?:my|the) (?:webcam|camera|cam|mic|microphone|audio|sound|video|internet|connection)"
    r"(?: is| isn't| is not| doesn't| does not|'s)? (?:not )?(?:working|broken|off|down|bad|frozen)"
    r"(?: as well| either| too| again)?"
    r"|(?:i|i'm|im) (?:was )?(?:in another meeting|able join later|late|joining late|dropped)"
    r")$"
)
#: Words that join the names a courtesy thanks ("thanks Ferdi and Maciek").
_JOINING = frozenset({"and", "&", "n", "plus"})
#: What is stripped from a written name before it is compared with the line's words.
_NAME_CHARS = re.compile(r"[^\w+']")
#: Words that may open a line about the call ("Hi Neil. I am ready to present").
_OPENING = frozenset({"hi", "hello", "hey", "sorry", "ok", "okay"})
#: Text emoticons (":P", ";-)", ":O"), read as the emoji they stand for.
_EMOTICON = re.compile(r"(?<!\w)[:;=xX8][-^']?[()pPdDoO3/\\|*\]\[](?!\w)")
#: A typo fixed in the next line ("*link").
_CORRECTION = re.compile(r"^\*\s?\w+$")
_LAUGHTER = re.compile(r"^(?:(?:ha)+h?|(?:he)+|(?:hi){2,}|lo+l|xd+|jaja(?:ja)*|kkk+|rofl|lmao)$")
_FIRST_WORDS_ONLY = frozenset({"no", "yes", "1", "k", "back", "left", "done", "same", "sure"})


def tokens_opening(core: str) -> bool:
    """Whether a line is about the call once its greeting (and a name) is set aside."""
    tokens = core.split()
    if not tokens or tokens[0] not in _OPENING:
        return False
    return any(_CALL_LOGISTICS.match(" ".join(tokens[k:])) for k in (1, 2, 3) if k < len(tokens))


def is_low_content(text: str) -> bool:
    """True for chat lines that carry no narrative (see :func:`low_content_kind`)."""
    return low_content_kind(text) is not None


def low_content_kind(text: str) -> str | None:
    """What kind of chat line carries no narrative, or None for content: a bare link, only
    emoji or symbols, thanks, +1, greetings and courtesies padded with fillers ("thank you -
    very useful!", a pleasantry), laughter, a typo's correction ("*link") and lines about the
    call itself ("can you hear me?"). A short answer with a subject ("great service", "no
    parking") is content."""
    stripped = text.strip()
    if len(stripped) > 80 and any(ch.isspace() for ch in stripped):
        # Longer than any courtesy and not a bare link: the common case, decided cheaply
        # because batch files run this on every row.
        return None
    flat = one_line(stripped)
    if not flat:
        return SYMBOLS_ONLY
    if _URL_ONLY.match(flat):
        return LINK_ONLY
    flat = _EMOTICON.sub(" ", flat).strip()
    if not any(ch.isalnum() for ch in flat):
        # Only emoji, emoticons, punctuation or symbols.
        return SYMBOLS_ONLY
    words = re.sub(r"[^\w\s+']", " ", flat.lower().replace("\u2019", "'"))
    core = " ".join(words.split())
    if _CORRECTION.match(flat):
        return CORRECTION
    if _CALL_LOGISTICS.match(core) or tokens_opening(core):
        return ABOUT_THE_CALL
    if core in _ACKNOWLEDGEMENTS:
        return PLEASANTRY
    tokens = core.split()
    if all(_LAUGHTER.match(t) for t in tokens):
        return LAUGHTER
    if (
        tokens
        and len(tokens) <= 3
        and (" ".join(tokens[:2]) in _ACKNOWLEDGEMENTS or tokens[0] in _COURTESY_OPENERS)
    ):
        # A greeting or thanks followed by a name or an emoji ("thanks Ana!", "hi all 👋");
        # praise of a subject ("great service", "nice people") is content.
        rest = tokens[1:]
        if tokens[0] in ("great", "nice", "good", "see", "agree", "agreed", "+1"):
            fillers = all(t in _COURTESY_FILLERS or _LAUGHTER.match(t) for t in rest)
            return PLEASANTRY if fillers else None
        return PLEASANTRY if tokens[0] not in _FIRST_WORDS_ONLY else None
    if tokens and len(tokens) <= 12 and any(t in _COURTESY_OPENERS for t in tokens[:3]):
        # "thank you - very useful!", "great session, thanks everyone", "thanks Ferdi and
        # Maciek": the courtesy and its padding, every other word a name (capitalised in the
        # line or an @mention), at most three of them.
        names = {
            _NAME_CHARS.sub("", w).lower()
            for w in flat.split()
            if w.lstrip("@")[:1].isupper() and w.lower().strip(",.!:;") not in _COURTESY_OPENERS
        }
        others = [
            t
            for t in tokens
            if t not in _COURTESY_FILLERS and t not in _COURTESY_OPENERS and t not in _JOINING
        ]
        padded = len(others) <= 3 and all(t in names for t in others)
        return PLEASANTRY if padded else None
    return None


def slugify(text: str, *, fallback: str = "item") -> str:
    """A lower-case ASCII key from a label ("Influences on…" -> "influences_on")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return slug[:60].rstrip("_") or fallback


def unique_keys(labels: Iterable[str], *, fallback: str = "item") -> list[str]:
    """Slugs of the labels, suffixed with _2, _3... where two labels give the same slug."""
    seen: set[str] = set()
    keys: list[str] = []
    for label in labels:
        base = slugify(label, fallback=fallback)
        key, n = base, 2
        while key in seen:
            key, n = f"{base}_{n}", n + 1
        seen.add(key)
        keys.append(key)
    return keys
