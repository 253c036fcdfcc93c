"""``telemetry tokens``: create and list the collector's API tokens."""

from __future__ import annotations

from pathlib import Path

import click

from ..collector.tokens import SCOPES, TIERS, TOKENS_FILE_ENV, TokenStore, tokens_file


def _tokens_file_option(function):
    return click.option("--tokens-file", "path", type=click.Path(dir_okay=False, path_type=Path),
                        envvar=TOKENS_FILE_ENV, show_envvar=True,
                        help="Tokens file (keep it outside the repository).")(function)


@click.group()
def tokens() -> None:
    """API tokens for `telemetry serve` (stored as SHA-256 digests only)."""


@tokens.command("create")
@click.argument("name")
@click.option("--scope", "scope", default="ingest", show_default=True,
              help=f"Comma-separated scopes: {', '.join(SCOPES)}.")
@click.option("--tier", type=click.Choice(TIERS), default="viewer", show_default=True,
              help="Access tier for the read API: engineer sees every column, analyst hashed ids, viewer neither.")
@click.option("--company", metavar="ID", help="Bind the token to one companyId: it reads only that company's rows.")
@_tokens_file_option
def create(name: str, scope: str, tier: str, company: str | None, path: Path | None) -> None:
    """Create token NAME and print it (once: only its digest is stored) alone on the last line of stdout."""
    store = TokenStore.load(tokens_file(path), missing_ok=True)
    secret = store.create(name, tuple(s.strip() for s in scope.split(",") if s.strip()), tier, company)
    click.echo(f"created token {name!r} (scopes {scope}, tier {tier}"
               f"{', company ' + company if company else ''}) in {store.path}; it is shown once:", err=True)
    click.echo(secret)


@tokens.command("list")
@_tokens_file_option
def list_(path: Path | None) -> None:
    """List tokens: name, scopes, tier, company (never the secrets)."""
    for token in TokenStore.load(tokens_file(path)).tokens:
        click.echo(f"{token.name}\t{','.join(token.scopes)}\t{token.tier}\t{token.company or '-'}\t{token.created_at or ''}")
