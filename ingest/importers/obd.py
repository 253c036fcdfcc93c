"""Open Bandit Dataset (OBD) sample → recsys JSON-lines (docs/requirements/recsys.md#events wire format).

Source data: the OBD sample shipped in the ``obp`` package (Open Bandit Pipeline 0.4.1, Apache-2.0): real
ZOZOTOWN fashion e-commerce recommendation logs of two logging policies, ``random`` and ``bts`` (Bernoulli
Thompson Sampling). Saito et al., "Open Bandit Dataset and Pipeline", NeurIPS 2021 Datasets and Benchmarks
(arXiv 2008.07146). Layout and columns: ``../shared/data/README.md`` (section ``obd/``)::

    <root>/<policy>/<campaign>/<campaign>.csv      one logged impression per row
    <root>/<policy>/<campaign>/item_context.csv    the campaign's item list (80 items for campaign ``all``)

Target: the recsys schemas ``schemas/recsys/<type>/1.0.json`` (docs/requirements/recsys.md#events: request → ranking → impression →
click). Every logged row becomes one request with a one-item ranking, one impression and, when ``click = 1``,
one click. Fields the data lacks (user id, session, latency, coverage, dwell, visible time, device, surface,
errors) are left out of the events, never filled with made-up values. Every mapping choice and its reason is
in ``docs/importers/obd.md``.

Public API: :func:`import_obd`, :func:`locate_obd_sample`, :class:`ObdImportResult`, :class:`ObdFileResult`,
:class:`SourceFileError`, :class:`DownloadFailed`.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

import orjson

from ..errors import DownloadFailed, SourceFileError
from ..lake.atomic import atomic_path

__all__ = [
    "CATALOG_FILE",
    "OBD_NAMESPACE",
    "OBP_VERSION",
    "POLICIES",
    "ObdFileResult",
    "ObdImportResult",
    "import_obd",
    "locate_obd_sample",
    "request_id_for",
    "timestamp_to_ms",
]

#: Logging policies of the OBD (the bucket and algorithm of every event).
POLICIES: tuple[str, ...] = ("random", "bts")
#: Campaigns of the OBD (``all`` is the one in ``../shared/data/obd``; the obp wheel also has ``men``, ``women``).
CAMPAIGNS: tuple[str, ...] = ("all", "men", "women")
#: Recommendation slots on one OBD page view; ``position`` is 1-based within them.
SLOTS = 3
#: Item list beside each campaign CSV.
CATALOG_FILE = "item_context.csv"
#: obp release whose wheel ships the sample (``locate_obd_sample`` fallback).
OBP_VERSION = "0.4.1"
#: Fixed namespace of the request-id UUIDv5s. Never change it: every request_id (and so every event_id the
#: ingest derives) of an earlier import would change with it. Derived once as
#: ``uuid5(NAMESPACE_URL, "https://github.com/st-tech/zr-obp/open-bandit-dataset")`` and frozen as a literal.
OBD_NAMESPACE = uuid.UUID("8121b4a7-4ad9-5772-9eb4-b928d941f2aa")

SCHEMA_VERSION = "1.0"
EVENT_TYPES: tuple[str, ...] = ("request", "ranking", "impression", "click")
_WHEEL_PREFIX = "obp/dataset/obd/"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Columns of <campaign>.csv the importer reads; the rest (propensity_score, user features, affinities) are
# documented as not mapped. The first column is pandas' unnamed row index.
_INDEX_COLUMN = ""
_REQUIRED_COLUMNS: tuple[str, ...] = (_INDEX_COLUMN, "timestamp", "item_id", "position", "click")


# results ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObdFileResult:
    """What one input CSV became.

    Attributes:
        source: the input ``<policy>/<campaign>/<campaign>.csv``.
        output: the written ``<out_dir>/obd_<policy>_<campaign>.jsonl``.
        policy: logging policy taken from the path (``random`` or ``bts``).
        campaign: campaign taken from the path (``all``, ``men`` or ``women``).
        catalog_size: number of items in ``item_context.csv`` beside the CSV.
        rows: data rows read (header excluded).
        events: events written per type, keys in the order ``request, ranking, impression, click``.
    """

    source: Path
    output: Path
    policy: str
    campaign: str
    catalog_size: int
    rows: int
    events: dict[str, int]


@dataclass(frozen=True)
class ObdImportResult:
    """Totals of one :func:`import_obd` call.

    Attributes:
        files_written: output files, in input order.
        rows_read: data rows read over every input.
        events: events written per type over every input (``request, ranking, impression, click``).
        per_file: the same, per input file.
    """

    files_written: list[Path]
    rows_read: int
    events: dict[str, int]
    per_file: list[ObdFileResult] = field(default_factory=list)

    def __str__(self) -> str:
        lines = []
        for item in self.per_file:
            counts = ", ".join(f"{kind} {n}" for kind, n in item.events.items())
            lines.append(f"{item.source} → {item.output}: {item.rows} rows; {counts} "
                         f"(policy {item.policy}, campaign {item.campaign}, catalog {item.catalog_size})")
        counts = ", ".join(f"{kind} {n}" for kind, n in self.events.items())
        lines.append(f"total: {self.rows_read} rows → {sum(self.events.values())} events ({counts}) "
                     f"in {len(self.files_written)} file(s)")
        return "\n".join(lines)


# mapping helpers ----------------------------------------------------------------------------------------
def request_id_for(policy: str, campaign: str, row_index: int) -> str:
    """Deterministic request id of one logged row.

    Args:
        policy: logging policy (``random`` / ``bts``).
        campaign: campaign (``all`` / ``men`` / ``women``).
        row_index: the CSV's unnamed row-index column (0-based, unique within one file).

    Returns:
        ``str(uuid5(OBD_NAMESPACE, "<policy>/<campaign>/<row_index>"))``: the same row always gets the same
        id, so re-imports deduplicate in the lake. (docs/requirements/recsys.md asks for UUID v4, which is random; v5 keeps the
        schema's UUID format and makes the output reproducible.)
    """
    return str(uuid.uuid5(OBD_NAMESPACE, f"{policy}/{campaign}/{row_index}"))


def timestamp_to_ms(value: str) -> int:
    """Convert an OBD ``timestamp`` to Unix epoch milliseconds, floored.

    Args:
        value: ISO 8601 text with an explicit offset, as written by the sample, e.g.
            ``2019-11-24 00:00:34.762830+00:00`` (UTC, microsecond precision).

    Returns:
        Epoch milliseconds, integer arithmetic, floored (``…34.762830`` → ``…34762``).

    Raises:
        ValueError: not ISO 8601, no UTC offset (the README documents the column as UTC; a file without the
            offset is not the documented format), or before 1970 (the schema's ``timestamp_ms`` is >= 0).
    """
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    delta = parsed - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if micros < 0:
        raise ValueError(f"timestamp {value!r} is before 1970-01-01")
    return micros // 1_000


def _canonical_id(item_id: int) -> str:
    return f"item-{item_id}"


def _row_events(*, request_id: str, timestamp_ms: int, experiment_id: str, policy: str, catalog_size: int,
                item_id: int, position: int, clicked: bool) -> Iterator[dict[str, Any]]:
    """The wire events of one logged row, in emission order (request, ranking, impression, click?)."""
    common = {"timestamp_ms": timestamp_ms, "request_id": request_id, "experiment_id": experiment_id,
              "bucket": policy}
    canonical_id = _canonical_id(item_id)
    yield {"event_type": "request", "schema_version": SCHEMA_VERSION, **common, "k": 1}
    yield {"event_type": "ranking", "schema_version": SCHEMA_VERSION, **common, "catalog_size": catalog_size,
           "algorithm": policy, "items": [{"canonical_id": canonical_id, "position": position}]}
    yield {"event_type": "impression", "schema_version": SCHEMA_VERSION, **common, "canonical_id": canonical_id,
           "position": position}
    if clicked:
        yield {"event_type": "click", "schema_version": SCHEMA_VERSION, **common, "canonical_id": canonical_id,
               "position": position, "engagement_type": "click"}


# input layout -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    source: Path
    catalog: Path
    policy: str
    campaign: str
    output: Path


def _plan(csv_path: Path, out_dir: Path) -> _Plan:
    """Policy, campaign and catalog from ``…/<policy>/<campaign>/<file>.csv``; errors name the path."""
    csv_path = Path(csv_path)
    campaign = csv_path.parent.name
    policy = csv_path.parent.parent.name
    if policy not in POLICIES:
        raise SourceFileError("obd", str(csv_path), None,
                             f"expected …/<policy>/<campaign>/<campaign>.csv with policy in {list(POLICIES)}, "
                             f"found policy folder {policy!r}")
    if campaign not in CAMPAIGNS:
        raise SourceFileError("obd", str(csv_path), None,
                             f"expected …/<policy>/<campaign>/<campaign>.csv with campaign in {list(CAMPAIGNS)}, "
                             f"found campaign folder {campaign!r}")
    if not csv_path.is_file():
        raise SourceFileError("obd", str(csv_path), None, "no such file")
    catalog = csv_path.parent / CATALOG_FILE
    if not catalog.is_file():
        raise SourceFileError("obd", str(catalog), None, f"item catalog {CATALOG_FILE} missing beside {csv_path.name}")
    return _Plan(csv_path, catalog, policy, campaign, Path(out_dir) / f"obd_{policy}_{campaign}.jsonl")


def _parse_int(text: str, column: str, path: Path, line: int, *, low: int, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise SourceFileError("obd", str(path), line, f"{column} {text!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise SourceFileError("obd", str(path), line, f"{column} {value} out of range ({bound})")
    return value


def _header_positions(header: list[str] | None, path: Path, required: Sequence[str]) -> dict[str, int]:
    if header is None:
        raise SourceFileError("obd", str(path), 1, "empty file (no header)")
    positions: dict[str, int] = {}
    for number, name in enumerate(header):
        positions.setdefault(name, number)
    missing = [name or "<unnamed row index>" for name in required if name not in positions]
    if missing:
        raise SourceFileError("obd", str(path), 1, f"missing column(s): {', '.join(missing)}")
    return positions


def _open_csv(path: Path) -> TextIO:
    try:
        return open(path, newline="", encoding="utf-8")
    except OSError as error:
        raise SourceFileError("obd", str(path), None, f"cannot open: {error.strerror or error}") from error


def _load_catalog(path: Path) -> frozenset[int]:
    """Item ids of ``item_context.csv`` (column ``item_id``, unique non-negative integers)."""
    items: set[int] = set()
    with _open_csv(path) as handle:
        reader = csv.reader(handle)
        try:
            columns = _header_positions(next(reader, None), path, ("item_id",))
            at = columns["item_id"]
            for row in reader:
                if len(row) <= at:
                    raise SourceFileError("obd", str(path), reader.line_num, "row has too few columns")
                item = _parse_int(row[at], "item_id", path, reader.line_num, low=0)
                if item in items:
                    raise SourceFileError("obd", str(path), reader.line_num, f"duplicate item_id {item}")
                items.add(item)
        except (csv.Error, UnicodeDecodeError) as error:
            raise SourceFileError("obd", str(path), reader.line_num, f"unreadable CSV: {error}") from error
    if not items:
        raise SourceFileError("obd", str(path), None, "item catalog is empty")
    return frozenset(items)


# conversion ---------------------------------------------------------------------------------------------
def _convert(plan: _Plan) -> ObdFileResult:
    """Stream one CSV into its JSON-lines file (temporary file in the target folder, then rename)."""
    catalog = _load_catalog(plan.catalog)
    experiment_id = f"obd-{plan.campaign}"
    counts = dict.fromkeys(EVENT_TYPES, 0)
    rows = 0
    seen: set[int] = set()
    path = plan.source
    with atomic_path(plan.output) as tmp, _open_csv(path) as handle, open(tmp, "wb") as out:
        reader = csv.reader(handle)
        try:
            columns = _header_positions(next(reader, None), path, _REQUIRED_COLUMNS)
            width = max(columns[name] for name in _REQUIRED_COLUMNS) + 1
            for row in reader:
                line = reader.line_num
                if len(row) < width:
                    raise SourceFileError("obd", str(path), line, f"row has {len(row)} columns, needs {width}")
                row_index = _parse_int(row[columns[_INDEX_COLUMN]], "row index", path, line, low=0)
                if row_index in seen:
                    raise SourceFileError("obd", str(path), line, f"duplicate row index {row_index}")
                seen.add(row_index)
                try:
                    timestamp_ms = timestamp_to_ms(row[columns["timestamp"]])
                except ValueError as error:
                    raise SourceFileError("obd", str(path), line, f"timestamp: {error}") from None
                item_id = _parse_int(row[columns["item_id"]], "item_id", path, line, low=0)
                if item_id not in catalog:
                    raise SourceFileError("obd", str(path), line, f"item_id {item_id} not in {plan.catalog.name}")
                position = _parse_int(row[columns["position"]], "position", path, line, low=1, high=SLOTS)
                click = row[columns["click"]].strip()
                if click not in ("0", "1"):
                    raise SourceFileError("obd", str(path), line, f"click {click!r} is not 0 or 1")
                for event in _row_events(request_id=request_id_for(plan.policy, plan.campaign, row_index),
                                         timestamp_ms=timestamp_ms, experiment_id=experiment_id,
                                         policy=plan.policy, catalog_size=len(catalog), item_id=item_id,
                                         position=position, clicked=click == "1"):
                    out.write(orjson.dumps(event))
                    out.write(b"\n")
                    counts[event["event_type"]] += 1
                rows += 1
        except (csv.Error, UnicodeDecodeError) as error:
            raise SourceFileError("obd", str(path), reader.line_num, f"unreadable CSV: {error}") from error
    return ObdFileResult(plan.source, plan.output, plan.policy, plan.campaign, len(catalog), rows, counts)


def import_obd(csv_paths: Sequence[Path], out_dir: Path) -> ObdImportResult:
    """Convert OBD campaign CSVs into recsys JSON-lines, one output file per input.

    Each input ``…/<policy>/<campaign>/<campaign>.csv`` (e.g. ``obd/random/all/all.csv``) is read row by row
    (streaming; memory is bounded by the item catalog and the set of row indices) and written to
    ``<out_dir>/obd_<policy>_<campaign>.jsonl``. Per logged row, in this order and all with the row's
    ``timestamp_ms``: a ``request`` (k = 1), a ``ranking`` of the one logged item, an ``impression`` and, when
    ``click = 1``, a ``click``. ``experiment_id = obd-<campaign>``, ``bucket = algorithm = <policy>``,
    ``ranking.catalog_size`` = number of items in ``item_context.csv`` beside the CSV. No ``event_id`` (the
    ingest derives it), no user, session, latency, coverage, dwell, visibility, device or surface fields (the
    data has none). The output is plain UTF-8 JSON-lines, byte-identical on every run over the same input.

    All inputs' paths and catalogs are checked before anything is written; a file that fails half-way leaves
    no output of its own (temporary file, then rename), but files converted before it stay written.

    Args:
        csv_paths: campaign CSVs; the policy and campaign are the two folder names above each file.
        out_dir: folder for the JSON-lines files; created when missing; existing outputs are replaced.

    Returns:
        Files written, rows read and events per type, in total and per file.

    Raises:
        SourceFileError: bad path layout (policy not ``random``/``bts``, campaign not ``all``/``men``/``women``),
            two inputs mapping to the same output, missing ``item_context.csv``, unreadable file, missing
            column, or a bad row (non-integer or out-of-range row index / item_id / position, item_id not in
            the catalog, click not 0/1, timestamp without offset or before 1970, duplicate row index).
    """
    plans = [_plan(Path(p), Path(out_dir)) for p in csv_paths]
    outputs: dict[Path, Path] = {}
    for plan in plans:
        if plan.output in outputs:
            raise SourceFileError("obd", str(plan.source), None,
                                 f"same policy and campaign as {outputs[plan.output]}: both would write "
                                 f"{plan.output.name}")
        outputs[plan.output] = plan.source
    per_file = [_convert(plan) for plan in plans]
    events = dict.fromkeys(EVENT_TYPES, 0)
    for item in per_file:
        for kind, n in item.events.items():
            events[kind] += n
    return ObdImportResult(files_written=[item.output for item in per_file],
                           rows_read=sum(item.rows for item in per_file), events=events, per_file=per_file)


# locating the sample ------------------------------------------------------------------------------------
def _is_sample_dir(folder: Path) -> bool:
    """True when ``folder/<policy>/all/`` holds ``all.csv`` and ``item_context.csv`` for every policy."""
    return all((folder / policy / "all" / "all.csv").is_file() and (folder / policy / "all" / CATALOG_FILE).is_file()
               for policy in POLICIES)


def _download_wheel(cache_dir: Path) -> Path:
    """Run ``python -m pip download --no-deps obp==<OBP_VERSION> -d <cache_dir>``; return the wheel.

    Raises:
        DownloadFailed: pip cannot be started, exits non-zero, or leaves no obp wheel in ``cache_dir``.
    """
    command = [sys.executable, "-m", "pip", "download", "--no-deps", f"obp=={OBP_VERSION}", "-d", str(cache_dir)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        raise DownloadFailed(str(cache_dir), f"cannot run pip: {error}") from error
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout or "").strip().splitlines()[-3:])
        raise DownloadFailed(str(cache_dir),
                             f"pip download obp=={OBP_VERSION} failed (exit {done.returncode}): {tail}")
    wheel = _cached_wheel(cache_dir)
    if wheel is None:
        raise DownloadFailed(str(cache_dir), f"pip download left no obp-{OBP_VERSION} wheel")
    return wheel


def _cached_wheel(cache_dir: Path) -> Path | None:
    wheels = sorted(cache_dir.glob(f"obp-{OBP_VERSION}-*.whl"))
    return wheels[0] if wheels else None


def _extract_sample(wheel: Path, target: Path) -> None:
    """Extract ``obp/dataset/obd/**`` of ``wheel`` into ``target`` (via a temporary sibling folder).

    Dot files (``.DS_Store``) are skipped; the wheel's ``LICENSE`` (Apache-2.0) is copied to ``target/LICENSE``
    when present, as in ``../shared/data/obd``.

    Raises:
        DownloadFailed: not a zip file, no sample inside, or a member path escaping the target.
    """
    try:
        with atomic_path(target) as tmp:
            with zipfile.ZipFile(wheel) as archive:
                extracted = 0
                for info in archive.infolist():
                    name = info.filename
                    if info.is_dir() or not name.startswith(_WHEEL_PREFIX):
                        continue
                    relative = PurePosixPath(name[len(_WHEEL_PREFIX):])
                    if relative.is_absolute() or ".." in relative.parts or "\\" in name:
                        raise DownloadFailed(str(wheel), f"unsafe member path {name!r}")
                    if any(part.startswith(".") for part in relative.parts):
                        continue
                    destination = tmp.joinpath(*relative.parts)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as source, open(destination, "wb") as sink:
                        shutil.copyfileobj(source, sink)
                    extracted += 1
                licence = next((n for n in archive.namelist()
                                if n.startswith(f"obp-{OBP_VERSION}.dist-info/") and n.endswith("/LICENSE")), None)
                if extracted and licence:
                    (tmp / "LICENSE").write_bytes(archive.read(licence))
            if not _is_sample_dir(tmp):
                raise DownloadFailed(str(wheel),
                                     f"no OBD sample ({_WHEEL_PREFIX}<policy>/all/all.csv for {list(POLICIES)}) "
                                     "in the wheel")
    except zipfile.BadZipFile as error:
        raise DownloadFailed(str(wheel), f"not a wheel (zip) file: {error}") from error


def locate_obd_sample(shared_data: Path | None, cache_dir: Path) -> Path:
    """Find the OBD sample, downloading it from PyPI (the ``obp`` wheel) when the shared copy is missing.

    Order: ``<shared_data>/obd`` when it holds the sample (the shared copy, ``../shared/data/obd``, see its
    README); else ``<cache_dir>/obd`` when already extracted (idempotent: no download, no rewrite); else an
    ``obp-<OBP_VERSION>-*.whl`` already in ``cache_dir`` or, failing that, one fetched with
    ``python -m pip download --no-deps obp==0.4.1 -d <cache_dir>`` (``sys.executable``), whose
    ``obp/dataset/obd/**`` is extracted into ``<cache_dir>/obd``.

    Args:
        shared_data: the shared data folder (``../shared/data``, the parent of ``obd/``), or None to skip it.
        cache_dir: folder for the wheel and the extracted sample; created when missing.

    Returns:
        The folder holding ``<policy>/all/all.csv`` and ``<policy>/all/item_context.csv`` for ``random`` and
        ``bts`` (the wheel also brings campaigns ``men`` and ``women``).

    Raises:
        DownloadFailed: the download fails (no network, pip error), the wheel is unreadable or holds no
            sample, or ``<cache_dir>/obd`` exists but is incomplete (remove it and retry).
    """
    if shared_data is not None and _is_sample_dir(Path(shared_data) / "obd"):
        return Path(shared_data) / "obd"
    cache_dir = Path(cache_dir)
    target = cache_dir / "obd"
    if _is_sample_dir(target):
        return target
    if target.exists():
        raise DownloadFailed(str(target), "exists but does not hold the OBD sample; remove it and retry")
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheel = _cached_wheel(cache_dir) or _download_wheel(cache_dir)
    _extract_sample(wheel, target)
    return target
