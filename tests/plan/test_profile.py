"""``profile_model``: a registered version measured in process, and what the planner reads of it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from starlette.testclient import TestClient

from roost.config import ServingConfig
from roost.errors import ConfigError, ModelNotFound
from roost.plan._measure import quantile
from roost.plan.profile import PROTOCOLS, ModelProfile, profile_model
from roost.serving import ModelRepository, create_app
from roost.store import Registry

#: small and fast: the real clock, few calls
FAST: dict[str, Any] = {"batch_sizes": (1, 4, 32), "repeat": 5, "warmup": 1, "loads": 2}


class SteppingClock:
    """A clock that moves ``step`` seconds each time it is read: every timed span is one step."""

    def __init__(self, step: float = 0.001) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture(scope="module")
def iris_data() -> Any:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(as_frame=True, return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(x, y), x


@pytest.fixture
def iris(registry: Registry, iris_data: Any) -> Registry:
    """The ``registry`` fixture with ``iris:1`` (LogisticRegression, columns) saved in it."""
    model, x = iris_data
    registry.save(model, "iris", example=x[:5])
    return registry


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory, iris_data: Any) -> ModelProfile:
    """One real profile of iris:1, shared by the tests that only read it."""
    registry = Registry(tmp_path_factory.mktemp("profile") / "roost-home")
    registry.save(iris_data[0], "iris", example=iris_data[1][:5])
    return profile_model(registry, "iris:1", **FAST)


def test_profile_has_every_measurement(measured: ModelProfile) -> None:
    assert (measured.ref, measured.name, measured.flavor) == ("iris:1", "iris", "sklearn")
    assert measured.location == "this-machine"
    assert measured.host
    assert "Python" in measured.platform
    assert measured.loads == 2
    assert measured.first_load_s > 0
    assert measured.load_s > 0
    assert measured.python_peak_bytes > 0
    assert measured.ram_mb >= measured.python_peak_mb
    if measured.rss_growth_bytes is not None:  # Linux: /proc/self/status
        assert measured.ram_mb >= measured.rss_growth_bytes / 1e6
    assert [entry.batch_size for entry in measured.latency] == [1, 4, 32]
    wire = {(size.protocol, size.batch_size) for size in measured.wire}
    assert wire == {(protocol, rows) for protocol in PROTOCOLS for rows in (1, 32)}


def test_profile_package_size_is_the_folder_bytes(iris: Registry) -> None:
    profile = profile_model(iris, "iris", batch_sizes=(1,), repeat=1, loads=1)
    files = [f for f in iris.path("iris:1").rglob("*") if f.is_file()]
    assert profile.package_bytes == sum(f.stat().st_size for f in files) > 0
    assert profile.size_mb == profile.package_bytes / 1e6


def test_profile_latencies_positive_and_ordered(measured: ModelProfile) -> None:
    for entry in measured.latency:
        assert 0 < entry.p50_ms <= entry.p90_ms <= entry.p99_ms
        assert entry.runs == 5


def test_profile_throughput_follows_the_median_latency(measured: ModelProfile) -> None:
    for entry in measured.latency:
        assert entry.rows_per_s == pytest.approx(entry.batch_size / (entry.p50_ms / 1000))
    best = max(measured.latency, key=lambda e: e.rows_per_s)
    assert measured.peak_rows_per_s == best.rows_per_s
    assert measured.to_dict()["peak_batch_size"] == best.batch_size


def test_profile_with_stepping_clock_is_exact(iris: Registry) -> None:
    """Each timed span is one 1 ms step: p50 = p99 = 1 ms, so throughput is b × 1000/s."""
    profile = profile_model(
        iris, "iris", batch_sizes=(8, 1, 2), repeat=3, loads=3, clock=SteppingClock()
    )
    assert [(e.batch_size, e.p50_ms, e.p99_ms) for e in profile.latency] == [
        (1, pytest.approx(1.0), pytest.approx(1.0)),
        (2, pytest.approx(1.0), pytest.approx(1.0)),
        (8, pytest.approx(1.0), pytest.approx(1.0)),
    ]
    assert profile.load_s == pytest.approx(0.001)
    assert profile.peak.batch_size == 8
    assert profile.peak_rows_per_s == pytest.approx(8000)


def test_v2_binary_is_smaller_than_v2_json_for_32_rows(measured: ModelProfile) -> None:
    """Responses: 8 bytes a float beat ~19 digits. (Iris's requests are short decimals,
    ``5.1``, which JSON writes in fewer bytes than FP64: binary pays off on the way back.)"""
    sizes = {(s.protocol, s.batch_size): s for s in measured.wire}
    binary, text = sizes["oip-v2-binary", 32], sizes["oip-v2-json", 32]
    assert binary.response_bytes < text.response_bytes
    assert binary.request_bytes + binary.response_bytes < text.request_bytes + text.response_bytes


def _rows(registry: Registry, count: int) -> list[dict[str, Any]]:
    example = registry.load("iris").example
    return [example[i % len(example)] for i in range(count)]


@pytest.fixture
def served(iris: Registry) -> Iterator[TestClient]:
    config = ServingConfig()
    with TestClient(create_app(ModelRepository(iris, ["iris:1"], config), config)) as client:
        yield client


def _v2_inputs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"name": name, "shape": [len(rows)], "datatype": "FP64", "data": [r[name] for r in rows]}
        for name in rows[0]
    ]


@pytest.mark.parametrize("protocol", ["kserve-v1", "oip-v2-json", "mlflow"])
def test_wire_sizes_match_what_the_server_answers(
    iris: Registry, served: TestClient, protocol: str
) -> None:
    """The bodies the real app receives and sends for 32 rows have the profiled sizes."""
    profile = profile_model(iris, "iris", batch_sizes=(1, 32), repeat=1, loads=1)
    rows = _rows(iris, 32)
    path, body = {
        "kserve-v1": ("/v1/models/iris:predict", {"instances": rows}),
        "oip-v2-json": ("/v2/models/iris/infer", {"inputs": _v2_inputs(rows)}),
        "mlflow": ("/invocations", {"dataframe_records": rows}),
    }[protocol]
    content = orjson.dumps(body)
    response = served.post(path, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    size = next(s for s in profile.wire if (s.protocol, s.batch_size) == (protocol, 32))
    assert size.response_bytes == len(response.content)
    assert size.request_bytes == len(content)


def test_wire_size_v2_binary_matches_the_server(iris: Registry, served: TestClient) -> None:
    profile = profile_model(iris, "iris", batch_sizes=(1, 32), repeat=1, loads=1)
    rows = _rows(iris, 32)
    import numpy as np

    blobs = [np.asarray([r[name] for r in rows], dtype="<f8").tobytes() for name in rows[0]]
    inputs = [
        {"name": name, "shape": [32], "datatype": "FP64", "parameters": {"binary_data_size": 256}}
        for name in rows[0]
    ]
    header = orjson.dumps({"inputs": inputs, "parameters": {"binary_data_output": True}})
    response = served.post(
        "/v2/models/iris/infer",
        content=header + b"".join(blobs),
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert response.status_code == 200, response.text
    size = next(s for s in profile.wire if (s.protocol, s.batch_size) == ("oip-v2-binary", 32))
    assert size.response_bytes == len(response.content)
    assert size.request_bytes == len(header) + 4 * 256


def test_to_dict_latency_by_batch_is_keyed_by_the_sizes_asked(measured: ModelProfile) -> None:
    """The default is each batch size's p99: a plan for a tail target rests on the tail."""
    document = json.loads(json.dumps(measured.to_dict()))
    by_batch = document["latency_ms_by_batch"]
    assert list(by_batch) == ["1", "4", "32"]
    assert by_batch == {str(e.batch_size): e.p99_ms for e in measured.latency}
    assert document["latency_quantile"] == "p99"
    assert document["memory"]["ram_mb"] == measured.ram_mb


def test_to_dict_latency_by_batch_takes_the_quantile_asked(measured: ModelProfile) -> None:
    by_batch = measured.to_dict("p50")["latency_ms_by_batch"]
    assert by_batch == {str(e.batch_size): e.p50_ms for e in measured.latency}
    with pytest.raises(ConfigError, match="expected one of p50, p90, p99, got 'mean'"):
        measured.to_dict("mean")


def test_component_block_has_the_planner_shape(measured: ModelProfile) -> None:
    block = yaml.safe_load(yaml.safe_dump(measured.component_block("ocr")))
    assert list(block) == ["ocr"]
    component = block["ocr"]
    assert component["allowed_at"] == ["this-machine"]
    variant = component["variants"]["default"]
    assert set(variant) == {"compute_s", "size_mb", "ram_mb"}
    times = variant["compute_s"]["this-machine"]
    one = measured.latency_at(1)
    assert times["best"] == pytest.approx(one.p50_ms / 1000, rel=1e-3)
    assert times["worst"] == pytest.approx(one.p99_ms / 1000, rel=1e-3)
    assert 0 < times["best"] <= times["worst"]
    assert variant["size_mb"] == pytest.approx(measured.size_mb, rel=1e-3)
    assert variant["ram_mb"] == pytest.approx(measured.ram_mb, rel=1e-3)


def test_component_block_without_batch_size_one_names_it(iris: Registry) -> None:
    profile = profile_model(iris, "iris", batch_sizes=(4,), repeat=1, loads=1)
    with pytest.raises(ConfigError, match=r"batch size 1 was not measured \(measured: 4\)"):
        profile.component_block("iris")


def test_profile_of_a_tensor_model_measures_every_protocol(registry: Registry) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    features = np.random.default_rng(0).normal(size=(40, 8))
    labels = (features[:, 0] > 0).astype(np.int64)
    registry.save(LogisticRegression().fit(features, labels), "digits", example=features[:3])
    profile = profile_model(registry, "digits", batch_sizes=(1, 16), repeat=2, loads=1)
    assert {(s.protocol, s.batch_size) for s in profile.wire} == {
        (protocol, rows) for protocol in PROTOCOLS for rows in (1, 16)
    }
    sizes = {(s.protocol, s.batch_size): s for s in profile.wire}
    assert sizes["oip-v2-binary", 16].request_bytes < sizes["oip-v2-json", 16].request_bytes


def test_profile_reports_progress_up_to_the_total(iris: Registry) -> None:
    seen: list[tuple[str, int, int]] = []
    profile_model(
        iris,
        "iris",
        batch_sizes=(1, 2),
        repeat=2,
        warmup=1,
        loads=1,
        progress=lambda *a: seen.append(a),
    )
    dones = [done for _, done, _ in seen]
    assert dones == list(range(1, len(seen) + 1))
    assert {total for _, _, total in seen} == {len(seen)}
    assert {what for what, _, _ in seen} >= {"loading", "batch size 1", "batch size 2"}


def test_profile_unknown_model_is_not_found(iris: Registry) -> None:
    with pytest.raises(ModelNotFound, match="'nope' not found"):
        profile_model(iris, "nope", **FAST)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"batch_sizes": ()}, "batch sizes: expected distinct whole numbers"),
        ({"batch_sizes": (0, 1)}, "got 0, 1"),
        ({"batch_sizes": (2, 2)}, "got 2, 2"),
        ({"repeat": 0}, "repeat: expected at least 1"),
        ({"warmup": -1}, "warmup: expected 0 or more"),
        ({"loads": 0}, "loads: expected at least 1"),
        ({"location": " "}, "location: expected a name"),
    ],
    ids=["empty", "zero", "repeated", "repeat", "warmup", "loads", "location"],
)
def test_profile_bad_arguments_fail_before_measuring(
    tmp_path: Path, arguments: dict[str, Any], message: str
) -> None:
    """Checked before the registry is even asked: an empty one is enough."""
    with pytest.raises(ConfigError, match=message):
        profile_model(Registry(tmp_path / "empty"), "iris", **arguments)


@pytest.mark.parametrize("q", [0.0, 0.5, 0.9, 0.99, 1.0])
def test_quantile_matches_numpy_linear(q: float) -> None:
    import numpy as np

    values = sorted([3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0])
    assert quantile(values, q) == pytest.approx(float(np.percentile(values, q * 100)))
    assert not math.isnan(quantile([7.0], q))


def test_a_profiled_component_plans_inside_a_system(measured: ModelProfile) -> None:
    """Plans start from measurements: the component block goes into a system as it is."""
    from roost.plan import build_report, parse_spec

    block = measured.component_block("classifier")
    system = {
        "version": 1,
        "name": "profiled",
        "locations": {
            "phone": {"kind": "device", "fleet_size": 1000, "ram_available_mb": 4000},
            measured.location: {"kind": "cloud", "replica": {"usd_per_hour": 0.5}},
        },
        "links": {
            "wan": {
                "ends": ["phone", measured.location],
                "one_way_latency_s": 0.02,
                "bandwidth_bps": 1e7,
            }
        },
        "network_scenarios": {"online": ["wan"]},
        "components": {
            "app": {"fixed_at": "phone"},
            **block,
            "screen": {"fixed_at": "phone"},
        },
        "flows": [
            {"name": "row", "from": "app", "to": "classifier", "bytes": 200},
            {"name": "label", "from": "classifier", "to": "screen", "bytes": 100},
        ],
        "workload": {
            "requests_per_s_per_active_user": 0.1,
            "active_s_per_user_per_day": 600,
            "peak_concurrent_users": 100,
        },
        "requirements": {
            "latency": [{"path": ["app", "classifier", "screen"], "max_s": 1.0, "hard": True}]
        },
    }
    spec = parse_spec(yaml.safe_dump(system), "profiled.yaml")
    report = build_report(spec)
    assert report.recommendation is not None
    one = measured.latency_at(1)
    (row,) = report.rows  # the profiled location is the only one allowed
    assert row.metrics is not None
    # the critical path holds the measured compute time plus the two hops of the WAN link
    latency = row.metrics.latency
    assert latency.best == pytest.approx(one.p50_ms / 1000 + 2 * 0.02 + 300 * 8 / 1e7, rel=0.01)
    assert latency.worst == pytest.approx(one.p99_ms / 1000 + 2 * 0.02 + 300 * 8 / 1e7, rel=0.01)
