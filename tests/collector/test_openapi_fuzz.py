"""Schemathesis against the collector in-process, driven by its own OpenAPI document, every check on: no input
answers 5xx, every answer (status, content type, headers, body) is one the document lists, valid requests are
accepted and invalid ones refused, auth is enforced, undocumented methods answer 405 with `Allow`.

Bounded: a few examples per operation, so the whole run stays well under a minute on a busy machine."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

pytestmark = pytest.mark.slow  # about half a minute: in `make test`, not in `make test-fast`

load_all_checks()
EXAMPLES = 10
MIXPANEL_PATHS = ("/track", "/import", "/engage")

CONFIG = {
    "generation": {"max-examples": EXAMPLES},
    "phases": {"coverage": {"enabled": False}},  # the coverage phase alone sends thousands of requests
    # a refusal is any documented 4xx: 413 too (a generated batch over 1,000 events)
    "checks": {"negative_data_rejection": {"expected-statuses": ["400", "401", "403", "404", "405", "413", "415",
                                                                 "429"]}},
}


def without_lifespan(app):
    """``app`` for clients that each run the lifespan: the module's one TestClient already started it (and
    stopping it would close the spool for every later request)."""
    async def wrapped(scope, receive, send):
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return wrapped


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    from fastapi.testclient import TestClient

    from ingest.collector.app import create_app
    from ingest.collector.config import CollectorConfig
    from ingest.collector.tokens import TokenStore

    root = tmp_path_factory.mktemp("fuzz")
    store = TokenStore.load(root / "tokens.json", missing_ok=True)
    token = store.create("fuzz", ("ingest", "read"), "engineer")
    app = create_app(CollectorConfig(data_dir=root / "data", tokens_file=store.path, land_every=0,
                                     demo_key=True))
    with TestClient(app):  # runs the lifespan (the spool) for the whole module
        yield app, token


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_the_api_holds_to_its_document(fuzz_app, mode):
    from fastapi.routing import APIRoute
    from hypothesis import given
    from hypothesis.errors import Unsatisfiable
    from schemathesis.config import SchemathesisConfig
    from schemathesis.generation import GenerationMode

    app, token = fuzz_app
    config = SchemathesisConfig.from_dict({**CONFIG, "auth": {"openapi": {"bearer": {"bearer": token}}}})
    api = schemathesis.openapi.from_asgi("/openapi.json", without_lifespan(app), config=config)
    operations = [result.ok() for result in api.get_all_operations()]
    routes = {(method, route.path) for route in app.routes if isinstance(route, APIRoute) and route.include_in_schema
              for method in route.methods}
    assert {(o.method.upper(), o.path) for o in operations} == routes  # every route is in the document
    unsatisfiable = []  # operations with no input that could break the document
    for operation in operations:
        # Mixpanel's form field `data` holds JSON (or base64 of it), which no schema keyword can generate
        strategy = operation.as_strategy(GenerationMode(mode))
        if mode == "positive" and operation.path in MIXPANEL_PATHS:
            strategy = strategy.filter(lambda case: case.media_type == "application/json")

        @given(case=strategy)
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=True)
        def run(case) -> None:
            case.call_and_validate(checks=CHECKS.get_all())

        try:
            run()
        except Unsatisfiable:
            unsatisfiable.append(operation.label)
    # the two health routes take no input at all: no invalid request exists
    assert sorted(unsatisfiable) == ([] if mode == "positive" else ["GET /api/v1/health", "GET /health"])
