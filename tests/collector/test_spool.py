"""The spool on its own: concurrent appends land whole and once, rotation seals complete lines, recovery cuts a
torn tail and never touches a file a live writer holds."""

from __future__ import annotations

import os
import threading

from click.testing import CliRunner


def test_concurrent_appends_rotate_into_whole_lines(tmp_path):
    from ingest.collector.spool import Spool, sealed_files

    spool = Spool(tmp_path / "spool", max_bytes=4096, max_seconds=60)

    def writer(thread: int) -> None:
        for i in range(50):
            spool.append(b'{"t": %d, "i": %d, "pad": "%s"}\n' % (thread, i, b"x" * 40))

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    spool.close()
    files = sealed_files(tmp_path / "spool")
    assert len(files) > 5  # rotated by size
    lines = [line for f in files for line in f.read_bytes().split(b"\n")[:-1]]
    assert all(f.read_bytes().endswith(b"\n") for f in files)
    assert sorted(lines) == sorted(b'{"t": %d, "i": %d, "pad": "%s"}' % (t, i, b"x" * 40)
                                   for t in range(8) for i in range(50))
    assert spool.fsyncs <= 400 and not list((tmp_path / "spool").glob("*.part"))
    assert all((f.stat().st_mode & 0o077) == 0 for f in files)


def test_recover_cuts_a_torn_tail_and_skips_a_live_file(tmp_path):
    from ingest.collector.spool import Spool, recover

    root = tmp_path / "spool"
    live = Spool(root, max_seconds=60)
    live.append(b'{"live": 1}\n')
    dead = root / "20260101T000000000000-999999-000001.jsonl.part"
    dead.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": 3, "torn')
    empty = root / "20260101T000000000000-999999-000002.jsonl.part"
    empty.write_bytes(b'{"never": "finished')
    sealed = recover(root)
    assert [p.name for p in sealed] == ["20260101T000000000000-999999-000001.jsonl"]
    assert sealed[0].read_bytes() == b'{"a": 1}\n{"b": 2}\n'
    assert not empty.exists()
    assert len(list(root.glob("*.part"))) == 1  # the live writer's file is untouched
    live.close()


def test_ingest_spool_lands_a_dead_servers_files_once(tmp_path):
    import orjson

    from collector_support import lake_counts, landed_event_ids, learning_event
    from ingest.cli.main import main

    root = tmp_path / "data" / "spool"
    root.mkdir(parents=True)
    events = [learning_event(i) for i in range(5)]
    (root / "20260101T000000000000-999999-000001.jsonl.part").write_bytes(
        b"".join(orjson.dumps(e) + b"\n" for e in events) + b'{"event_id": "evt-torn')
    result = CliRunner().invoke(main, ["ingest", "--spool", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert sorted(landed_event_ids(tmp_path / "data")) == [f"evt-{i}" for i in range(5)]
    again = CliRunner().invoke(main, ["ingest", "--spool", "--data-dir", str(tmp_path / "data")])
    assert again.exit_code == 0 and lake_counts(tmp_path / "data")["batches"] == 1
    assert os.listdir(root) == []
    both = CliRunner().invoke(main, ["ingest", "--spool", "x.jsonl", "--data-dir", str(tmp_path / "data")])
    assert both.exit_code == 2


def test_serve_refuses_to_start_without_a_tokens_file(tmp_path, monkeypatch):
    from ingest.cli.main import main

    monkeypatch.delenv("TELEMETRY_TOKENS_FILE", raising=False)
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2 and "tokens" in result.output
    missing = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "data"),
                                        "--tokens-file", str(tmp_path / "none.json")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
