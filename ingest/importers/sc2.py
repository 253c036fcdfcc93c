"""StarCraft II replays → gameplay JSON-lines (docs/requirements/gameplay.md) and ability metric summaries
(docs/requirements/ability.md#wire-format).

Source data: ggtracker/sc2reader's ``test_replays`` (MIT), 40 real competitive matches, releases 2.0–5.0,
2013–2020 (``../shared/data/sc2/``, see ``../shared/data/README.md``). Parsed with ``sc2reader`` (PyPI, pure
Python) at load level 4 (game, message and tracker events).

Each replay is one match. Per human player (computer opponents and observers are not players: they get no
events) the importer writes:

- ``session_start`` at game loop 0 and ``session_end`` when the player left (or at the last loop);
- ``ability_cast`` for every command that names an ability (see :func:`is_ability_cast`);
- ``engage_enemy`` (outcome ``win``) for every unit of another player the player killed and ``death`` for
  every unit of the player killed by another player (tracker ``UnitDiedEvent``; deaths without another
  player as killer — morphs, cancellations, timed lives, own units — are not combat and are skipped);
- ``client_tick`` with an ``economy`` snapshot for every ``PlayerStatsEvent`` (every 10 game seconds);
- ``chat_message`` for every chat line (the text only reaches the ingest, which keeps its length);

and one ability ``metric_summary`` per (player, ability) with ``metrics.casts`` = the player's casts of that
ability in the match and ``metrics.window_seconds`` = the player's time in the match.

Game time → wall clock: a game loop is 1/16 of a game second and the replays run at the ``Faster`` speed, 1.4
game seconds per real second, so 22.4 loops per real second (:func:`loops_per_real_second`). The replay stores
its end as a UTC file time; the match started ``frames / 22.4`` seconds earlier, and an event at loop ``f``
happened at ``start + f / 22.4`` s. Every replay's computed length is checked against sc2reader's
``real_length`` (:data:`MAX_CLOCK_DRIFT_SECONDS`). Mapping and reasons: ``docs/importers/sc2.md``.

Public API: :func:`import_sc2`, :func:`convert_replay`, :func:`is_ability_cast`, :func:`loops_per_real_second`,
:func:`ability_entry`, :class:`Sc2ImportResult`, :class:`Sc2ReplayResult`, :class:`SourceFileError`,
:data:`sc2_command`.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from ..errors import SourceFileError
from ..extras import import_optional, require
from ..lake.atomic import write_lines_atomic

__all__ = [
    "GAME_LOOPS_PER_GAME_SECOND",
    "MAX_CLOCK_DRIFT_SECONDS",
    "SC2_NAMESPACE",
    "SPEED_FACTOR",
    "Sc2ImportResult",
    "Sc2ReplayResult",
    "ability_entry",
    "convert_replay",
    "header_frames",
    "import_sc2",
    "is_ability_cast",
    "load_replay",
    "loops_per_real_second",
    "match_id_of",
    "sc2reader_real_seconds",
]

#: Game loops per game second (sc2reader: ``event.second = frame >> 4``).
GAME_LOOPS_PER_GAME_SECOND = 16
#: Game seconds per real second at each game speed (Blizzard's speed table; every release since WoL).
SPEED_FACTOR: dict[str, float] = {"Slower": 0.6, "Slow": 0.8, "Normal": 1.0, "Fast": 1.2, "Faster": 1.4}
#: The computed match length must agree with sc2reader's ``real_length`` (whole seconds, floored) this closely.
MAX_CLOCK_DRIFT_SECONDS = 2.0
#: Fixed namespace of the client_guid / session_id UUIDv5s. Never change it: every event id the ingest derives
#: from (player_id, client_guid, seq) would change with it. ``uuid5(NAMESPACE_URL,
#: "https://github.com/ggtracker/sc2reader/test_replays")`` frozen as a literal.
SC2_NAMESPACE = uuid.UUID("5cfc1f11-0527-5d4d-a032-b4f9d82ab9b4")
SCHEMA_VERSION = "1.0"
GAMEPLAY_TYPES: tuple[str, ...] = ("session_start", "session_end", "ability_cast", "engage_enemy", "death",
                                   "client_tick", "chat_message")
ABILITY_TIER = 1  # docs/requirements/ability.md#wire-format requires meta.tier (1..5); StarCraft II abilities have no tiers
_CHAT_CHANNEL = {0: "all", 2: "allies", 4: "observers"}
_RESULT = {"Win": "win", "Loss": "loss", "Tie": "tie"}


# results ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sc2ReplayResult:
    """What one replay became.

    Attributes:
        source: the replay file.
        match_id: first 16 hex digits of the replay's sha256 (stable, not personal).
        gameplay_output: ``<out>/sc2_<match_id>.gameplay.jsonl``.
        ability_output: ``<out>/sc2_<match_id>.ability.jsonl`` (None when summaries were not asked for).
        release: game release, e.g. ``2.0.8.25604``.
        players: human players (each gets one session).
        computers: computer (AI) players (no events of their own).
        frames: game loops of the match (from its first loop to the last; sc2reader's ``replay.frames``).
        lobby_frames: game loops recorded before the match began (GameHeart lobbies; 0 otherwise).
        started_at: computed wall-clock start of the match (UTC): loop 0 of the events.
        ended_at: the replay's end (UTC file time).
        real_seconds: computed length of the whole recording, ``header game loops / loops_per_real_second``
            (seconds, float).
        sc2reader_real_seconds: sc2reader's real length (whole seconds, :func:`sc2reader_real_seconds`) — the
            clock check's reference.
        events: gameplay events written per type.
        summaries: ability summaries written.
        skipped: events not converted, by reason (``no_ability``, ``update_command``, ``non_combat_death``,
            ``after_leave``, ``not_a_player``).
    """

    source: Path
    match_id: str
    gameplay_output: Path
    ability_output: Path | None
    release: str
    players: int
    computers: int
    frames: int
    lobby_frames: int
    started_at: datetime
    ended_at: datetime
    real_seconds: float
    sc2reader_real_seconds: int
    events: dict[str, int]
    summaries: int
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def clock_drift_seconds(self) -> float:
        """Computed length minus sc2reader's whole-second ``real_length`` (0 ≤ drift < 1 when consistent)."""
        return self.real_seconds - self.sc2reader_real_seconds


@dataclass(frozen=True)
class Sc2ImportResult:
    """Totals of one :func:`import_sc2` call.

    Attributes:
        files_written: output files, in input order (gameplay, then ability, per replay).
        per_replay: one :class:`Sc2ReplayResult` per input replay.
    """

    files_written: list[Path]
    per_replay: list[Sc2ReplayResult]

    @property
    def events(self) -> dict[str, int]:
        total = dict.fromkeys(GAMEPLAY_TYPES, 0)
        for replay in self.per_replay:
            for kind, n in replay.events.items():
                total[kind] += n
        return total

    @property
    def summaries(self) -> int:
        return sum(r.summaries for r in self.per_replay)

    def __str__(self) -> str:
        lines = []
        for r in self.per_replay:
            counts = ", ".join(f"{k} {v}" for k, v in r.events.items() if v)
            lines.append(f"{r.source.name} → {r.gameplay_output.name}: {r.players} player(s), "
                         f"{r.started_at:%Y-%m-%d %H:%M:%S}Z + {r.real_seconds:.1f} s (sc2reader "
                         f"{r.sc2reader_real_seconds} s); {counts}; {r.summaries} ability summaries")
        counts = ", ".join(f"{k} {v}" for k, v in self.events.items())
        lines.append(f"total: {len(self.per_replay)} replay(s) → {sum(self.events.values())} gameplay events "
                     f"({counts}) + {self.summaries} ability summaries in {len(self.files_written)} file(s)")
        return "\n".join(lines)


# mapping helpers ------------------------------------------------------------------------------------------
def loops_per_real_second(speed: str) -> float:
    """Game loops per real second at ``speed``: 16 loops per game second × game seconds per real second.

    Args:
        speed: sc2reader's ``replay.speed`` (``Faster`` for every ladder game: 22.4 loops/s).

    Raises:
        ValueError: an unknown speed name.
    """
    try:
        return GAME_LOOPS_PER_GAME_SECOND * SPEED_FACTOR[speed]
    except KeyError:
        raise ValueError(f"unknown game speed {speed!r} (known: {', '.join(SPEED_FACTOR)})") from None


def match_id_of(path: Path) -> str:
    """First 16 hex digits of the replay file's sha256: the match id (same file → same id)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def is_ability_cast(event: Any) -> bool:
    """True when a game event counts as one ability cast (the definition the tests recompute).

    An ability cast is a ``CommandEvent`` (basic, target-point, target-unit or data command) that names an
    ability (``has_ability``). Not counted: commands without an ability (plain right-clicks / smart commands)
    and ``UpdateTargetPointCommandEvent`` / ``UpdateTargetUnitCommandEvent``, which re-target a command already
    issued (counting them would count one order twice). ``CommandManagerStateEvent`` is not a
    ``CommandEvent`` and is not counted either.
    """
    from sc2reader.events.game import (CommandEvent, UpdateTargetPointCommandEvent,
                                       UpdateTargetUnitCommandEvent)

    return (isinstance(event, CommandEvent)
            and not isinstance(event, (UpdateTargetPointCommandEvent, UpdateTargetUnitCommandEvent))
            and bool(event.has_ability))


def ability_label(event: Any) -> str:
    """The ability's name, or ``id_<ability_id>`` when sc2reader's data for the build does not know it."""
    return event.ability_name or f"id_{event.ability_id}"


def ability_entry(label: str) -> str:
    """docs/requirements/ability.md entry for an ability label: ``ability.<snake_case>`` (``TrainSCV`` → ``ability.train_scv``)."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", label)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower()
    text = re.sub(r"[^a-z0-9_]+", "_", text).strip("_") or "unknown"
    return f"ability.{text}"[:128]


def _target_kind(event: Any) -> str:
    return {"TargetPoint": "point", "TargetUnit": "unit"}.get(event.ability_type, "none")


def _is_human(player: Any) -> bool:
    return (player is not None and getattr(player, "is_human", False) and bool(getattr(player, "toon_handle", ""))
            and not getattr(player, "is_observer", False) and type(player).__name__ == "Participant")


def header_frames(replay: Any) -> int:
    """Game loops the replay recorded, from the MPQ user-data header (before any sc2reader plugin re-basing).

    sc2reader's GameHeart plugin moves frame 0 of a GameHeart replay (an in-game tournament lobby) to the
    moment the match really began and lowers ``replay.frames`` accordingly; the header keeps the recording's
    full length, which is what the replay's end time and ``real_length`` refer to.
    """
    from sc2reader.decoders import BitPackedDecoder

    return int(BitPackedDecoder(replay.archive.header["user_data_header"]["content"]).read_struct()[3])


#: First build whose replays sc2reader times as Legacy of the Void (its ``length`` is already in real seconds).
LOTV_TIMING_BUILD = 34784


def sc2reader_real_seconds(replay: Any) -> int:
    """The replay's real length as sc2reader reports it, whole seconds: the clock check's reference.

    sc2reader's ``real_length``, except for Wings/Heart-of-the-Swarm games recorded by a client of build
    34784 or later (release 3.0+, e.g. the three 3.0.0.38215 replays of the shared sample): sc2reader already
    divides their ``length`` by 1.4 (its Legacy-of-the-Void timing) and then divides ``real_length`` by the
    HotS speed factor again, which would make the match 1.4× too short. For them ``length`` is the real length.
    """
    if replay.build >= LOTV_TIMING_BUILD and replay.expansion in ("WoL", "HotS"):
        return int(replay.length.seconds)
    return int(replay.real_length.seconds)


def load_replay(path: Path) -> Any:
    """Parse a replay with sc2reader at load level 4 (header, details, game, message and tracker events).

    Raises:
        SourceFileError: the file is missing, not a replay, or sc2reader cannot parse it.
        MissingExtra: sc2reader is not installed (the ``importers`` extra).
    """
    sc2reader = import_optional("sc2reader", "importers")

    try:
        return sc2reader.load_replay(str(path), load_level=4)
    except FileNotFoundError:
        raise SourceFileError("sc2", str(path), None, "no such file") from None
    except Exception as error:  # sc2reader raises many unrelated types for damaged files
        raise SourceFileError("sc2", str(path), None, f"sc2reader cannot parse it: {type(error).__name__}: {error}") from error


# conversion -----------------------------------------------------------------------------------------------
@dataclass
class _Pending:
    frame: int
    rank: int  # 0 session_start, 1 in-game events, 2 session_end: the order within one game loop
    order: int
    pid: int
    event: dict[str, Any]


def convert_replay(path: Path, out_dir: Path, *, summaries: bool = True) -> Sc2ReplayResult:
    """Convert one replay into ``<out_dir>/sc2_<match_id>.gameplay.jsonl`` (+ ``.ability.jsonl``).

    Lines are compact JSON, gameplay events in game order. Events carry no ``event_id``: the ingest derives it
    from (``player_id``, ``client_guid``, ``seq``) (docs/requirements/gameplay.md#dedup), and those are deterministic, so a re-import of the
    same replay deduplicates. Files are written to a temporary name and renamed.

    Args:
        path: a ``.SC2Replay`` file.
        out_dir: output folder (created when missing; existing outputs for the match are replaced).
        summaries: also write the ability metric summaries (docs/requirements/ability.md#wire-format ``metric_summary``).

    Returns:
        What was written, with the clock check figures.

    Raises:
        SourceFileError: unreadable replay, unknown game speed, or a computed length that disagrees with
            sc2reader's ``real_length`` by more than :data:`MAX_CLOCK_DRIFT_SECONDS`.
        MissingExtra: sc2reader is not installed (the ``importers`` extra).
    """
    require("importers")
    from sc2reader.events.game import PlayerLeaveEvent
    from sc2reader.events.message import ChatEvent
    from sc2reader.events.tracker import PlayerStatsEvent, UnitDiedEvent

    path = Path(path)
    if not path.is_file():
        raise SourceFileError("sc2", str(path), None, "no such file")
    match_id = match_id_of(path)
    replay = load_replay(path)
    try:
        lps = loops_per_real_second(replay.speed)
    except ValueError as error:
        raise SourceFileError("sc2", str(path), None, str(error)) from None
    frames = int(replay.frames)
    recorded = header_frames(replay)
    offset = recorded - frames  # > 0 only for GameHeart lobbies: sc2reader re-bases their events on the match start
    if offset < 0:
        raise SourceFileError("sc2", str(path), None, f"replay header says {recorded} game loops but the events run to {frames}")
    ended_at = replay.end_time.astimezone(timezone.utc)
    real_seconds = recorded / lps
    reference = sc2reader_real_seconds(replay)
    if abs(real_seconds - reference) > MAX_CLOCK_DRIFT_SECONDS:
        raise SourceFileError("sc2", str(path), None, f"computed length {real_seconds:.1f} s (header game loops {recorded} / "
                                        f"{lps} loops/s) disagrees with sc2reader's real_length {reference} s")
    recording_started_at = ended_at - timedelta(seconds=real_seconds)
    started_at = recording_started_at + timedelta(seconds=offset / lps)

    def ts_ms(frame: int) -> int:
        return int(round((started_at + timedelta(seconds=frame / lps)).timestamp() * 1000))

    humans = {p.pid: p for p in replay.players if _is_human(p)}
    computers = [p for p in replay.players if not _is_human(p)]
    leave: dict[int, int] = {}
    for event in replay.events:
        if isinstance(event, PlayerLeaveEvent) and _is_human(event.player) and event.player.pid in humans:
            leave.setdefault(event.player.pid, event.frame)
    end_frame = {pid: min(leave.get(pid, frames), frames) for pid in humans}

    def client(pid: int) -> str:
        return str(uuid.uuid5(SC2_NAMESPACE, f"{match_id}/{pid}"))

    def session(pid: int) -> str:
        return str(uuid.uuid5(SC2_NAMESPACE, f"{match_id}/{pid}/session"))

    skipped: Counter = Counter()
    pending: list[_Pending] = []

    def add(frame: int, rank: int, pid: int, body: dict[str, Any]) -> None:
        if rank == 1 and frame > end_frame[pid]:
            skipped["after_leave"] += 1
            return
        pending.append(_Pending(frame, rank, len(pending), pid, body))

    game_mode = "_".join(x for x in (str(replay.category or "").lower(), str(replay.type or "").lower()) if x) or None
    for pid, player in humans.items():
        start = {"event_type": "session_start", "build": replay.release_string, "shard": replay.region or None,
                 "region": getattr(player, "region", None) or replay.region or None,
                 "character_class": (player.play_race or "").lower() or None, "game_mode": game_mode}
        add(0, 0, pid, start)
        left_early = pid in leave and leave[pid] < frames
        end = {"event_type": "session_end", "build": replay.release_string,
               "end_reason": "left" if left_early else "match_end",
               "match_result": _RESULT.get(player.result, "undecided")}
        add(end_frame[pid], 2, pid, end)

    casts: dict[tuple[int, str], int] = defaultdict(int)
    for event in replay.events:
        if isinstance(event, UnitDiedEvent):
            unit = event.unit
            owner = getattr(unit, "owner", None) if unit is not None else None
            killer = event.killing_player
            # Combat = a player's unit killed by another player. Lobby teams are not used: they are wrong in
            # GameHeart replays and meaningless in some arcade maps; kills among allies are rare in melee.
            enemy = owner is not None and killer is not None and owner is not killer
            if not enemy:
                if _is_human(owner) or _is_human(killer):
                    skipped["non_combat_death"] += 1
                continue
            unit_name = getattr(unit, "name", None) or None
            killing_unit = getattr(event, "killing_unit", None)
            if _is_human(killer) and killer.pid in humans:
                add(event.frame, 1, killer.pid, {
                    "event_type": "engage_enemy", "enemy_type": unit_name or "unknown",
                    "enemy_controller": "player" if _is_human(owner) else "npc", "outcome": "win"})
            if _is_human(owner) and owner.pid in humans:
                body = {"event_type": "death", "unit_type": unit_name,
                        "killer_type": getattr(killing_unit, "name", None) or None,
                        "killer_controller": "player" if _is_human(killer) else "npc"}
                if _is_human(killer):
                    body["killer_player_id"] = killer.toon_handle
                add(event.frame, 1, owner.pid, body)
            continue
        player = getattr(event, "player", None)
        if isinstance(event, PlayerStatsEvent):
            if not _is_human(player) or player.pid not in humans:
                skipped["not_a_player"] += 1
                continue
            add(event.frame, 1, player.pid, {"event_type": "client_tick", "tick": int(event.frame), "economy": {
                "resources_current": event.minerals_current + event.vespene_current,
                "income_per_minute": event.minerals_collection_rate + event.vespene_collection_rate,
                "workers": int(event.workers_active_count),
                "supply_used": float(event.food_used), "supply_cap": float(event.food_made),
                "army_value": event.minerals_used_active_forces + event.vespene_used_active_forces,
                "resources_killed": event.resources_killed, "resources_lost": event.resources_lost}})
            continue
        if isinstance(event, ChatEvent):
            if not _is_human(player) or player.pid not in humans:
                skipped["not_a_player"] += 1
                continue
            add(event.frame, 1, player.pid, {"event_type": "chat_message",
                                              "channel": _CHAT_CHANNEL.get(event.target, "other"),
                                              "text": event.text or ""})
            continue
        if is_ability_cast(event):
            if not _is_human(player) or player.pid not in humans:
                skipped["not_a_player"] += 1
                continue
            if event.frame > end_frame[player.pid]:
                skipped["after_leave"] += 1
                continue
            label = ability_label(event)
            casts[(player.pid, label)] += 1
            add(event.frame, 1, player.pid, {
                "event_type": "ability_cast", "ability_id": str(event.ability_id),
                "ability_name": event.ability_name or None, "target_kind": _target_kind(event),
                "is_queued": bool(event.flag.get("queued", False))})
            continue
        if type(event).__name__.endswith("CommandEvent") and "Update" in type(event).__name__:
            skipped["update_command"] += 1
        elif type(event).__name__.endswith("CommandEvent"):
            skipped["no_ability"] += 1

    pending.sort(key=lambda p: (p.frame, p.rank, p.order))
    seq: Counter = Counter()
    counts = dict.fromkeys(GAMEPLAY_TYPES, 0)
    lines: list[bytes] = []
    for item in pending:
        player = humans[item.pid]
        body = {k: v for k, v in item.event.items() if v is not None}
        line = {"event_type": body.pop("event_type"), "schema_version": SCHEMA_VERSION,
                "player_id": player.toon_handle, "client_guid": client(item.pid), "seq": seq[item.pid],
                "ts_ms": ts_ms(item.frame), "session_id": session(item.pid), "match_id": match_id, **body}
        seq[item.pid] += 1
        counts[line["event_type"]] += 1
        lines.append(orjson.dumps(line))

    out_dir = Path(out_dir)
    gameplay_output = out_dir / f"sc2_{match_id}.gameplay.jsonl"
    write_lines_atomic(gameplay_output, lines)
    ability_output = None
    n_summaries = 0
    if summaries:
        summary_lines = []
        for (pid, label), n in sorted(casts.items()):
            player = humans[pid]
            window = end_frame[pid] / lps  # the player's time in the match, seconds
            summary_lines.append(orjson.dumps({
                "v": 1, "ts": round((started_at + timedelta(seconds=window)).timestamp(), 3),
                "shard": replay.region or "unknown", "player": player.toon_handle, "entry": ability_entry(label),
                "metrics": {"casts": n, "window_seconds": round(window, 3)},
                "meta": {"tier": ABILITY_TIER, "tags": [t for t in ("sc2", (player.play_race or "").lower()) if t]},
            }))
        ability_output = out_dir / f"sc2_{match_id}.ability.jsonl"
        write_lines_atomic(ability_output, summary_lines)
        n_summaries = len(summary_lines)
    return Sc2ReplayResult(
        source=path, match_id=match_id, gameplay_output=gameplay_output, ability_output=ability_output,
        release=replay.release_string, players=len(humans), computers=len(computers), frames=frames,
        lobby_frames=offset,
        started_at=started_at, ended_at=ended_at, real_seconds=real_seconds, sc2reader_real_seconds=reference,
        events=counts, summaries=n_summaries, skipped=dict(skipped))




def replay_files(paths: Sequence[Path]) -> list[Path]:
    """Expand folders into their ``*.SC2Replay`` files (sorted); files are kept as given.

    Raises:
        SourceFileError: a path does not exist, or a folder holds no replay.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".sc2replay")
            if not found:
                raise SourceFileError("sc2", str(path), None, "folder holds no .SC2Replay file")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise SourceFileError("sc2", str(path), None, "no such file or folder")
    return files


def import_sc2(paths: Sequence[Path], out_dir: Path, *, summaries: bool = True) -> Sc2ImportResult:
    """Convert StarCraft II replays (files or folders of them) into gameplay and ability JSON-lines.

    One output pair per replay (``sc2_<match_id>.gameplay.jsonl``, ``sc2_<match_id>.ability.jsonl``); the
    ingest makes each file one batch. Ingest them with ``--backfill``: the matches are years old (history,
    not late data).

    Args:
        paths: replay files or folders (searched recursively for ``*.SC2Replay``).
        out_dir: folder for the JSON-lines files.
        summaries: also write the docs/requirements/ability.md#wire-format ability summaries.

    Raises:
        SourceFileError: a missing path, an unreadable replay or a failed clock check (replays converted before
            the failing one stay written).
    """
    per_replay = [convert_replay(p, out_dir, summaries=summaries) for p in replay_files(paths)]
    written: list[Path] = []
    for r in per_replay:
        written.append(r.gameplay_output)
        if r.ability_output is not None:
            written.append(r.ability_output)
    return Sc2ImportResult(files_written=written, per_replay=per_replay)
