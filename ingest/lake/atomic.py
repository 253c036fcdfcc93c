"""Atomic writes: a reader sees the old file or the new one, never half of one.

Every file the project writes (lake Parquet, quarantine, ledger, published marts, reports, importer output)
goes through :func:`atomic_path`: write to a hidden temporary name in the target's folder, then rename over
the target (``os.replace`` is atomic within one file system). A killed writer leaves only a hidden
``.…tmp`` file, which readers skip and the next run of the same batch removes.
"""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from .storage import CODECS, Layer

TEMP_SUFFIX = ".tmp"


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; when the block succeeds, rename it over ``target``.

    The temporary path may become a file or a folder. On an exception it is removed and ``target`` is left
    untouched. Parent folders are created.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}"
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_lines_atomic(path: Path, lines: Iterable[bytes]) -> None:
    """Write each item of ``lines`` followed by a newline (JSON-lines) to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        for line in lines:
            out.write(line)
            out.write(b"\n")


def write_parquet_atomic(table: pa.Table, path: Path, *, layer: Layer = "raw") -> None:
    """Write ``table`` to ``path`` as Parquet, atomically, compressed with its layer's codec
    (:data:`ingest.lake.storage.CODECS`: the lake is ``raw``, Snappy)."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression=CODECS[layer])
