"""``telemetry schemas``: list, check and generate from the registry."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import PROJECT_ROOT
from ..errors import CheckFailed
from ..registry.schema import check_registry
from .options import load_registry, schemas_option


@click.group()
def schemas() -> None:
    """Inspect and check the JSON Schema registry (schemas/)."""


@schemas.command("list")
@schemas_option
def schemas_list(schemas_dir: Path) -> None:
    """List every family, event type and version with its lake table and column count."""
    registry = load_registry(schemas_dir)
    click.echo(f"{'family':<10} {'event type':<28} {'version':<8} {'lake event_type':<36} columns")
    for schema in sorted(registry.schemas(), key=lambda s: (s.family, s.event_type, s.version)):
        click.echo(f"{schema.family:<10} {schema.event_type:<28} {schema.version:<8} {schema.qualified_type:<36} "
                   f"{len(schema.arrow_schema)}")


@schemas.command("check")
@schemas_option
@click.option("--against", "revision", metavar="REV",
              help="Also classify every schema changed since git revision REV (minor/major) and fail a wrong bump.")
def schemas_check(schemas_dir: Path, revision: str | None) -> None:
    """Check the registry: valid draft 2020-12, strict, unique $id, examples validate, mappings point at
    real fields. With --against REV, schema evolution too (added optional field = minor bump, anything else =
    major; published versions are never edited in place). Exit 1 when anything is wrong."""
    registry = load_registry(schemas_dir)
    problems = check_registry(registry)
    if revision is not None:
        from ..registry.evolution import check_evolution

        for finding in check_evolution(registry, revision):
            click.echo(str(finding))
            if not finding.ok:
                problems.append(str(finding))
    for problem in problems:
        click.echo(problem, err=True)
    count = len(registry.schemas())
    if problems:
        raise CheckFailed("schemas check", f"{len(problems)} problem(s) in {count} schemas")
    click.echo(f"ok: {count} schemas in {len(registry.families)} families")


@schemas.command("sources")
@schemas_option
@click.option("--check", is_flag=True, help="Only report stale files (exit 1), write nothing.")
def schemas_sources(schemas_dir: Path, check: bool) -> None:
    """Generate the dbt source files models/staging/<family>/_<family>__sources.yml and the registry macros
    macros/generated/registry.sql (families, event types, categories) from the registry."""
    from ..registry.dbt_sources import stale_files, write_source_files

    registry = load_registry(schemas_dir)
    if check:
        stale = stale_files(registry, PROJECT_ROOT)
        for path in stale:
            click.echo(f"stale: {path.relative_to(PROJECT_ROOT)} (run `telemetry schemas sources`)", err=True)
        if stale:
            raise CheckFailed("schemas sources --check", f"{len(stale)} generated file(s) are stale")
        return
    for path in write_source_files(registry, PROJECT_ROOT):
        click.echo(f"wrote {path.relative_to(PROJECT_ROOT)}")
