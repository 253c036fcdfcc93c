"""Tests of the StarCraft II importer (ingest/importers/sc2.py; mapping in docs/importers/sc2.md).

Expected figures are computed here from sc2reader's own parse of the replays (players, commands, unit deaths,
leave times) with the definitions the docs state, never read back from the importer. A few small replays keep
the module fast: two games of the same player (sessions per player), a GameHeart lobby replay, a HotS game
recorded by a 3.0 client (sc2reader's double speed conversion) and a 7-second 2v2 with computer players.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from support import require_shared_data

REPLAYS = (
    "2.1.3.30508_12.SC2Replay",   # GGT vs the computer
    "2.1.4.32283_13.SC2Replay",   # GGT again, vs a human: 2 sessions for GGT
    "2.0.8.25604_08.SC2Replay",   # GameHeart lobby: events re-based on the real match start
    "3.0.0.38215_17.SC2Replay",   # HotS game recorded by a 3.0 client
    "4.11.0.77379_38.SC2Replay",  # 7 seconds, 2 humans + 5 computer players
)
LOOPS_PER_SECOND = 16 * 1.4  # Faster speed: 1.4 game seconds (16 loops each) per real second
MAX_DRIFT = 2.0  # seconds between the computed length and sc2reader's (docs/importers/sc2.md)


def parse(path: Path):
    import sc2reader

    return sc2reader.load_replay(str(path), load_level=4)


def humans(replay) -> dict[int, object]:
    return {p.pid: p for p in replay.players
            if type(p).__name__ == "Participant" and p.is_human and p.toon_handle}


def leave_frames(replay) -> dict[int, int]:
    from sc2reader.events.game import PlayerLeaveEvent

    people = humans(replay)
    out = {pid: replay.frames for pid in people}
    seen = set()
    for event in replay.events:
        if isinstance(event, PlayerLeaveEvent) and event.player is not None and getattr(event.player, "pid", None) in people:
            pid = event.player.pid
            if pid not in seen and type(event.player).__name__ == "Participant":
                out[pid] = min(event.frame, replay.frames)
                seen.add(pid)
    return out


def expected_from_sc2reader(path: Path) -> dict:
    """Per human handle: casts (total and per ability label), kills and deaths in this match, and leave frame."""
    from sc2reader.events.game import CommandEvent, UpdateTargetPointCommandEvent, UpdateTargetUnitCommandEvent
    from sc2reader.events.tracker import UnitDiedEvent

    replay = parse(path)
    people = humans(replay)
    leave = leave_frames(replay)
    casts: Counter = Counter()
    labels: dict[str, set] = {p.toon_handle: set() for p in people.values()}
    kills: Counter = Counter()
    deaths: Counter = Counter()
    for event in replay.events:
        if (isinstance(event, CommandEvent)
                and not isinstance(event, (UpdateTargetPointCommandEvent, UpdateTargetUnitCommandEvent))
                and event.has_ability and getattr(event.player, "pid", None) in people
                and type(event.player).__name__ == "Participant" and event.frame <= leave[event.player.pid]):
            handle = event.player.toon_handle
            casts[handle] += 1
            labels[handle].add(event.ability_name or f"id_{event.ability_id}")
        if isinstance(event, UnitDiedEvent) and event.unit is not None:
            owner, killer = event.unit.owner, event.killing_player
            if owner is None or killer is None or owner is killer:
                continue
            if getattr(killer, "pid", None) in people and killer is people[killer.pid] and event.frame <= leave[killer.pid]:
                kills[killer.toon_handle] += 1
            if getattr(owner, "pid", None) in people and owner is people[owner.pid] and event.frame <= leave[owner.pid]:
                deaths[owner.toon_handle] += 1
    return {"replay": replay, "handles": {p.toon_handle for p in people.values()},
            "names": {p.name for p in replay.players}, "casts": casts, "labels": labels, "kills": kills,
            "deaths": deaths, "leave": {people[pid].toon_handle: f for pid, f in leave.items()}}


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def replays_dir() -> Path:
    return require_shared_data("sc2") / "replays"


@pytest.fixture(scope="module")
def imported(replays_dir, tmp_path_factory):
    from ingest.importers.sc2 import import_sc2

    out = tmp_path_factory.mktemp("sc2")
    result = import_sc2([replays_dir / name for name in REPLAYS], out)
    return result, out


@pytest.fixture(scope="module")
def expected(replays_dir):
    return {name: expected_from_sc2reader(replays_dir / name) for name in REPLAYS}


def per_replay(imported, name):
    result, _ = imported
    return next(r for r in result.per_replay if r.source.name == name)


def test_sessions_per_player_across_matches(imported, expected):
    sessions: Counter = Counter()
    for name in REPLAYS:
        lines = read_lines(per_replay(imported, name).gameplay_output)
        sessions.update(e["player_id"] for e in lines if e["event_type"] == "session_start")
        assert Counter(e["player_id"] for e in lines if e["event_type"] == "session_end") == \
            Counter(e["player_id"] for e in lines if e["event_type"] == "session_start")
    want: Counter = Counter()
    for name in REPLAYS:
        want.update(expected[name]["handles"])
    assert sessions == want
    assert want["1-S2-1-637188"] == 2  # GGT plays replays 12 and 13


def test_ability_casts_kills_and_deaths_per_player_per_match(imported, expected):
    for name in REPLAYS:
        lines = read_lines(per_replay(imported, name).gameplay_output)
        want = expected[name]
        assert Counter(e["player_id"] for e in lines if e["event_type"] == "ability_cast") == +want["casts"], name
        assert Counter(e["player_id"] for e in lines if e["event_type"] == "engage_enemy") == +want["kills"], name
        assert Counter(e["player_id"] for e in lines if e["event_type"] == "death") == +want["deaths"], name


def test_ability_summaries_count_casts_per_ability(imported, expected, registry):
    for name in REPLAYS:
        item = per_replay(imported, name)
        summaries = read_lines(item.ability_output)
        want = expected[name]
        totals: Counter = Counter()
        lines_per_player: Counter = Counter()
        for summary in summaries:
            assert registry.resolve(summary).qualified_type == "ability_metric_summary"
            assert registry.resolve(summary).rejection(summary) is None, summary
            totals[summary["player"]] += summary["metrics"]["casts"]
            lines_per_player[summary["player"]] += 1
            assert summary["metrics"]["window_seconds"] == pytest.approx(want["leave"][summary["player"]] / LOOPS_PER_SECOND,
                                                                         abs=0.001)
        assert totals == +want["casts"], name
        assert lines_per_player == Counter({h: len(s) for h, s in want["labels"].items() if s}), name


def test_every_gameplay_line_validates_and_routes_to_gameplay(imported, registry):
    for name in REPLAYS:
        for line in read_lines(per_replay(imported, name).gameplay_output):
            schema = registry.resolve(line)
            assert schema.family == "gameplay", line
            assert schema.rejection(line) is None, line


def test_seq_is_dense_per_client_and_names_never_written(imported, expected):
    for name in REPLAYS:
        item = per_replay(imported, name)
        text = item.gameplay_output.read_text(encoding="utf-8") + item.ability_output.read_text(encoding="utf-8")
        for player_name in expected[name]["names"]:
            assert f'"{player_name}"' not in text
        seqs: dict[str, list[int]] = {}
        for line in read_lines(item.gameplay_output):
            seqs.setdefault(line["client_guid"], []).append(line["seq"])
        assert all(s == list(range(len(s))) for s in seqs.values())


def test_game_loops_become_wall_clock_time(imported, expected, replays_dir):
    """Loop → real time at 22.4 loops/s: a session lasts leave_loop / 22.4 s, the last loop is the replay's UTC end
    time (except GameHeart lobbies, re-based on the match start), and the match length agrees with MANIFEST.jsonl
    (start = end − sc2reader real_length) within its whole-second flooring — except for the HotS game recorded by
    a 3.0 client, where sc2reader's real_length is 1.4× too short."""
    manifest = {json.loads(line)["file"]: json.loads(line)
                for line in (replays_dir.parent / "MANIFEST.jsonl").read_text().splitlines()}
    for name in REPLAYS:
        item = per_replay(imported, name)
        want = expected[name]
        replay = want["replay"]
        lines = read_lines(item.gameplay_output)
        starts = {e["player_id"]: e["ts_ms"] for e in lines if e["event_type"] == "session_start"}
        ends = {e["player_id"]: e["ts_ms"] for e in lines if e["event_type"] == "session_end"}
        for handle, frame in want["leave"].items():
            assert ends[handle] - starts[handle] == pytest.approx(frame / LOOPS_PER_SECOND * 1000, abs=1), name
        end_ms = replay.end_time.timestamp() * 1000
        assert max(ends.values()) <= end_ms + 1
        m = manifest[name]
        manifest_seconds = (datetime.fromisoformat(m["end"]) - datetime.fromisoformat(m["start"])).total_seconds()
        if name.startswith("2.0.8.25604_08"):  # GameHeart: 809 lobby loops before the match
            assert item.lobby_frames > 0
            assert item.real_seconds == pytest.approx(manifest_seconds, abs=1.5)
            assert max(ends.values()) == pytest.approx(end_ms, abs=1)
        elif name.startswith("3.0.0.38215"):
            assert item.real_seconds / manifest_seconds == pytest.approx(1.4, abs=0.01)
            assert item.real_seconds == pytest.approx(replay.frames / LOOPS_PER_SECOND, abs=0.01)
        else:
            assert item.lobby_frames == 0
            assert item.real_seconds == pytest.approx(manifest_seconds, abs=1.5)
            assert max(ends.values()) == pytest.approx(end_ms, abs=1)
        assert 0 <= item.clock_drift_seconds < MAX_DRIFT



def test_rerun_is_byte_identical(imported, replays_dir, tmp_path):
    from ingest.importers.sc2 import convert_replay

    item = per_replay(imported, REPLAYS[0])
    again = convert_replay(replays_dir / REPLAYS[0], tmp_path)
    assert again.gameplay_output.read_bytes() == item.gameplay_output.read_bytes()
    assert again.ability_output.read_bytes() == item.ability_output.read_bytes()


def test_cli_and_errors(replays_dir, tmp_path):
    from click.testing import CliRunner

    from ingest.cli import main
    from ingest.errors import SourceFileError
    from ingest.importers.sc2 import import_sc2

    result = CliRunner().invoke(main, ["import", "sc2", str(replays_dir / REPLAYS[0]), "--out", str(tmp_path / "o"),
                                       "--no-ability-summaries"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "o").glob("*.gameplay.jsonl"))) == 1
    assert not list((tmp_path / "o").glob("*.ability.jsonl"))
    bad = tmp_path / "bad.SC2Replay"
    bad.write_bytes(b"not a replay")
    with pytest.raises(SourceFileError, match="cannot parse"):
        import_sc2([bad], tmp_path / "o2")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceFileError, match="no .SC2Replay"):
        import_sc2([empty], tmp_path / "o3")
    result = CliRunner().invoke(main, ["import", "sc2", str(bad), "--out", str(tmp_path / "o4")])
    assert result.exit_code == 1 and "cannot parse" in result.output  # a damaged replay is bad data
