"""A multipart/form-data body streamed from disk, so big files are never held in memory and
the bytes sent can be counted for a progress bar."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 64 * 1024


@dataclass(frozen=True)
class FormBody:
    content_type: str
    length: int
    chunks: Iterator[bytes]


def _quoted(name: str) -> str:
    # the escaping browsers apply to field and file names (WHATWG HTML, form-data encoding)
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _head(boundary: str, name: str, filename: str | None = None) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{_quoted(name)}"'
    if filename is None:
        return f"--{boundary}\r\n{disposition}\r\n\r\n".encode()
    return (
        f'--{boundary}\r\n{disposition}; filename="{_quoted(filename)}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def form_body(
    fields: dict[str, str], files: dict[str, Path], sent: Callable[[int], None]
) -> FormBody:
    """The form with `fields` and `files`; `sent(n)` is called as each n bytes leave."""
    boundary = "weft-" + secrets.token_hex(16)
    values = [_head(boundary, k, None) + v.encode() + b"\r\n" for k, v in fields.items()]
    heads = {name: _head(boundary, name, path.name) for name, path in files.items()}
    tail = f"--{boundary}--\r\n".encode()
    length = sum(map(len, values)) + len(tail)
    length += sum(len(heads[n]) + p.stat().st_size + 2 for n, p in files.items())

    def chunks() -> Iterator[bytes]:
        yield from values
        for name, path in files.items():
            yield heads[name]
            with path.open("rb") as file:
                while block := file.read(CHUNK):
                    sent(len(block))
                    yield block
            yield b"\r\n"
        yield tail

    return FormBody(f"multipart/form-data; boundary={boundary}", length, chunks())
