"""Schemathesis against a live server: every documented operation, fuzzed, never a 5xx.

The server's own ``/openapi.json`` drives the run, as ``st run`` would: the documented
examples, then boundary cases (coverage), then generated requests that fit the schemas
(positive) and that break them (negative). Only server errors fail the test; how
precisely the document describes what a 4xx refuses is checked by the unit tests.

This uses schemathesis' engine (what its CLI runs) rather than its pytest plugin,
whose ``parametrize`` does not work with pytest 9 (it reads ``request.node._nodeid``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema

from roost.config import ServingConfig, StoreConfig, TelemetryConfig
from roost.serving.server import ServeSpec, app_from_spec
from roost.store import Registry

#: deterministic and bounded: the same cases on every run, the whole test well under 90 s
SETTINGS = {
    "seed": 20240601,
    "generation": {
        "mode": "all",
        "max-examples": 40,
        "deterministic": True,
        "database": "none",  # no example database: nothing replayed from earlier runs
    },
    "phases": {"stateful": {"enabled": False}},
    "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
    "request-timeout": 10,
}


@pytest.mark.integration
# numpy warns (RuntimeWarning: overflow) when a huge but valid float meets a model's
# matmul; pytest's filterwarnings=error would turn that warning, in the server thread,
# into a model failure (500) that a server run normally never sees: keep it a warning
@pytest.mark.filterwarnings("default::RuntimeWarning")
def test_schemathesis_finds_no_server_error(live_url: str) -> None:
    config = schemathesis.Config.from_dict({**SETTINGS, "base-url": live_url})
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json", config=config)
    failures: list[str] = []
    errors: list[str] = []
    tested: set[str] = set()
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            if event.label and event.status != Status.SKIP:
                tested.add(event.label)
            if event.status == Status.FAILURE:
                for checks in event.recorder.checks.values():
                    for check in checks:
                        info = check.failure_info
                        if info is not None:
                            failures.append(
                                f"{event.label}: {info.failure.title}\n{info.code_sample}"
                            )
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    elapsed = time.monotonic() - started
    assert not errors, "\n\n".join(errors)
    assert not failures, "\n\n".join(failures)
    documented = {
        f"{method.upper()} {path}"
        for path, item in schema.raw_schema["paths"].items()
        for method in item
    }
    # schemathesis never calls the schema's own URL: fetching it above was that test
    assert tested == documented - {"GET /openapi.json"}
    assert elapsed < 90


@pytest.mark.integration
def test_schemathesis_feedback_with_telemetry_finds_no_server_error(
    serving_registry: Registry, tmp_path: Path, serve_live: Any
) -> None:
    """/v1/feedback on a server that logs: fuzzed bodies are stored or refused, never a 5xx."""
    spec = ServeSpec(
        ("iris@production",),
        StoreConfig(home=serving_registry.home),
        ServingConfig(),
        telemetry=TelemetryConfig(url=str(tmp_path / "telemetry.sqlite3")),
    )
    with serve_live(app_from_spec(spec)) as url:
        config = schemathesis.Config.from_dict({**SETTINGS, "base-url": url})
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
        schema = schema.include(path="/v1/feedback")
        statuses: list[str] = []
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                statuses.append(event.status.name)
                assert event.status != Status.FAILURE, event.label
            elif isinstance(event, (events.NonFatalError, events.FatalError)):
                raise AssertionError(f"schemathesis failed: {event}")
    assert "SUCCESS" in statuses
