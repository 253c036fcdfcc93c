"""``telemetry serve``: the HTTP collector and read API."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import click

from ..collector.config import CollectorConfig
from ..collector.spool import land_all
from ..collector.tokens import TOKENS_FILE_ENV, TokenStore, tokens_file
from ..extras import require
from ..pipeline.service import batch_summary, ingest_settings
from .options import data_dir_option, key_options, keyring, load_registry, parse_as_of, schemas_option


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Server processes (each with its own spool file).")
@data_dir_option
@schemas_option
@key_options
@click.option("--tokens-file", "tokens_file_", type=click.Path(dir_okay=False, path_type=Path), envvar=TOKENS_FILE_ENV,
              show_envvar=True, help="Tokens file (digests, scopes, tiers); create tokens with `telemetry tokens create`.")
@click.option("--max-body-bytes", type=click.IntRange(min=1024), default=8 << 20, show_default=True,
              help="Larger request bodies (also after gzip decoding) are answered 413.")
@click.option("--token-rate", type=click.FloatRange(min=0.01), default=2000.0, show_default=True,
              help="Requests per second each token may make (answered 429 beyond).")
@click.option("--token-burst", type=click.FloatRange(min=1), default=4000.0, show_default=True,
              help="Requests a token may make at once before its rate applies.")
@click.option("--sdk-family", default="politics", show_default=True,
              help="Family that SDK events with a name the registry does not know are shaped for (then quarantined "
                   "as unknown_event_type until a schema is added).")
@click.option("--land-every", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Seconds between landings of the spool into the lake (0: only at shutdown).")
@click.option("--spool-seconds", type=click.FloatRange(min=0.01), default=2.0, show_default=True,
              help="A spool file is sealed for landing once it is this old (or 8 MB).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="CIDR",
              help="A proxy in front of the collector (address or network; repeatable): only requests from it have "
                   "X-Forwarded-For read for the client's country. Without one, the peer address is the client.")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(host: str, port: int, workers: int, data_dir: Path, schemas_dir: Path, hash_key_file: Path | None,
          demo_key: bool, tokens_file_: Path | None, max_body_bytes: int, token_rate: float, token_burst: float,
          sdk_family: str, land_every: float, spool_seconds: float, trusted_proxies: tuple[str, ...],
          log_level: str) -> None:
    """Serve the collector and the read API over HTTP (OpenAPI docs at /docs, GET /health).

    A request is answered only after its events are fsync'ed to the spool under DATA_DIR/spool; spool files
    land in the lake as batches through the same ingest and ledger as files (exactly once). On SIGTERM the
    server finishes the requests in flight, lands its spool and exits 0; `telemetry ingest --spool` lands what a
    killed server left. Every route but /health, /docs and /openapi.json takes `Authorization: Bearer <token>`
    (see `telemetry tokens create`).
    """
    import ipaddress

    require("collector")
    import uvicorn

    from ..collector.protocol import MAX_HEADER_BYTES

    for proxy in trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--trusted-proxy") from None
    registry = load_registry(schemas_dir)
    keys = keyring(demo_key, hash_key_file)
    path = tokens_file(tokens_file_)
    TokenStore.load(path)  # fail now, with exit 2, rather than in a worker
    config = CollectorConfig(data_dir=data_dir.resolve(), schemas_dir=schemas_dir.resolve(), tokens_file=path.resolve(),
                             hash_key_file=hash_key_file.resolve() if hash_key_file else None, demo_key=demo_key,
                             max_body_bytes=max_body_bytes, token_rate=token_rate, token_burst=token_burst,
                             sdk_family=sdk_family, spool_max_seconds=spool_seconds, land_every=land_every,
                             trusted_proxies=",".join(trusted_proxies))
    from ..collector.app import create_app

    create_app(config)  # the same checks a worker makes (registry, family), before the port opens

    def land(when: str) -> None:
        report = land_all(config.data_dir, ingest_settings(config.data_dir, registry, keys, parse_as_of(None)),
                          registry, on_batch=lambda b: click.echo(batch_summary(b), err=True))
        if report.batches:
            click.echo(f"spool {when}: {report.summary()}", err=True)

    land("left by an earlier server")
    os.environ.update(config.to_environment())
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal to the handler it found:
    # make that handler a no-op so the spool is landed below and the command exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    click.echo(f"serving on http://{host}:{port} (docs at /docs); data directory {config.data_dir}", err=True)
    server = uvicorn.Config("ingest.collector.app:create_app", factory=True, host=host, port=port, workers=workers,
                            log_level=log_level, timeout_graceful_shutdown=30, access_log=False,
                            http="ingest.collector.protocol:CollectorH11Protocol",
                            h11_max_incomplete_event_size=MAX_HEADER_BYTES)
    if workers == 1:
        uvicorn.Server(server).run()
    else:
        from uvicorn.supervisors import Multiprocess

        sock = server.bind_socket()
        # workers receive the listening socket without its protocol number, so asyncio skips TCP_NODELAY on the
        # connections they accept and small answers wait ~40 ms for delayed ACKs; accepted sockets inherit it
        # from the listening socket (Linux)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Multiprocess(server, sockets=[sock]).run()
    land("at shutdown")
