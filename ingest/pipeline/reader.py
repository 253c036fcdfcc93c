"""Streaming line reader for ``.jsonl`` and ``.jsonl.gz`` inputs, in bounded memory.

Gzip is decoded with :mod:`zlib` chunk by chunk (multi-member files included) so that a truncated or corrupt
archive still yields every line decoded before the damage, and the damage itself is reported instead of
raising half-way through a buffered read.

Only regular files are read (a FIFO, socket or device is refused before it can block), and only the extent a
file had when it was opened: bytes appended meanwhile are left for a later run (docs/lake.md, "Odd inputs").
"""

from __future__ import annotations

import hashlib
import os
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from collections.abc import Iterator

from ..errors import InputError

CHUNK_BYTES = 1 << 20
_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))


def not_regular(mode: int) -> str | None:
    """What a non-regular file is (``a FIFO``, ``a socket``, …), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "a special file")


def open_input(path: Path) -> tuple[BinaryIO, int]:
    """Open an input for reading: (binary handle, size in bytes at opening).

    The file is opened without blocking and checked with ``fstat`` on the open descriptor, so a FIFO or device
    (even one swapped in after listing) is refused instead of waiting forever for a writer.

    Raises:
        InputError: the file cannot be opened, or is not a regular file.
    """
    path = Path(path)
    try:
        kind = not_regular(os.stat(path).st_mode)  # a socket cannot be opened at all: name it first
        if kind is not None:
            raise InputError(str(path), f"{kind}, not a regular file")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise InputError(str(path), error.strerror or str(error)) from error
    info = os.fstat(fd)
    kind = not_regular(info.st_mode)
    if kind is not None:
        os.close(fd)
        raise InputError(str(path), f"{kind}, not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb"), info.st_size


def read_extent(handle: BinaryIO, size: int, chunk: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The first ``size`` bytes of ``handle`` in chunks (fewer when the file shrank meanwhile)."""
    left = size
    while left > 0 and (data := handle.read(min(chunk, left))):
        left -= len(data)
        yield data


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

    Reads a fixed extent: ``size`` bytes (default: the size at opening), so a file appended to meanwhile
    yields the same lines as its sha256 and byte count describe. After iterating, ``sha256`` and
    ``bytes_consumed`` are the hex digest and length of exactly the bytes read.

    Args:
        path: input file; ``.gz`` suffix means gzip.
        store_cap: longest line kept whole in memory; longer lines are yielded cut, with their full length.
        size: bytes to read (the extent the batch's sha256 was computed over).

    Raises:
        InputError: the file cannot be opened, or is not a regular file.
    """

    def __init__(self, path: Path, store_cap: int = 64 << 20, size: int | None = None):
        self.path = Path(path)
        self.store_cap = store_cap
        self.size = size
        self.damage: str | None = None
        self.damage_message: str | None = None
        self.bytes_consumed = 0
        self.read_failed = False
        """True when reading stopped at an I/O error (``damage`` is then ``corrupt_input``)."""
        self._digest = hashlib.sha256()

    @property
    def sha256(self) -> str:
        """Hex sha256 of the bytes read so far (all of them once iteration ended)."""
        return self._digest.hexdigest()

    def _raw(self, handle: BinaryIO, size: int, chunk: int) -> Iterator[bytes]:
        for data in read_extent(handle, size, chunk):
            self.bytes_consumed += len(data)
            self._digest.update(data)
            yield data

    def _chunks(self, handle: BinaryIO, size: int) -> Iterator[bytes]:
        if not self.path.name.endswith(".gz"):
            yield from self._raw(handle, size, CHUNK_BYTES)
            return
        decoder, fed = zlib.decompressobj(wbits=31), False
        raws = self._raw(handle, size, CHUNK_BYTES // 4)
        for raw in raws:
            while raw:
                fed = True
                try:
                    out = decoder.decompress(raw)
                except zlib.error as error:
                    self.damage, self.damage_message = "corrupt_input", f"gzip data is corrupt: {error}"
                    for _ in raws:  # the rest is unreadable, but it is part of what the batch's sha256 covers
                        pass
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
        handle, opened_size = open_input(self.path)
        size = opened_size if self.size is None else self.size
        number = 0
        pending = b""
        oversize: list | None = None  # [kept prefix, full length] of a line longer than store_cap
        with handle:
            try:
                for chunk in self._chunks(handle, size):
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
                self.read_failed = True
        if oversize is not None:
            number += 1
            yield Line(number, oversize[0], oversize[1], self.damage)
        elif pending:
            number += 1
            yield Line(number, pending, len(pending), self.damage)
