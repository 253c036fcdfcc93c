"""The collector's engine, independent of HTTP: classify events for a per-event answer, spool them durably, and
land the spool through the one ingest path (docs/requirements/design.md#collector).

The answer a producer gets is computed with the same :class:`~ingest.pipeline.row.LineProcessor` that lands
the spool file later, with the clock of the request; the spool file is then landed with the clock of its last
append (at most one rotation interval later), so the answer and the lake agree. Every line is spooled, rejected
ones included: landing quarantines them with their reason, so nothing a producer sent is lost.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from ..errors import RegistryError, Rejection
from ..pipeline.outcome import Dropped
from ..pipeline.row import COLLECTOR_NOTE, LineProcessor, to_epoch_us
from ..pipeline.settings import IngestSettings
from ..pipeline.reader import Line
from ..pipeline.service import IngestReport, ingest_settings
from ..privacy.keys import Keyring
from ..registry.sampling import LoadPolicy, load_policy
from ..registry.schema import Registry
from . import spool as spool_module
from .load import Breaker, LoadState
from .spool import Spool, spool_dir

REFRESH_SECONDS = 1.0
"""How often (at most) the collector re-reads the sampling file and its load."""

log = logging.getLogger("telemetry.collector")


@dataclass
class EventAnswer:
    """What became of one event: ``accepted``, ``rejected`` (with reason and errors) or ``dropped`` (policy)."""

    index: int
    status: str
    event_id: str | None = None
    event_type: str | None = None
    reason: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    player_key: str | None = None
    occurred_us: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.event_id is not None:
            out["event_id"] = self.event_id
        if self.event_type is not None:
            out["event_type"] = self.event_type
        if self.reason is not None:
            out["reason"] = self.reason
        if self.errors:
            out["errors"] = self.errors
        return out


def set_clock(processor: LineProcessor, now: datetime) -> None:
    """Point a processor's clock at ``now`` (the same fields its constructor derives from ``settings.as_of``),
    so one processor serves every request without re-reading the registry's sampling rules."""
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    processor.as_of = now
    processor.as_of_us = to_epoch_us(now)
    processor.received_at = now.astimezone(timezone.utc).replace(tzinfo=None)
    processor.received_iso = processor.received_at.isoformat(timespec="microseconds") + "Z"


class ReservedField(Exception):
    """Events that carry the collector's own note key (``_collector``): a producer may not send it."""

    def __init__(self, indexes: list[int]):
        super().__init__(f"{COLLECTOR_NOTE!r} is reserved for the collector")
        self.indexes = indexes


@dataclass
class PlayerLimit:
    """A per-player sliding-window limit for one event type (docs/requirements/politics.md#anti-abuse), over arrival time."""

    max_events: int
    window_seconds: float
    seen: dict[str, deque] = field(default_factory=dict)

    def over(self, player_key: str, count: int, now: float) -> bool:
        times = self.seen.setdefault(player_key, deque())
        while times and times[0] <= now - self.window_seconds:
            times.popleft()
        return len(times) + count > self.max_events

    def record(self, player_key: str, count: int, now: float) -> None:
        times = self.seen.setdefault(player_key, deque())
        times.extend([now] * count)
        if len(self.seen) > 100_000:  # bound memory: forget players idle for a whole window
            for key in [k for k, v in self.seen.items() if not v or v[-1] <= now - self.window_seconds]:
                del self.seen[key]


@dataclass
class PlayerLimited:
    """Events of a rate-limited type over their player's limit: the request is refused (not acknowledged)."""

    event_type: str
    indexes: list[int]
    retry_after: int


class Collector:
    """Classifies, spools and lands events for one serving process.

    Args:
        data_dir: the data directory (spool under ``spool/``, lake under ``lake/``).
        registry: the loaded schema registry.
        keyring: the hash keys (the same as every other command).
        spool_max_bytes, spool_max_seconds: rotation of spool files.
        land_every: seconds between landing rounds of the background lander (0 = no lander thread).
        clock: monotonic seconds (the load breakers' and the refresh's time; tests pass their own).
    """

    def __init__(self, data_dir: Path, registry: Registry, keyring: Keyring, *,
                 spool_max_bytes: int = spool_module.DEFAULT_MAX_BYTES,
                 spool_max_seconds: float = spool_module.DEFAULT_MAX_SECONDS, land_every: float = 2.0,
                 clock: Any = time.monotonic):
        self.data_dir = Path(data_dir)
        self.registry = registry
        self.keyring = keyring
        self.spool = Spool(spool_dir(self.data_dir), spool_max_bytes, spool_max_seconds)
        self.processor = LineProcessor(registry, self.settings())
        self.land_every = land_every
        self._land_lock = threading.Lock()
        self._stop = threading.Event()
        self._lander: threading.Thread | None = None
        self._land_process: Any = None
        self._stop_landing: Any = None
        self.limits: dict[str, PlayerLimit] = {
            f"{name}_{t}": PlayerLimit(int(rule["max_events"]), float(rule["window_seconds"]))
            for name, family in registry.families.items() for t, rule in family.rate_limits.items()
            if rule.get("per", "player") == "player"}
        self.landed_reports: list[IngestReport] = []
        self.clock = clock
        self.policy: LoadPolicy = load_policy(registry.root)
        self.adaptive = Breaker(self.policy.adaptive_above, self.policy.adaptive_seconds)
        self.backpressure = Breaker(self.policy.backpressure_above, self.policy.backpressure_seconds)
        self.state = LoadState(0, 0.0, 1.0, None)
        self._refreshed: float | None = None
        self._refresh_lock = threading.Lock()

    # --- load ---------------------------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> LoadState:
        """At most once per :data:`REFRESH_SECONDS`: re-read the sampling file when it changed (rules and load
        policy; a broken edit is logged and the rules in force stay), read the spool lag and update the breakers.
        Returns the load state requests are judged with."""
        now = self.clock()
        with self._refresh_lock:
            if not force and self._refreshed is not None and now - self._refreshed < REFRESH_SECONDS:
                return self.state
            self._refreshed = now
            try:
                self.processor.reload_sampling()
                policy = load_policy(self.registry.root)
            except RegistryError as error:
                log.error("the sampling file is not usable; keeping the rules in force: %s", error)
                policy = self.policy
            if policy != self.policy:
                log.info("sampling file changed: %s", policy)
                self.policy = policy
                self.adaptive.above, self.adaptive.for_seconds = policy.adaptive_above, policy.adaptive_seconds
                self.backpressure.above = policy.backpressure_above
                self.backpressure.for_seconds = policy.backpressure_seconds
            lag = self.spool.lag()
            share = lag / policy.capacity_events
            adaptive = self.adaptive.update(share, now)
            degraded = self.backpressure.update(share, now)
            state = LoadState(lag, share, policy.adaptive_factor if adaptive else 1.0,
                              policy.optional_factor if degraded else None)
            if (state.adaptive_factor, state.optional_factor) != (self.state.adaptive_factor,
                                                                  self.state.optional_factor):
                log.warning("load %.0f%% of %d events: adaptive rates ×%g, optional metrics %s", share * 100,
                            policy.capacity_events, state.adaptive_factor,
                            "normal" if state.optional_factor is None else f"kept in {state.optional_factor:g}")
            self.state = state
            self.processor.adaptive_factor = state.adaptive_factor
            return state

    def settings(self, now: datetime | None = None) -> IngestSettings:
        """Ingest settings with the data directory's current opt-out list."""
        return ingest_settings(self.data_dir, self.registry, self.keyring, now or datetime.now(timezone.utc))

    # --- classify ----------------------------------------------------------------------------------------------
    def classify(self, lines: list[bytes], now: datetime | None = None) -> list[EventAnswer]:
        """Per-event answers for spool lines (a batch-envelope line answers once per event it holds)."""
        return self.admit(lines, now)[0]

    def admit(self, lines: list[bytes], now: datetime | None = None, country: str | None = None
              ) -> tuple[list[EventAnswer], list[bytes]]:
        """Per-event answers for received lines, and the lines to spool: each line as received, or — when the
        collector decided something landing must decide the same — the event with the collector's note
        (``_collector``: the sample rate in force, the client's country, the optional-metric factor under
        backpressure; never the client's address).

        Args:
            country: the ISO country of the client's address (filled into the family's GeoIP field).

        Raises:
            ReservedField: an event carries the note key itself.
        """
        state = self.refresh()
        set_clock(self.processor, now or datetime.now(timezone.utc))
        self.processor.client_country = country
        answers: list[EventAnswer] = []
        out: list[bytes] = []
        reserved: list[int] = []
        for number, data in enumerate(lines, 1):
            line = Line(number, data, len(data))
            out.append(data)
            try:
                items = self.processor.parse(line)
            except Rejection as rejection:
                answers.append(self._rejected(len(answers), rejection))
                continue
            if isinstance(items, Dropped):
                answers.append(EventAnswer(len(answers), "dropped", reason=items.reason))
                continue
            single = len(items) == 1 and items[0][0] is None
            note: dict[str, Any] = {}
            for _, event in items:
                index = len(answers)
                if isinstance(event, dict) and COLLECTOR_NOTE in event:
                    reserved.append(index)
                try:
                    outcome = self.processor.classify(event)
                except Rejection as rejection:
                    answers.append(self._rejected(index, rejection))
                    continue
                if isinstance(outcome, Dropped):
                    if outcome.rate is not None:
                        note["sample_rate"] = outcome.rate
                    answers.append(EventAnswer(index, "dropped", reason=outcome.reason))
                    continue
                note.update(outcome.note or {})
                family = outcome.normalizer.schema.family
                if state.optional_factor is not None and family in self.processor.optional:
                    note["optional_factor"] = state.optional_factor
                answers.append(EventAnswer(index, "accepted", outcome.event_id,
                                           outcome.normalizer.schema.qualified_type,
                                           player_key=outcome.player_key, occurred_us=outcome.occurred_us))
            if note and single:
                out[-1] = orjson.dumps({**items[0][1], COLLECTOR_NOTE: note})
        if reserved:
            raise ReservedField(reserved)
        return answers, out

    @staticmethod
    def _rejected(index: int, rejection: Rejection) -> EventAnswer:
        return EventAnswer(index, "rejected", event_type=rejection.event_type, reason=rejection.reason,
                           errors=[{"pointer": p, "keyword": k, "message": m} for p, k, m in rejection.errors])

    def player_limited(self, answers: list[EventAnswer], now: float | None = None) -> PlayerLimited | None:
        """Check accepted events of rate-limited types against their players' windows; record them when the whole
        request fits. Returns what is over the limit, or None."""
        now = time.monotonic() if now is None else now
        wanted: dict[tuple[str, str], list[int]] = {}
        for answer in answers:
            if answer.status == "accepted" and answer.event_type in self.limits and answer.player_key:
                wanted.setdefault((answer.event_type, answer.player_key), []).append(answer.index)
        for (event_type, player), indexes in wanted.items():
            limit = self.limits[event_type]
            if limit.over(player, len(indexes), now):
                return PlayerLimited(event_type, indexes, max(1, int(limit.window_seconds)))
        for (event_type, player), indexes in wanted.items():
            self.limits[event_type].record(player, len(indexes), now)
        return None

    # --- spool and land -----------------------------------------------------------------------------------------
    def append(self, lines: list[bytes]) -> None:
        """Append lines to the spool; returns once they are fsync'ed (raises SpoolWriteFailed otherwise)."""
        self.spool.append(b"".join(line + b"\n" for line in lines))

    def land_own(self, *, rotate: bool = False) -> IngestReport:
        """Land this process's sealed spool files (sealing the open one first when ``rotate``)."""
        with self._land_lock:
            if rotate:
                self.spool.rotate()
            else:
                self.spool.rotate_if_due()
            files = self.spool.own_sealed()
            report = spool_module.land(files, self.settings(), self.data_dir, self.registry)
            if report.batches:
                log.info("landed %s", report.summary())
            return report

    def start(self) -> None:
        """Start landing in the background: a thread seals spool files as they age, and a separate process (so
        landing never holds this process's interpreter lock while requests wait) lands the sealed ones."""
        if self.land_every <= 0 or self._lander is not None:
            return
        self._lander = threading.Thread(target=self._rotate_loop, name="spool-rotate", daemon=True)
        self._lander.start()
        context = multiprocessing.get_context("spawn")
        self._stop_landing = context.Event()
        self._land_process = context.Process(
            target=land_loop, name="spool-lander", daemon=True,
            args=(self.data_dir, self.registry.root, self.keyring, os.getpid(), self.land_every, self._stop_landing))
        self._land_process.start()

    def _rotate_loop(self) -> None:
        while not self._stop.wait(min(self.land_every, self.spool.max_seconds, REFRESH_SECONDS)):
            try:
                self.spool.rotate_if_due()
            except OSError:
                log.exception("sealing a spool file failed; will retry")
            try:
                self.refresh()  # the breakers follow the load between requests too
            except OSError:
                log.exception("reading the load failed; will retry")

    def stop(self) -> IngestReport:
        """Stop background landing, refuse further appends, seal and land everything this process spooled."""
        self._stop.set()
        if self._lander is not None:
            self._lander.join(timeout=60)
        if self._land_process is not None:
            self._stop_landing.set()
            self._land_process.join(timeout=300)
        self.spool.close()
        with self._land_lock:
            return spool_module.land(self.spool.own_sealed(), self.settings(), self.data_dir, self.registry)

    # --- lake lookups -------------------------------------------------------------------------------------------
    def key_candidates(self, raw_id: str) -> list[str]:
        """Every hash ``raw_id`` can have in the lake (one per key of the keyring)."""
        return sorted({hasher.hash(raw_id) for hasher in self.keyring.all()})


def land_loop(data_dir: Path, schemas_root: Path, keyring: Keyring, pid: int, every: float, stop: Any) -> None:
    """The lander process of serving process ``pid``: every ``every`` seconds, land ``pid``'s sealed spool files.

    Exits when ``stop`` is set or when its parent is gone (a killed server: `telemetry ingest --spool` or the next
    `telemetry serve` lands the rest). Interrupting a landing is safe: a batch without its ledger row is redone.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the server decides
    try:
        os.nice(10)  # background work: answering requests comes first when the cores are busy
    except OSError:
        pass
    parent = os.getppid()
    registry = Registry.load(schemas_root)
    root = spool_dir(data_dir)
    while not stop.wait(every) and os.getppid() == parent:
        files = sorted(root.glob(f"*-{pid}-*{spool_module.SEALED_SUFFIX}"))
        if not files:
            continue
        try:
            settings = ingest_settings(data_dir, registry, keyring, datetime.now(timezone.utc))
            spool_module.land(files, settings, data_dir, registry)
        except Exception:  # keep going; the files stay for the next round
            log.exception("landing the spool failed; will retry")
