"""The dashboards on Apache Superset, provisioned from the repository (docs/bi.md). Runs in ``.venv-bi``.

    python bi/superset_bi.py run      [--data-dir D] [--host H] [--port N]   what `make bi` runs: prepare, then serve
    python bi/superset_bi.py prepare  [--data-dir D]                         set up and load, do not serve
    python bi/superset_bi.py serve    [--data-dir D] [--host H] [--port N]   serve (after prepare)
    python bi/superset_bi.py export   [--data-dir D]                         write the dashboards back to bi/assets/

``prepare``:
1. checks that the demo (or a build) published the marts: ``<data_dir>/marts/*.parquet``;
2. writes ``<data_dir>/bi/marts.duckdb``, a DuckDB database of one view per published mart over its Parquet
   file (the warehouse's own ``warehouse.duckdb`` and its writer lock are never touched; Superset opens this
   file read-only, and a rebuild's newly published files show at the next query);
3. generates ``<data_dir>/bi/secret_key`` once (mode 0600), upgrades Superset's metadata database
   ``<data_dir>/bi/superset.db`` and syncs its roles;
4. creates the ``admin`` user: password from ``$SUPERSET_ADMIN_PASSWORD`` (set again at each run that gives
   it), else generated once, printed and kept in ``<data_dir>/bi/admin_password`` (mode 0600);
5. imports every database, dataset, chart and dashboard of ``bi/assets/`` (Superset's export format),
   overwriting what the metadata database holds for the same uuids.

Exit codes: 0 ok, 2 the demo's data is missing, 1 a Superset step failed (its log is ``<data_dir>/bi/setup.log``).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ASSETS = HERE / "assets"
ADMIN = "admin"
DEFAULT_PORT = 8088
ASSET_FOLDERS = ("databases/", "datasets/", "charts/", "dashboards/")


class SetupError(Exception):
    """A step failed; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def data_dir_of(value: str | None) -> Path:
    return Path(value or os.environ.get("TELEMETRY_DATA_DIR") or REPO / "data").resolve()


def environment(data_dir: Path) -> dict[str, str]:
    """The environment every Superset process of this data directory runs with."""
    return {**os.environ, "TELEMETRY_DATA_DIR": str(data_dir), "SUPERSET_CONFIG_PATH": str(HERE / "superset_config.py"),
            "FLASK_APP": "superset", "SUPERSET_HOME": str(data_dir / "bi" / "home")}


def _private_file(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text + "\n", encoding="utf-8")


def published_marts(data_dir: Path) -> list[Path]:
    """The mart files under ``<data_dir>/marts``; raises SetupError (exit 2) when there are none."""
    marts = sorted(p for p in (data_dir / "marts").glob("*.parquet") if not p.name.startswith((".", "_")))
    if not marts:
        raise SetupError(f"no published marts in {data_dir / 'marts'}: run `make demo` first "
                         "(or `telemetry dbt build`, which publishes them)", code=2)
    return marts


def write_views(data_dir: Path, marts: list[Path]) -> Path:
    """``<data_dir>/bi/marts.duckdb``: one view per mart over its Parquet file, written aside and renamed."""
    import duckdb

    target = data_dir / "bi" / "marts.duckdb"
    scratch = target.with_name(".marts.duckdb.tmp")
    scratch.unlink(missing_ok=True)
    with duckdb.connect(str(scratch)) as con:
        for path in marts:
            literal = str(path).replace("'", "''")
            con.execute(f'create view "{path.stem}" as select * from read_parquet(\'{literal}\')')
    os.replace(scratch, target)
    return target


def _superset(args: list[str], env: dict[str, str], log: Path) -> None:
    command = [str(Path(sys.executable).with_name("superset")), *args]
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ superset {' '.join(args)}\n")
        out.flush()
        done = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SetupError(f"`superset {' '.join(args)}` failed (exit {done.returncode}); see {log}")


def read_assets(marts_db: Path) -> dict[str, str]:
    """``bi/assets/`` as Superset's import contents (path in the bundle → YAML text), with the marts database's
    URI pointing at ``marts_db`` and opened read-only."""
    contents = {"metadata.yaml": (ASSETS / "metadata.yaml").read_text(encoding="utf-8")}
    for path in sorted(ASSETS.rglob("*.yaml")):
        name = path.relative_to(ASSETS).as_posix()
        if name.startswith(ASSET_FOLDERS):
            contents[name] = path.read_text(encoding="utf-8")
    database = yaml.safe_load(contents["databases/marts.yaml"])
    database["sqlalchemy_uri"] = f"duckdb:///{marts_db}"
    database.setdefault("extra", {}).setdefault("engine_params", {}).setdefault("connect_args", {})["read_only"] = True
    contents["databases/marts.yaml"] = yaml.safe_dump(database, sort_keys=False)
    return contents


def asset_tables() -> dict[str, bool]:
    """Table name → True for a physical dataset (a mart), False for a virtual one (SQL over the marts)."""
    tables = {}
    for path in (ASSETS / "datasets").rglob("*.yaml"):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        tables[config["table_name"]] = not config.get("sql")
    return tables


def _create_app(env: dict[str, str]):
    os.environ.update({k: env[k] for k in ("TELEMETRY_DATA_DIR", "SUPERSET_CONFIG_PATH", "SUPERSET_HOME")})
    from superset.app import create_app

    return create_app()


def load(env: dict[str, str], contents: dict[str, str], password: str, reset: bool) -> tuple[int, int]:
    """Create the admin user (or reset its password when ``reset``) and import the assets, in one Superset app;
    returns (dashboards, charts)."""
    app = _create_app(env)
    with app.app_context():
        from flask import g
        from superset import db, security_manager
        from superset.commands.importers.v1.assets import ImportAssetsCommand

        user = security_manager.find_user(username=ADMIN)
        if user is None:
            user = security_manager.add_user(ADMIN, "Telemetry", "Admin", "admin@localhost",
                                             security_manager.find_role("Admin"), password=password)
            if not user:
                raise SetupError("could not create the admin user")
        elif reset:
            security_manager.reset_password(user.id, password)
        g.user = user
        ImportAssetsCommand(contents).run()
        db.session.commit()
    return (sum(n.startswith("dashboards/") for n in contents), sum(n.startswith("charts/") for n in contents))


def prepare(data_dir: Path, echo=print) -> None:
    """Steps 1–5 of the module docstring."""
    marts = published_marts(data_dir)
    bi = data_dir / "bi"
    (bi / "home").mkdir(parents=True, exist_ok=True)
    log = bi / "setup.log"
    log.write_text("", encoding="utf-8")
    secret = bi / "secret_key"
    if not secret.exists():
        _private_file(secret, secrets.token_urlsafe(48))
        echo(f"bi: generated Superset's secret key → {secret}")
    marts_db = write_views(data_dir, marts)
    published = {p.stem for p in marts}
    missing = sorted(t for t, physical in asset_tables().items() if physical and t not in published)
    echo(f"bi: {len(marts)} published marts as read-only views → {marts_db}")
    if missing:
        echo(f"bi: warning: not published yet, their charts show an error until a build makes them: {', '.join(missing)}")
    env = environment(data_dir)
    version = _superset_version()
    stamp = bi / f".metadata-{version}"
    if not stamp.exists():
        echo(f"bi: initialising Superset {version}'s metadata database → {bi / 'superset.db'} (once; log: {log})")
        _superset(["db", "upgrade"], env, log)
        _superset(["init"], env, log)
        stamp.touch()
    password_file = bi / "admin_password"
    given = os.environ.get("SUPERSET_ADMIN_PASSWORD") or None
    generated = given is None and not password_file.exists()
    if generated:
        _private_file(password_file, secrets.token_urlsafe(12))
    elif given is not None:
        password_file.unlink(missing_ok=True)  # the environment's password replaces a generated one
    password = given or password_file.read_text(encoding="utf-8").strip()
    dashboards, charts = load(env, read_assets(marts_db), password, reset=generated or given is not None)
    echo(f"bi: loaded {dashboards} dashboards and {charts} charts from {ASSETS.relative_to(REPO)}/")
    if generated:
        echo(f"bi: user `{ADMIN}`, generated password: {password}  (kept in {password_file})")
    elif os.environ.get("SUPERSET_ADMIN_PASSWORD"):
        echo(f"bi: user `{ADMIN}`, password from $SUPERSET_ADMIN_PASSWORD")
    else:
        echo(f"bi: user `{ADMIN}`, password in {password_file}")


def _superset_version() -> str:
    from importlib.metadata import version

    return version("apache-superset")


def serve(data_dir: Path, host: str, port: int, echo=print) -> None:
    """Replace this process by gunicorn serving Superset (one worker, threads: the machine is a laptop)."""
    published_marts(data_dir)
    if not (data_dir / "bi" / "superset.db").exists():
        raise SetupError(f"Superset is not set up for {data_dir}: run `make bi` (or `superset_bi.py prepare`)", code=2)
    env = environment(data_dir)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    echo(f"bi: dashboards on http://{host}:{port}/dashboard/list/  (Ctrl-C stops)", flush=True)
    os.execve(gunicorn, [gunicorn, "--bind", f"{host}:{port}", "--workers", "1", "--worker-class", "gthread",
                         "--threads", "8", "--timeout", "120", "--limit-request-line", "0",
                         "--limit-request-field_size", "0", "--log-level", "warning", "superset.app:create_app()"], env)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:80] or "unnamed"


def export(data_dir: Path, echo=print) -> None:
    """Write every dashboard of the metadata database, with its charts and datasets, back to ``bi/assets/``:
    a file whose uuid is already in the repository keeps its name; new ones are named after their title. The
    database file stays as it is in the repository (its URI is set at each load)."""
    env = environment(data_dir)
    app = _create_app(env)
    existing: dict[str, Path] = {}
    for path in ASSETS.rglob("*.yaml"):
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if "uuid" in config:
            existing[str(config["uuid"])] = path
    written = 0
    with app.app_context():
        from flask import g
        from superset import db, security_manager
        from superset.commands.dashboard.export import ExportDashboardsCommand
        from superset.models.dashboard import Dashboard

        g.user = security_manager.find_user(username=ADMIN)
        ids = [id_ for (id_,) in db.session.query(Dashboard.id).all()]
        for file_name, content in ExportDashboardsCommand(ids).run():
            if not file_name.startswith(("datasets/", "charts/", "dashboards/")):
                continue
            text = content()
            config = yaml.safe_load(text)
            target = existing.get(str(config.get("uuid")))
            if target is None:
                folder, rest = file_name.split("/", 1)
                stem = re.sub(r"_\d+$", "", Path(rest).stem)
                target = ASSETS / folder / ("marts" if folder == "datasets" else "") / f"{_slug(stem)}.yaml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written += 1
    echo(f"bi: wrote {written} files under {ASSETS.relative_to(REPO)}/ (review with `git diff`)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("command", choices=("run", "prepare", "serve", "export"))
    parser.add_argument("--data-dir", help="data directory (default $TELEMETRY_DATA_DIR, else ./data)")
    parser.add_argument("--host", default=os.environ.get("BI_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("BI_PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    data_dir = data_dir_of(args.data_dir)
    try:
        if args.command in ("run", "prepare"):
            prepare(data_dir)
        if args.command in ("run", "serve"):
            serve(data_dir, args.host, args.port)
        if args.command == "export":
            export(data_dir)
    except SetupError as error:
        print(f"bi: error: {error}", file=sys.stderr)
        return error.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
