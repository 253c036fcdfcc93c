"""Streaming line reader for ``.jsonl`` and ``.jsonl.gz`` inputs, in bounded memory.

Gzip is decoded with :mod:`zlib` chunk by chunk (multi-member files included) so that a truncated or corrupt
archive still yields every line decoded before the damage, and the damage itself is reported instead of
raising half-way through a buffered read.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from ..errors import InputError

CHUNK_BYTES = 1 << 20


@dataclass
class Line:
    """One input line.

    Attributes:
        number: 1-based line number in the decoded input.
        data: the line's bytes without the newline (at most ``store_cap`` bytes).
        length: the line's full length in bytes (greater than ``len(data)`` when it was cut at ``store_cap``).
        damaged: ``truncated_input`` / ``corrupt_input`` when this is the partial last line of a damaged file.
    """

    number: int
    data: bytes
    length: int
    damaged: str | None = None


class LineReader:
    """Iterate over the lines of one file; ``damage`` tells afterwards whether the input was cut short.

    Args:
        path: input file; ``.gz`` suffix means gzip.
        store_cap: longest line kept whole in memory; longer lines are yielded cut, with their full length.

    Raises:
        InputError: the file cannot be opened or read.
    """

    def __init__(self, path: Path, store_cap: int = 64 << 20):
        self.path = Path(path)
        self.store_cap = store_cap
        self.damage: str | None = None
        self.damage_message: str | None = None
        self.bytes_consumed = 0

    def _chunks(self, handle: BinaryIO) -> Iterator[bytes]:
        if not self.path.name.endswith(".gz"):
            while chunk := handle.read(CHUNK_BYTES):
                self.bytes_consumed += len(chunk)
                yield chunk
            return
        decoder, fed = zlib.decompressobj(wbits=31), False
        while raw := handle.read(CHUNK_BYTES // 4):
            self.bytes_consumed += len(raw)
            while raw:
                fed = True
                try:
                    out = decoder.decompress(raw)
                except zlib.error as error:
                    self.damage, self.damage_message = "corrupt_input", f"gzip data is corrupt: {error}"
                    return
                if out:
                    yield out
                raw = b""
                if decoder.eof:  # end of one gzip member; another may follow
                    raw = decoder.unused_data.lstrip(b"\x00")
                    decoder, fed = zlib.decompressobj(wbits=31), False
        if tail := decoder.flush():
            yield tail
        if fed and not decoder.eof:
            self.damage, self.damage_message = "truncated_input", "gzip stream ends before its end-of-stream marker"

    def __iter__(self) -> Iterator[Line]:
        try:
            handle = open(self.path, "rb")
        except OSError as error:
            raise InputError(str(self.path), error.strerror or str(error)) from error
        number = 0
        pending = b""
        oversize: list | None = None  # [kept prefix, full length] of a line longer than store_cap
        with handle:
            try:
                for chunk in self._chunks(handle):
                    if oversize is not None:
                        newline = chunk.find(b"\n")
                        if newline < 0:
                            oversize[1] += len(chunk)
                            continue
                        number += 1
                        yield Line(number, oversize[0], oversize[1] + newline)
                        oversize, chunk = None, chunk[newline + 1:]
                    parts = (pending + chunk).split(b"\n")
                    pending = parts.pop()
                    for part in parts:
                        number += 1
                        yield Line(number, part, len(part))
                    if len(pending) > self.store_cap:
                        oversize, pending = [pending[: self.store_cap], len(pending)], b""
            except OSError as error:
                self.damage, self.damage_message = "corrupt_input", f"read failed: {error}"
        if oversize is not None:
            number += 1
            yield Line(number, oversize[0], oversize[1], self.damage)
        elif pending:
            number += 1
            yield Line(number, pending, len(pending), self.damage)
