"""The fraud example end to end, as a user runs it: train, then ``roost serve fraud`` over HTTP.

A module-scoped ROOST_HOME holds examples/fraud_model.py's run (300 cards) and one server
answers the HTTP tests; the skew-guard and Redis tests train their own. Servers run from
a folder without the feature module, so it is imported from the file the model recorded.
Every subprocess has a timeout and every server is stopped in ``finally``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import roost
from roost.store import Registry

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
#: one training run takes ~2 s and a server starts in ~3 s here; bounds for a slow CI
TRAIN_TIMEOUT_S = 300
CLI_TIMEOUT_S = 120
START_TIMEOUT_S = 90
HTTP_TIMEOUT_S = 30
CARDS = 300
RAW_ROWS = [
    {"card_id": 7, "amount": 120.0, "currency": "USD", "hour": 3, "merchant": "electronics"},
    {"card_id": 42, "amount": 18.5, "currency": "EUR", "hour": 13, "merchant": "grocery"},
    {"card_id": 150, "amount": 640.0, "currency": "GBP", "hour": 2, "merchant": "gift_cards"},
    # a card with no history: every view value defaulted
    {"card_id": 99_999_999, "amount": 12.0, "currency": "CHF", "hour": 23, "merchant": "fuel"},
]
V2_TYPES = {"card_id": "INT64", "amount": "FP64", "currency": "BYTES", "hour": "INT64"}


def environment(home: Path, **extra: str) -> dict[str, str]:
    """This environment without any ROOST_ setting, with ROOST_HOME at ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    return {**env, "ROOST_HOME": str(home), **extra}


def train(home: Path, code: Path, *, cards: int = CARDS, **extra: str) -> None:
    """Run ``code/fraud_model.py`` as a user does (``python fraud_model.py``) into ``home``."""
    result = subprocess.run(
        [sys.executable, str(code / "fraud_model.py"), "--cards", str(cards)],
        cwd=home.parent,
        env=environment(home, **extra),
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "registered fraud:1" in result.stdout


def roost_cli(home: Path, *args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roost", *args],
        cwd=cwd,
        env=environment(home, **extra),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def roost_serve(home: Path, cwd: Path, *args: str, **extra: str) -> Iterator[Server]:
    """``roost serve`` on a free port; yields once it has tried to load every model.

    The server may then be ready (200) or refuse a model (503): the caller checks.
    """
    port = free_port()
    log = cwd / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "roost", "serve", *args, "--port", str(port)],
            cwd=cwd,
            env=environment(home, **extra),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise AssertionError(f"roost serve exited {process.returncode}:\n{server.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"roost serve not settled in time:\n{server.output()}")
            with contextlib.suppress(httpx.TransportError, ValueError):
                body = httpx.get(f"{server.url}/health/ready", timeout=2).json()
                if not body.get("loading") and (body.get("models") or body.get("failed")):
                    break
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@contextlib.contextmanager
def loaded_here(home: Path, online_url: str | None = None) -> Iterator[Any]:
    """``roost.load("fraud")`` in this process (its store closed, its module dropped after)."""
    from roost.features import FeatureStore, bind_store

    had_module = "fraud_features" in sys.modules
    model = roost.load("fraud", registry=Registry(home))
    featured = model.model_
    try:
        if online_url is not None:
            featured.store.close()
            bind_store(model, FeatureStore(home / "features", online_url=online_url))
        yield model
    finally:
        featured.store.close()
        if not had_module:
            sys.modules.pop("fraud_features", None)


def v2_inputs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as Open Inference Protocol V2 named tensors, one per column."""
    return [
        {
            "name": name,
            "shape": [len(rows)],
            "datatype": V2_TYPES.get(name, "BYTES"),
            "data": [row[name] for row in rows],
        }
        for name in rows[0]
    ]


def post(server: Server, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, timeout=HTTP_TIMEOUT_S)


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fraud_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ROOST_HOME where the fraud example ran: events, online values, ``fraud:1``."""
    home = tmp_path_factory.mktemp("fraud-example") / "roost-home"
    train(home, EXAMPLES)
    return home


@pytest.fixture(scope="module")
def reference(fraud_home: Path) -> dict[str, Any]:
    """What ``roost.load("fraud")`` in this process answers for RAW_ROWS, and their vectors."""
    with loaded_here(fraud_home) as model:
        featured = model.model_
        rows = featured.store.online_features(featured.features.service, RAW_ROWS)
        return {
            "predictions": model.predict(RAW_ROWS),
            "vectors": [featured.features.encode(row.values) for row in rows],
            "columns": [name for name, _ in featured.features.vector_columns],
        }


@pytest.fixture(scope="module")
def server(fraud_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``roost serve fraud`` on the trained home, from a folder without the feature module."""
    cwd = tmp_path_factory.mktemp("serve-elsewhere")
    with roost_serve(fraud_home, cwd, "fraud") as running:
        yield running


# ---------------------------------------------------------------------- serving the example


def test_served_fraud_health_ready_is_200(server: Server) -> None:
    response = httpx.get(f"{server.url}/health/ready", timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, response.text
    assert response.json()["models"] == {"fraud": "1"}


def test_served_raw_v1_equals_in_process_load(server: Server, reference: dict[str, Any]) -> None:
    response = post(server, "/v1/models/fraud:predict", {"instances": RAW_ROWS})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == reference["predictions"]
    assert all(0 <= p["probabilities"][1] <= 1 for p in reference["predictions"])


def test_served_ready_vectors_equal_raw_predictions(
    server: Server, reference: dict[str, Any]
) -> None:
    vectors = reference["vectors"]
    assert list(vectors[0]) == reference["columns"]  # every feature column, so taken as vectors
    assert isinstance(vectors[0]["merchant"], int)  # encoded by the fitted vocabulary
    response = post(server, "/v1/models/fraud:predict", {"instances": vectors})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == reference["predictions"]


def test_served_v2_named_tensors_equal_in_process_load(
    server: Server, reference: dict[str, Any]
) -> None:
    response = post(server, "/v2/models/fraud/infer", {"inputs": v2_inputs(RAW_ROWS)})
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    expected = reference["predictions"]
    assert outputs["label"]["data"] == [p["label"] for p in expected]
    assert outputs["probabilities"]["shape"] == [len(RAW_ROWS), 2]
    assert outputs["probabilities"]["data"] == [x for p in expected for x in p["probabilities"]]


def test_served_mlflow_dataframe_records_equal_in_process_load(
    server: Server, reference: dict[str, Any]
) -> None:
    response = post(server, "/invocations", {"dataframe_records": RAW_ROWS})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == reference["predictions"]


def test_served_unknown_currency_is_400_naming_amount_eur(server: Server) -> None:
    row = {**RAW_ROWS[0], "currency": "XYZ"}
    response = post(server, "/v1/models/fraud:predict", {"instances": [row]})
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert "amount_eur@1" in message
    assert "XYZ" in message


def test_served_unknown_currency_fails_alone_in_a_batch(server: Server) -> None:
    """A bad request next to good ones fails alone: the others still get answers."""
    bad = {"instances": [{**RAW_ROWS[0], "currency": "XYZ"}]}
    good = {"instances": RAW_ROWS[:2]}
    responses = [post(server, "/v1/models/fraud:predict", body) for body in (good, bad, good)]
    assert [r.status_code for r in responses] == [200, 400, 200]


def test_served_missing_field_is_400_naming_it(server: Server) -> None:
    row = {k: v for k, v in RAW_ROWS[0].items() if k != "currency"}
    response = post(server, "/v1/models/fraud:predict", {"instances": [row]})
    assert response.status_code == 400, response.text
    assert "'currency'" in response.json()["error"]


def test_served_wrong_type_is_400_naming_the_field(server: Server) -> None:
    row = {**RAW_ROWS[0], "hour": "three"}
    response = post(server, "/v1/models/fraud:predict", {"instances": [row]})
    assert response.status_code == 400, response.text
    assert "'hour'" in response.json()["error"]


# ---------------------------------------------------------------------- the skew guard


@pytest.fixture
def edited_copy(tmp_path: Path) -> tuple[Path, Path]:
    """The example copied, trained from the copy, then its FX_TO_EUR edited: (home, file)."""
    code = tmp_path / "code"
    code.mkdir()
    for name in ("fraud_features.py", "fraud_model.py"):
        shutil.copy(EXAMPLES / name, code / name)
    home = tmp_path / "roost-home"
    train(home, code, cards=100)
    features = code / "fraud_features.py"
    source = features.read_text()
    assert source.count('"USD": 0.92') == 1
    features.write_text(source.replace('"USD": 0.92', '"USD": 0.93'))
    return home, features


def test_skew_edited_feature_code_server_refuses_model_503(
    edited_copy: tuple[Path, Path], tmp_path: Path
) -> None:
    home, _ = edited_copy
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with roost_serve(home, elsewhere, "fraud") as server:
        ready = httpx.get(f"{server.url}/health/ready", timeout=HTTP_TIMEOUT_S)
        assert ready.status_code == 503, ready.text
        reason = ready.json()["failed"]["fraud"]
        assert "amount_eur@1" in reason
        assert "code changed" in reason
        response = post(server, "/v1/models/fraud:predict", {"instances": RAW_ROWS[:1]})
        assert response.status_code == 503, response.text
        assert "amount_eur@1 code changed" in response.json()["error"]
        v2 = post(server, "/v2/models/fraud/infer", {"inputs": v2_inputs(RAW_ROWS[:1])})
        assert v2.status_code == 503, v2.text
        live = httpx.get(f"{server.url}/health/live", timeout=HTTP_TIMEOUT_S)
        assert live.status_code == 200  # alive, only not ready
    assert "amount_eur@1 code changed" in server.output()


def test_skew_apply_edited_file_exits_4_until_versions_bumped(
    edited_copy: tuple[Path, Path], tmp_path: Path
) -> None:
    home, features = edited_copy
    changed = roost_cli(home, "features", "apply", str(features), cwd=tmp_path)
    assert changed.returncode == 4, changed.stdout + changed.stderr
    assert "Traceback" not in changed.stderr
    (line,) = changed.stderr.strip().splitlines()
    assert line.startswith("error: feature 'amount_eur@1' changed since it was applied")
    assert line.endswith("give the new code version 2")

    # the transform at version 2: fraud_features@1 now lists other features, so it changed too
    source = features.read_text()
    old = 'version=1, inputs={"amount": "float64", "currency": "string"}'
    assert source.count(old) == 1
    features.write_text(source.replace(old, old.replace("version=1", "version=2")))
    service_changed = roost_cli(home, "features", "apply", str(features), cwd=tmp_path)
    assert service_changed.returncode == 4, service_changed.stdout + service_changed.stderr
    (line,) = service_changed.stderr.strip().splitlines()
    assert "'fraud_features@1' changed" in line
    assert "amount_eur" not in line

    source = features.read_text()
    old_service = '"fraud_features",\n    version=1,'
    assert source.count(old_service) == 1
    features.write_text(source.replace(old_service, old_service.replace("1", "2")))
    applied = roost_cli(home, "features", "apply", str(features), cwd=tmp_path)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    rows = {line.split()[0]: line.split() for line in applied.stdout.splitlines()[1:]}
    assert rows["amount_eur@2"][-1] == "new"
    assert rows["fraud_features@2"][-1] == "new"
    assert rows["spend_30d@1"][-1] == "unchanged"

    listed = roost_cli(home, "features", "list", "--json", cwd=tmp_path)
    refs = {e["ref"] for e in json.loads(listed.stdout)}
    assert {"amount_eur@1", "amount_eur@2", "fraud_features@1", "fraud_features@2"} <= refs


# ---------------------------------------------------------------------- Redis online store


def test_redis_example_check_and_serve_read_online_values_from_redis(
    redis_url: str, tmp_path: Path
) -> None:
    import redis

    prefix = f"roost-test-{uuid.uuid4().hex[:8]}"
    separator = "&" if "?" in redis_url else "?"
    online_url = f"{redis_url}{separator}prefix={prefix}"
    home = tmp_path / "roost-home"
    train(home, EXAMPLES, ROOST_FEATURES_URL=online_url)
    assert not (home / "features" / "online.db").exists()  # no SQLite online store

    client = redis.Redis.from_url(redis_url)
    try:
        spend_keys = [k.decode() for k in client.scan_iter(f"{prefix}:spend_30d:v1:*")]
        assert 0 < len(spend_keys) <= CARDS
        assert any(client.scan_iter(f"{prefix}:velocity_24h:v1:*"))

        check = roost_cli(
            home,
            "features",
            "check",
            "fraud_features",
            "--sample",
            "50",
            "--json",
            cwd=tmp_path,
            ROOST_FEATURES_URL=online_url,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert json.loads(check.stdout)["ok"] is True

        # plant a value only Redis holds, for one card, fresh enough to be present
        key = min(spend_keys)
        card_id = json.loads(key.rsplit(":", 1)[1])[0]
        planted = {"spend_30d": 123456.0, "payments_30d": 3, "avg_payment_30d": 41152.0}
        fresh_us = (time.time_ns() // 1000) - 3600 * 1_000_000
        client.hset(key, mapping={"values": json.dumps(planted), "event_time_us": fresh_us})

        fields = [f"card_id={card_id}", "amount=50", "currency=EUR", "hour=12", "merchant=fuel"]
        got = roost_cli(
            home,
            "features",
            "get",
            "fraud_features",
            *fields,
            "--json",
            cwd=tmp_path,
            ROOST_FEATURES_URL=online_url,
        )
        assert got.returncode == 0, got.stderr
        values = json.loads(got.stdout)
        assert values["values"]["spend_30d"] == 123456.0
        assert values["statuses"]["spend_30d"] == "present"
        assert values["origins"]["spend_30d"] == "store"

        rows = [{**RAW_ROWS[0], "card_id": card_id}, *RAW_ROWS[1:]]
        with loaded_here(home, online_url) as model:
            featured = model.model_
            (row,) = featured.store.online_features(featured.features.service, rows[:1])
            assert row.values["spend_30d"] == 123456.0
            expected = model.predict(rows)
        with roost_serve(home, tmp_path, "fraud", ROOST_FEATURES_URL=online_url) as server:
            response = post(server, "/v1/models/fraud:predict", {"instances": rows})
            assert response.status_code == 200, response.text
            assert response.json()["predictions"] == expected
    finally:
        client.close()
