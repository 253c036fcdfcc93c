"""``telemetry schemas``: list, check and generate from the registry."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import PROJECT_ROOT
from ..errors import CheckFailed
from ..registry.schema import check_registry
from .options import data_dir_option, key_options, keyring, load_registry, schemas_option


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


@schemas.command("draft")
@click.option("--from-quarantine", "event_type", required=True, metavar="EVENT_TYPE",
              help="Event type whose events were quarantined: as unknown_event_type (a new type, e.g. level_up), "
                   "or as schema_violation (a registry type: its next minor version is proposed).")
@click.option("--family", help="Family to draft for (default: the family whose route claims the samples).")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True, help="Samples to learn from.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the draft here (default: stdout).")
@data_dir_option
@schemas_option
@key_options
def schemas_draft(event_type: str, family: str | None, limit: int, out: Path | None, data_dir: Path,
                  schemas_dir: Path, hash_key_file: Path | None, demo_key: bool) -> None:
    """Propose a schema for EVENT_TYPE from its quarantined samples (inferred with genson), for a person to review.

    A new type (samples quarantined as unknown_event_type): save the reviewed draft as
    schemas/<family>/<event_type>/1.0.json, run `telemetry schemas check` and `telemetry schemas sources`, then
    `telemetry quarantine replay` lands the quarantined events. A registry type (samples quarantined as
    schema_violation): the draft is its next minor version with the samples' extra fields as optional
    properties; what a minor version cannot fix (missing required fields, wrong types) is listed on stderr.
    """
    import json

    from ..errors import UsageError
    from ..lake.layout import Lake
    from ..pipeline.quarantine_samples import misfit_samples, unknown_type_samples
    from ..registry.draft import draft_minor_version, draft_schema

    registry = load_registry(schemas_dir)
    if family is not None and family not in registry.families:
        raise UsageError(f"no family {family!r} in {schemas_dir}")
    name = event_type.lower()
    lake, keys = Lake(data_dir / "lake"), keyring(demo_key, hash_key_file)
    known = [f for f in ([registry.families[family]] if family else registry.families.values())
             if name in f.event_types()]
    left: list[tuple[str, str, int]] = []
    if known:
        schema = known[0].latest(name)
        samples = misfit_samples(lake, keys, schema.qualified_type, limit)
        document, left = draft_minor_version(schema, samples)
    else:
        samples = unknown_type_samples(registry, lake, keys, event_type, limit)
        document = draft_schema(registry, name, samples, registry.families.get(family or ""))
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
    note = document["x-telemetry"]
    click.echo(f"draft from {len(samples)} sample(s); review it, then save it as "
               f"schemas/{note['family']}/{name}/{note['version']}.json", err=True)
    for pointer, keyword, count in left:
        click.echo(f"not fixable in a minor version: {keyword} at {pointer} in {count} sample(s) "
                   "(fix the producer, or publish a major version)", err=True)
