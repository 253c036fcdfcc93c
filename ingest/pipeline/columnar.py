"""The columnar ingest path (docs/requirements/design.md#columnar-ingest): validate and normalise a chunk of lines in DuckDB.

For every chunk of lines, the columnar path lands the events it can prove the row-at-a-time path
(:class:`~ingest.pipeline.row.LineProcessor`, the reference) would land with the same row, and hands every
other line to the reference, then merges both outcomes into one :class:`ChunkOutcome` for the same
:class:`~ingest.pipeline.writer.BatchWriter` (dedup, ledger, exactly once). A line takes the columnar path when

- it is ASCII without ``\\u`` escapes, ``NaN`` or ``Infinity`` (so string lengths are byte counts and DuckDB and
  ``orjson`` read the same values), not damaged, not over the line limit, and ``orjson`` parses it into an
  object (the syntax gate: DuckDB's JSON reader is more lenient, e.g. trailing commas);
- it routes (same family order as :meth:`Registry.family_of`) to a schema that :mod:`ingest.registry.compile`
  translates: no batch envelope, opt-out flag or server-filled field on the line, no country for the collector
  to stamp, an event time the compiled plan reads exactly (``epoch_ms``, ``epoch_s``, or an ISO 8601 string of
  the common form, see :func:`~ingest.registry.compile.time_us_sql`), an id derived from fields
  (``event_id_from``) only from values whose JSON text the plan reproduces;
- its compiled check passes (the check is never looser than ``jsonschema``), its event time is neither in the
  future nor too late, and its player is not opted out.

Sampling rules are the reference's own (read at run time, so a collector's reloaded rules apply): the rate of
each event, and the keyed keep/drop decision once per distinct subject and rate; a sampled-out event is dropped
here, as the reference drops it. Everything else — invalid lines, rejected events, opted-out players, other
families — goes through the reference,
so quarantine rows, reason codes and dropped counts are the reference's own. Versions of one event type share
a partition, its rows holding the union of their columns, as in the reference. A chunk where the same event id
lands in one partition from both halves hands every line of that id to the reference (which one lands depends
on input order); the same id from two versions on the columnar side sends the chunk to the reference whole.
The rows of a rate-limited type carry their rate-limit candidates, interleaved with the reference's by line, so
the batch writer decides the limit in input order as it does for the reference alone.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..registry.compile import (CompiledSchema, FamilyRoute, columnar_plan, is_string, json_path, sql_string,
                                string_value)
from ..registry.sampling import sampled_in
from ..registry.schema import EventSchema, Registry, wire_version
from .outcome import ChunkOutcome, RateCandidate, concat_rows
from .reader import Line
from .row import FUTURE_TOLERANCE, US_PER_DAY, LineProcessor, uuid5_text

CHUNK_LINES = 50_000
_UNSAFE = (b"\\u", b"NaN", b"Infinity")


def _raw_id(x: str) -> tuple[str, str]:
    """(SQL of the raw string id or NULL, SQL of whether the columnar path hashes it like the reference)."""
    return (f"(case when {is_string(x)} then {string_value(x)} end)",
            f"({x} is null or {x} = 'null' or {is_string(x)})")


class ColumnarProcessor:
    """Classifies chunks of lines like :meth:`LineProcessor.process_chunk`, vectorised where proven identical
    (the default :class:`~ingest.pipeline.processor.ChunkProcessor`).

    Args:
        reference: the row-at-a-time processor that handles every line this one does not.
        threads: DuckDB threads (default: DuckDB's, the number of cores).
    """

    def __init__(self, registry: Registry, reference: LineProcessor, *, threads: int | None = None):
        self.reference = reference
        self.plan = columnar_plan(registry)
        self.con = duckdb.connect()
        self.con.execute("set TimeZone = 'UTC'")
        if threads:
            self.con.execute(f"set threads = {int(threads)}")
        self.chunk_lines = CHUNK_LINES
        self.fallbacks = 0
        self.stats = {"columnar": 0, "reference": 0}
        self.max_line = reference.settings.max_line_bytes
        self.future_us = reference.as_of_us + FUTURE_TOLERANCE // timedelta(microseconds=1)
        self.as_of_day = reference.as_of_us // US_PER_DAY
        self._routes: dict[tuple[str, ...], FamilyRoute | None] = {}
        self._shapes: dict[tuple[tuple[str, ...], int], bool] = {}
        self._texts: dict[str, str] = {}
        self._queries = [self._query(compiled) for compiled in self.plan.schemas]
        self._rate_limited: dict[str, dict[str, EventSchema]] = {}  # lake type → version → schema
        for compiled in self.plan.schemas:
            if compiled.rate_limited:
                self._rate_limited.setdefault(compiled.schema.qualified_type, {})[compiled.schema.version] = compiled.schema

    def _route(self, event: dict[str, Any]) -> CompiledSchema | None:
        keys = tuple(event)
        try:
            family = self._routes[keys]
        except KeyError:
            family = self._routes[keys] = self.plan.family_for(frozenset(keys))
        if family is None:
            return None
        event_type = family.type_const if family.type_key is None else event.get(family.type_key)
        version = wire_version(event.get(family.version_key))
        if type(event_type) is not str or type(version) is not str:
            return None
        if family.lower:
            event_type = event_type.lower()
        compiled = self.plan.by_route.get((family.name, event_type, version))
        if compiled is None:
            return None
        if compiled.geoip is not None and self.reference.client_country and compiled.geoip not in event:
            return None  # the collector stamps the client's country (the row path)
        shape = (keys, compiled.index)
        fits = self._shapes.get(shape)
        if fits is None:
            key_set = frozenset(keys)
            fits = self._shapes[shape] = compiled.required <= key_set <= compiled.declared and (
                compiled.either is None or compiled.either[0] <= key_set or compiled.either[1] <= key_set)
        return compiled if fits else None

    def process_chunk(self, lines: list[Line], batch_id: str, source: str) -> ChunkOutcome:
        """Same contract and result as :meth:`LineProcessor.process_chunk` on ``lines``."""
        groups: dict[int, tuple[list[int], list[bytes], list[int | None], list[dict[str, Any]]]] = {}
        max_line = self.max_line
        for position, line in enumerate(lines):
            data = line.data
            if line.damaged or line.length > max_line or not data.isascii() or b"\\u" in data or b"NaN" in data \
                    or b"Infinity" in data:
                continue
            try:
                event = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            if type(event) is not dict:
                continue
            compiled = self._route(event)
            if compiled is None:
                continue
            if compiled.nested and not _nested_valid(compiled.nested, event):
                continue
            if orjson.dumps(event) == data:
                keys = None  # canonical: no duplicate keys anywhere
            elif data.count(b"{") > 1:
                continue  # duplicate keys in nested objects are not checked here
            else:
                keys = len(event)  # DuckDB checks the top level holds no duplicate key
            group = groups.get(compiled.index)
            if group is None:
                group = groups[compiled.index] = ([], [], [], [])
            group[0].append(position)
            group[1].append(data)
            group[2].append(keys)
            group[3].append(event)
        fast = self._fast(groups, batch_id) if groups else None
        if fast is None:
            self.stats["reference"] += len(lines)
            return self.reference.process_chunk(lines, batch_id, source)
        landed, taken, sampled_out, clash = fast
        for _ in range(3):
            if clash:
                # the same id twice in one partition, from two versions or from both halves: which one lands
                # depends on input order, so the reference takes every line of that id, in input order (the
                # other rows cannot meet them)
                self.fallbacks += 1
                for key, shared in clash.items():
                    ids, rows, positions = landed.pop(key)
                    keep = [i not in shared for i in ids]
                    taken.difference_update(p for p, k in zip(positions, keep) if not k)
                    if any(keep):
                        landed[key] = ([i for i, k in zip(ids, keep) if k], rows.filter(pa.array(keep)),
                                       [p for p, k in zip(positions, keep) if k])
            rest = [line for position, line in enumerate(lines) if position not in taken]
            slow = self.reference.process_chunk(rest, batch_id, source) if rest else None
            clash = {key: shared for key, (ids, _) in (slow.landed.items() if slow else ())
                     if key in landed and (shared := set(ids) & set(landed[key][0]))}
            if not clash:
                break
        else:
            self.stats["reference"] += len(lines)
            return self.reference.process_chunk(lines, batch_id, source)
        self.stats["columnar"] += len(taken)
        limited: dict[tuple[str, str], list[RateCandidate]] = {}
        for key, (ids, rows, positions) in landed.items():
            if key[0] in self._rate_limited:
                order = np.argsort(np.array(positions), kind="stable")  # versions of the type came out grouped
                ids, positions = [ids[i] for i in order], [positions[i] for i in order]
                landed[key] = (ids, rows.take(pa.array(order)), positions)
                limited[key] = self._candidates(key, *landed[key], lines, batch_id, source)
        out = {key: (ids, rows) for key, (ids, rows, _) in landed.items()}
        dropped = Counter({"sampled_out": sampled_out}) if sampled_out else Counter()
        if slow is None:
            return ChunkOutcome(out, [], dropped, len(lines), len(taken), limited)
        self.stats["reference"] += len(rest)
        for key, (ids, rows) in slow.landed.items():
            if key not in out:
                out[key] = (ids, rows)
                if key in slow.rate_limited:
                    limited[key] = slow.rate_limited[key]
                continue
            fast_ids, fast_rows = out[key]
            if key not in limited:
                out[key] = (fast_ids + ids, concat_rows([fast_rows, rows]))
                continue
            # a rate limit is decided in input order: interleave both halves by line
            both = limited[key] + slow.rate_limited[key]
            order = sorted(range(len(both)), key=lambda i: (both[i].quarantine_row["line_number"],
                                                            both[i].quarantine_row["record_index"] or 0))
            merged_ids = fast_ids + ids
            out[key] = ([merged_ids[i] for i in order], concat_rows([fast_rows, rows]).take(pa.array(order)))
            limited[key] = [both[i] for i in order]
        return ChunkOutcome(out, slow.quarantine, slow.dropped + dropped, len(lines), len(taken) + slow.records, limited)

    def _candidates(self, key: tuple[str, str], ids: list[str], rows: pa.RecordBatch, positions: list[int],
                    lines: list[Line], batch_id: str, source: str) -> list[RateCandidate]:
        """The rate-limit candidates of a rate-limited type's rows (in input order), built like the reference's."""
        versions = rows.column("schema_version").to_pylist()
        players = rows.column("player_key").to_pylist()
        occurred = rows.column("occurred_at").cast(pa.int64()).to_pylist()
        make = self.reference.rate_candidate
        return [make(lines[p], self._rate_limited[key[0]][v], i, k, t, batch_id, source)
                for p, v, i, k, t in zip(positions, versions, ids, players, occurred)]

    def _fast(self, groups: dict[int, tuple[list[int], list[bytes], list[int | None], list[dict[str, Any]]]],
              batch_id: str) -> tuple[dict[tuple[str, str], tuple[list[str], pa.RecordBatch, list[int]]], set[int], int,
                                      dict[tuple[str, str], set[str]]] | None:
        """Rows the columnar path lands, by (event_type, event_date), with the chunk position of each row, the
        chunk positions it took (landed or sampled out), how many it sampled out and the ids that more than one
        version of a type holds in a partition (for the reference to decide); None when the chunk must go to the
        reference whole."""
        landed: dict[tuple[str, str], tuple[list[str], pa.RecordBatch, list[int]]] = {}
        taken: set[int] = set()
        dropped = 0
        clash: dict[tuple[str, str], set[str]] = {}
        for index, (positions, texts, keys, events) in groups.items():
            compiled = self.plan.schemas[index]
            chunk = pa.table({"i": pa.array(range(len(positions)), pa.int64()),
                              "line": pa.array(texts, pa.string()), "nk": pa.array(keys, pa.int64())})
            self.con.register("chunk", chunk)
            try:
                table = self.con.sql(self._queries[index]).to_arrow_table()
            except duckdb.Error:
                return None  # whatever DuckDB cannot read, the reference decides (bad input never crashes a run)
            finally:
                self.con.unregister("chunk")
            for key, (ids, rows, rows_i, sampled_out) in self._partitions(compiled, table, events, batch_id).items():
                taken.update(positions[i] for i in sampled_out)
                dropped += len(sampled_out)
                if not ids:
                    continue
                if key in landed:  # another version of the same type: the partition holds the union of columns
                    old_ids, old_rows, old_positions = landed[key]
                    if shared := set(ids).intersection(old_ids):
                        clash.setdefault(key, set()).update(shared)  # the same id in two versions
                    landed[key] = (old_ids + ids, concat_rows([old_rows, rows]), old_positions + [positions[i] for i in rows_i])
                else:
                    landed[key] = (ids, rows, [positions[i] for i in rows_i])
                taken.update(positions[i] for i in rows_i)
        return landed, taken, dropped, clash

    def _query(self, compiled: CompiledSchema) -> str:
        selects = ["i", f"{compiled.time_us} as us"]
        ok = [f"coalesce(({compiled.check}), false)", "us is not null", "(nk is null or len(json_keys(line)) = nk)"]
        if compiled.event_id:
            selects.append(f"(case when {is_string(compiled.event_id)} then {string_value(compiled.event_id)} end) as eid")
        else:
            selects.append("null::VARCHAR as eid")
        if compiled.id_basis:
            selects.append(f"{compiled.id_basis} as idb")
            ok.append("(idb is not null or coalesce(eid, '') <> '')")
        else:
            selects.append("null::VARCHAR as idb")
        for name, x in (("player", compiled.player), ("session", compiled.session)):
            if x is None:
                selects.append(f"null::VARCHAR as {name}")
            else:
                raw, usable = _raw_id(x)
                selects.append(f"{raw} as {name}")
                ok.append(usable)
        for index, column in enumerate(compiled.columns):
            if column.kind == "hash":
                raw, usable = _raw_id(column.sql)
                selects.append(f"{raw} as c{index}")
                ok.append(usable)
            else:
                selects.append(f"{column.sql} as c{index}")
        paths = ", ".join(sql_string(json_path(p)) for p in compiled.paths)
        fields = ", ".join(f"v[{position + 1}] as f{position + 1}" for position in range(len(compiled.paths)))
        # materialised: the optimiser would otherwise inline ``v`` and parse the line once per reference
        return (f"with p as materialized (select i, nk, line, json_extract(line, [{paths}])::VARCHAR[] as v from chunk), "
                f"f as materialized (select i, nk, line, {fields} from p) "
                f"select {', '.join(selects)} from f where {' and '.join(ok)} order by i")

    def _json_text(self, snippet: str) -> str:
        """The reference's JSON text of a free-form value (``json.dumps``, sorted keys), memoised: values repeat."""
        found = self._texts.get(snippet)
        if found is None:
            if len(self._texts) >= 100_000:
                self._texts.clear()
            found = self._texts[snippet] = json.dumps(orjson.loads(snippet), sort_keys=True, separators=(",", ":"))
        return found

    def _partitions(self, compiled: CompiledSchema, table: pa.Table, events: list[dict[str, Any]], batch_id: str
                    ) -> dict[tuple[str, str], tuple[list[str], pa.RecordBatch, list[int], list[int]]]:
        """(event_type, event_date) → (event ids, rows, the group position of each row, the group positions of
        the events sampled out)."""
        if table.num_rows == 0:
            return {}
        ts = table.column("us").to_numpy(zero_copy_only=False)
        keep = (ts >= 0) & (ts <= self.future_us)
        day = np.where(keep, ts, 0) // US_PER_DAY
        if not self.reference.settings.backfill:
            keep &= day >= self.as_of_day - compiled.late_window_days
        if not keep.all():
            table = table.filter(pa.array(keep))
            ts, day = ts[keep], day[keep]
        out: dict[tuple[str, str], tuple[list[str], pa.RecordBatch, list[int], list[int]]] = {}
        for one_day in np.unique(day):
            mask = day == one_day
            part = table.filter(pa.array(mask)) if not mask.all() else table
            built = self._rows(compiled, part, ts[mask], int(one_day), events, batch_id)
            if built is not None:
                key = (compiled.schema.qualified_type, self.reference.date_string(int(one_day) * US_PER_DAY))
                out[key] = built
        return out

    def _sampled_in(self, subjects: list[str], rates: list[float], event_type: str) -> list[bool]:
        """:func:`~ingest.registry.sampling.sampled_in` of each (subject, rate), computed once per distinct pair."""
        key = self.reference.sampling_key
        seen: dict[tuple[str, float], bool] = {}
        out = []
        for subject, rate in zip(subjects, rates):
            found = seen.get((subject, rate))
            if found is None:
                found = seen[(subject, rate)] = sampled_in(key, subject, event_type, rate)
            out.append(found)
        return out

    def _rows(self, compiled: CompiledSchema, part: pa.Table, occurred: np.ndarray, day: int,
              events: list[dict[str, Any]], batch_id: str) -> tuple[list[str], pa.RecordBatch, list[int], list[int]] | None:
        reference = self.reference
        hasher = reference.keyring.for_day(day)
        opted_out = reference.settings.opted_out
        players = _hash_column(part.column("player"), hasher)
        if opted_out:
            flags = pc.fill_null(pc.is_in(players, value_set=pa.array(sorted(opted_out), pa.string())), False)
            if pc.any(flags).as_py():
                keep = pc.invert(flags)
                part, players = part.filter(keep), players.filter(keep)
                occurred = occurred[keep.to_numpy(zero_copy_only=False)]
                if part.num_rows == 0:
                    return None
        sessions = _hash_column(part.column("session"), hasher)
        sampled_out: list[int] = []
        n = part.num_rows
        rows_i = part.column("i").to_pylist()
        given = part.column("eid").to_pylist()
        if compiled.id_basis:
            ids = [g if g else uuid5_text(b.encode()) for g, b in zip(given, part.column("idb").to_pylist())]
        else:
            dumps, sort_keys = orjson.dumps, orjson.OPT_SORT_KEYS
            ids = [g if g else uuid5_text(dumps(events[i], option=sort_keys)) for g, i in zip(given, rows_i)]
        schema = compiled.schema
        rates = pa.repeat(pa.scalar(schema.sample_rate, pa.float64()), n)
        rule = reference.sampling_rule(schema.family, schema.event_type)
        if rule is not None:
            rate_list = [rule.rate_for(events[i]) for i in rows_i]
            if rule.adaptive and reference.adaptive_factor != 1.0:
                rate_list = [min(1.0, rate * reference.adaptive_factor) for rate in rate_list]
            subjects = [p if p is not None else i for p, i in zip(part.column("player").to_pylist(), ids)]
            kept = self._sampled_in(subjects, rate_list, schema.event_type)
            sampled_out = [r for r, k in zip(rows_i, kept) if not k]
            if sampled_out:
                mask = pa.array(kept)
                part, players, sessions = part.filter(mask), players.filter(mask), sessions.filter(mask)
                occurred = occurred[np.array(kept)]
                ids = [i for i, k in zip(ids, kept) if k]
                rate_list = [r for r, k in zip(rate_list, kept) if k]
                rows_i = [r for r, k in zip(rows_i, kept) if k]
                n = part.num_rows
            rates = pa.array(rate_list, pa.float64())
        has_key = pc.or_(pc.is_valid(players), pc.is_valid(sessions))
        arrays: list[Any] = [
            pa.array(ids, pa.string()),
            pa.repeat(pa.scalar(schema.version), n),
            pa.array(occurred, pa.int64()),
            pa.repeat(pa.scalar(reference.as_of_us, pa.int64()), n),
            pa.repeat(pa.scalar(batch_id), n),
            players, pc.if_else(has_key, pa.scalar(hasher.key_id), pa.scalar(None, pa.string())), sessions,
            rates, pa.repeat(pa.scalar("event"), n), pa.repeat(pa.scalar("event"), n),
        ]
        for index, column in enumerate(compiled.columns):
            values = part.column(f"c{index}")
            if column.kind == "hash":
                values = _hash_column(values, hasher)
            elif column.kind == "hash_each":
                values = _hash_each(values, hasher)
            elif column.kind == "json_text":
                values = pa.array([None if v is None or v == "null" else self._json_text(v) for v in values.to_pylist()],
                                  pa.string())
            arrays.append(values)
        try:
            columns = [(a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a).cast(f.type)
                       for a, f in zip(arrays, schema.arrow_schema)]
            rows = pa.RecordBatch.from_arrays(columns, schema=schema.arrow_schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
        return ids, rows, rows_i, sampled_out


def _nested_valid(checks: list[tuple[str, Any]], event: dict[str, Any]) -> bool:
    for name, validate in checks:
        if name in event:
            try:
                validate(event[name])
            except Exception:  # noqa: BLE001 - any failure: the reference decides
                return False
    return True


def _hash_each(values: pa.ChunkedArray | pa.Array, hasher: Any) -> pa.Array:
    """Keyed hash of every string in each list (null lists and null items stay null)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    hashed = _hash_column(values.values, hasher)
    return pa.ListArray.from_arrays(values.offsets, hashed, mask=values.is_null())


def _hash_column(values: pa.ChunkedArray | pa.Array, hasher: Any) -> pa.Array:
    """Keyed hash of each non-null string, computed once per distinct value (ids repeat)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.null_count == len(values):
        return pa.nulls(len(values), pa.string())
    encoded = pc.dictionary_encode(values)
    hashed = pa.array([hasher.hash(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return pc.take(hashed, encoded.indices)


