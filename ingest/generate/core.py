"""The generator's driver: one JSON-lines file per family and day, streamed, plus the expected accounting.

Output folder layout::

    <out>/<family>/<YYYY-MM-DD>.jsonl   events of that family received for that day (one ingest batch each)
    <out>/expected.json                 per file: the as-of clock to ingest it with and what ingest must count
    <out>/faults.jsonl                  one line per injected bad line or duplicate: file, line, kind, reason
    <out>/opt_out.txt                   wire ids of opted-out players (copy to <data-dir>/privacy/opt_out.txt)

Each day's file is ingested with ``--as-of`` = the next day 00:10 UTC (a nightly load). About 1 % of a day's
events arrive late, in the next day's file (still inside the T+2 days window, so they land). Memory stays
bounded: events are written as they are generated; only the late 1 % of one day and a few lines for resending are
held.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from collections.abc import Callable

import orjson

from ..config import SCHEMAS_DIR
from ..privacy.keys import DEMO_KEY
from .base import Emitted, EmittedBatch, FamilyGenerator
from .players import FAMILIES, Population, day_start_us, derive_seed, iso_ms
from .writer import FileAccounting, FileWriter, Sampler


GENERATOR_VERSION = "1"
LATE_SHARE = 0.01
"""Share of a day's events that arrive in the next day's file."""
AS_OF_DELAY_US = 10 * 60_000_000
"""A day's file is ingested at the next day 00:10 UTC."""
DEFAULT_START = date(2024, 11, 4)  # a Monday


@dataclass(frozen=True)
class GenerateConfig:
    """What to generate.

    Attributes:
        players: number of players (≥ 1).
        days: number of days (≥ 1).
        seed: master seed; the same config gives byte-identical output.
        out: output folder (created; existing generated files are overwritten).
        faults: inject bad lines, duplicates and opted-out players.
        start: first day (UTC).
        families: families to generate (default: every family whose generator is available).
        hash_key: the HMAC key the data will be ingested with; only ingest-side sampling (docs/requirements/gameplay.md#events types with a
            sample rate below 1) depends on it. Default: the public demo key (``IdentityHasher.demo()``).
    """

    players: int
    days: int
    seed: int
    out: Path
    faults: bool = False
    start: date = DEFAULT_START
    families: tuple[str, ...] = ()
    hash_key: bytes = DEMO_KEY


@dataclass
class GenerateResult:
    """Summary of a run: the accounting per file and totals."""

    out: Path
    files: list[FileAccounting] = field(default_factory=list)
    families: tuple[str, ...] = ()
    skipped_families: dict[str, str] = field(default_factory=dict)

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    def __str__(self) -> str:
        landed = sum(f.landed for f in self.files)
        quarantined = sum(sum(f.quarantined.values()) for f in self.files)
        duplicates = sum(f.duplicates for f in self.files)
        dropped = sum(sum(f.dropped.values()) for f in self.files)
        text = (f"generated {self.lines} lines in {len(self.files)} files under {self.out} "
                f"({', '.join(self.families)}): landed {landed} + quarantined {quarantined} + duplicates "
                f"{duplicates} + dropped {dropped} expected")
        for name, why in self.skipped_families.items():
            text += f"\nskipped {name}: {why}"
        return text


def available_families() -> dict[str, Callable[[Population, int], FamilyGenerator] | str]:
    """Family name → generator class, or the reason it is unavailable (its schemas are missing)."""
    from . import ability, gameplay, learning, politics, recsys

    out: dict[str, Callable[[Population, int], FamilyGenerator] | str] = {}
    for module in (politics, ability, recsys, gameplay, learning):
        reason = getattr(module, "UNAVAILABLE", None)
        out[module.FAMILY] = reason if reason else module.Generator
    return {name: out[name] for name in FAMILIES if name in out}


def generate(config: GenerateConfig, progress: Callable[[str], None] | None = None) -> GenerateResult:
    """Generate the data set described by ``config``.

    Returns:
        the accounting per file (also written to ``expected.json``).

    Raises:
        ValueError: bad sizes or an unknown family name.
    """
    registry = available_families()
    wanted = config.families or tuple(registry)
    unknown = [f for f in wanted if f not in registry]
    if unknown:
        raise ValueError(f"unknown families: {', '.join(unknown)} (known: {', '.join(registry)})")
    result = GenerateResult(Path(config.out))
    generators: list[FamilyGenerator] = []
    population = Population(config.players, config.days, config.seed, faults=config.faults)
    for name in wanted:
        factory = registry[name]
        if isinstance(factory, str):
            result.skipped_families[name] = factory
            continue
        generators.append(factory(population, config.seed))
    result.families = tuple(g.name for g in generators)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    opted_out = {g.name: frozenset(g.player_id(p) for p in population if p.opted_out and g.name in p.families)
                 for g in generators}
    fault_players = [p for p in population if not p.opted_out] or list(population)
    sampler = Sampler(config.hash_key, sample_rates(SCHEMAS_DIR), sample_rules(SCHEMAS_DIR))
    held: dict[str, list[Emitted | EmittedBatch]] = {g.name: [] for g in generators}
    resend: dict[str, tuple[str, list[bytes]]] = {}
    fault_log = open(out / "faults.jsonl", "wb") if config.faults else None
    try:
        for day_index in range(config.days):
            day = config.start + timedelta(days=day_index)
            day_us = day_start_us(day)
            as_of_us = day_us + 86_400_000_000 + AS_OF_DELAY_US
            for generator in generators:
                relative = f"{generator.name}/{day.isoformat()}.jsonl"
                fault_rng = random.Random(derive_seed(config.seed, "faults", generator.name, day_index)) if config.faults else None
                writer = FileWriter(out / relative, relative, generator, as_of_us, iso_ms(as_of_us), day_us,
                                    opted_out[generator.name], sampler, fault_rng, fault_log, fault_players)
                for event in held[generator.name]:
                    writer.write(event, own_day=False)
                held[generator.name] = []
                if generator.name in resend:
                    source, lines = resend.pop(generator.name)
                    for data in lines:
                        writer.resend(data, source)
                rng = random.Random(derive_seed(config.seed, generator.name, day_index))
                late = random.Random(derive_seed(config.seed, "late", generator.name, day_index))
                last_day = day_index == config.days - 1
                day_end_us = day_us + 86_400_000_000
                for event in generator.day_events(day_index, day, rng):
                    event = _within_day(event, day_end_us)
                    if event is None:
                        continue
                    if not last_day and late.random() < LATE_SHARE:
                        held[generator.name].append(event)
                    else:
                        writer.write(event)
                accounting = writer.close()
                if writer.reservoir:
                    resend[generator.name] = (relative, writer.reservoir[:1])
                result.files.append(accounting)
                if progress is not None:
                    progress(f"{relative}: {accounting.lines} lines")
    finally:
        if fault_log is not None:
            fault_log.close()
    if not config.faults and (out / "faults.jsonl").exists():
        os.remove(out / "faults.jsonl")
    ids = sorted(i for ids in opted_out.values() for i in ids)
    (out / "opt_out.txt").write_text(
        "# wire ids of opted-out players (docs/requirements/gameplay.md#privacy); copy to <data-dir>/privacy/opt_out.txt\n"
        + "".join(f"{i}\n" for i in ids), encoding="utf-8")
    write_expected(config, result)
    return result


def _within_day(item: Emitted | EmittedBatch, day_end_us: int) -> Emitted | EmittedBatch | None:
    """``item`` without the events a session ran past midnight (they would belong to the next file's day);
    None when nothing is left."""
    if isinstance(item, Emitted):
        return item if item.occurred_us < day_end_us else None
    events = [e for e in item.events if e.occurred_us < day_end_us]
    if len(events) == len(item.events):
        return item
    return EmittedBatch(item.envelope, events, item.inherited) if events else None


def sample_rates(schemas_dir: Path) -> dict[str, float]:
    """Qualified lake event type → ingest sample rate, from the registry's ``x-telemetry.sample_rate``
    annotations (newest version of each type)."""
    from ..registry.schema import Registry

    return {qualified: schema.sample_rate for qualified, schema in Registry.load(schemas_dir).lake_types().items()}


def sample_rules(schemas_dir: Path) -> dict[str, list[tuple[str, frozenset, float]]]:
    """Qualified lake event type → value-dependent sampling rules of ``schemas/sampling.yml`` (docs/requirements/gameplay.md#sampling), and
    the file's base rates override the schemas' (read here with plain YAML, not through the ingest code)."""
    import yaml

    path = Path(schemas_dir) / "sampling.yml"
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {f"{family}_{event_type}": [(w["field"].lstrip("/"), frozenset(w["in"]), float(w["rate"]))
                                       for w in spec.get("when", []) or []]
            for family, types in data["families"].items() for event_type, spec in types.items()}


def write_expected(config: GenerateConfig, result: GenerateResult) -> Path:
    """Write ``expected.json``: the generator's arguments, per-file accounting and totals (sorted keys, no
    timestamps, so the file is byte-identical for the same config)."""
    from collections import Counter

    totals: Counter = Counter()
    by_reason: Counter = Counter()
    dropped: Counter = Counter()
    by_kind: Counter = Counter()
    by_type: Counter = Counter()
    for f in result.files:
        totals.update({"lines": f.lines, "records": f.records, "landed": f.landed, "duplicates": f.duplicates,
                       "quarantined": sum(f.quarantined.values()), "dropped": sum(f.dropped.values())})
        by_reason.update(f.quarantined)
        dropped.update(f.dropped)
        by_kind.update(f.faults)
        for key, n in f.partitions.items():
            by_type[key.split("|")[0]] += n
    document = {
        "generator": {"version": GENERATOR_VERSION, "players": config.players, "days": config.days,
                      "seed": config.seed, "faults": config.faults, "start": config.start.isoformat(),
                      "families": list(result.families), "skipped_families": result.skipped_families,
                      "hash_key_id": "demo" if config.hash_key == DEMO_KEY else "custom"},
        "totals": dict(sorted(totals.items())),
        "quarantined_by_reason": dict(sorted(by_reason.items())),
        "dropped_by_reason": dict(sorted(dropped.items())),
        "faults_by_kind": dict(sorted(by_kind.items())),
        "landed_by_event_type": dict(sorted(by_type.items())),
        "files": [f.as_dict() for f in result.files],
    }
    path = Path(config.out) / "expected.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    return path
