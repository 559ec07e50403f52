"""Reading a system spec from YAML (roost.plan.load): units, defaults, errors naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.errors import ConfigError
from roost.plan.load import load_spec, parse_spec
from roost.plan.spec import CachedPattern, HybridPattern, Interval, SimplePattern

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AR = (EXAMPLES / "ar_translation.yaml").read_text(encoding="utf-8")

SMALL = """\
name: small
locations:
  phone: {kind: device, fleet_size: 10, ram_available_mb: 2048}
  cloud: {kind: cloud}
links:
  wan: {ends: [phone, cloud], one_way_latency_s: 0.05, bandwidth_bps: 1.0e7}
components:
  sensor: {fixed_at: phone}
  model:
    variants:
      default: {compute_s: {phone: 0.1, cloud: 0.01}, ram_mb: 100}
flows:
  - {from: sensor, to: model, bytes: 1000}
workload: {requests_per_s_per_active_user: 1, active_s_per_user_per_day: 60}
"""


def line_of(text: str, fragment: str) -> int:
    """The 1-based number of the line holding ``fragment`` (exactly one must)."""
    lines = [i for i, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(lines) == 1, (fragment, lines)
    return lines[0]


def error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_spec(text, source="system.yaml")
    return str(caught.value)


def test_load_spec_reads_the_ar_example_in_normalised_units() -> None:
    spec = load_spec(EXAMPLES / "ar_translation.yaml")
    assert spec.name == "ar-translation"
    assert spec.default_scenario == "wifi"
    glasses = spec.locations["glasses"]
    assert glasses.ram_bytes == 512e6
    assert glasses.power is not None
    assert glasses.power.radio_on("bt") == 0.10
    assert spec.links["bt"].one_way_latency_s == Interval(0.020, 0.100)
    assert spec.links["wifi"].one_way_latency_s == Interval(0.020, 0.020)
    assert spec.links["cell"].bandwidth_bps == 10e6
    ocr = spec.components["ocr"]
    assert ocr.variants[0].size_bytes == 30e6
    assert ocr.variants[0].compute_s["glasses"] == Interval(0.8, 0.8)
    assert [p.kind for p in spec.components["translate"].patterns] == [
        "static",
        "client",
        "server",
        "cached",
        "hybrid",
    ]
    cached = spec.components["translate"].patterns[3]
    assert cached == CachedPattern("phone", "cloud", 0.6, 20e6, 4.0, 0.001)
    hybrid = spec.components["translate"].patterns[4]
    assert hybrid == HybridPattern("cloud", "phone", ("wifi", "cellular"))
    assert spec.workload.users == 100_000
    assert spec.workload.average_rps == pytest.approx(1041.67, rel=1e-4)
    assert spec.workload.peak_rps == 5000
    assert spec.components["camera"].is_fixed
    assert spec.requirements.offline == "preferred"


def test_parse_spec_fills_defaults() -> None:
    spec = parse_spec(SMALL)
    assert spec.network_scenarios == {"all": ("wan",)}
    assert spec.components["model"].allowed_at == ("phone", "cloud")
    assert spec.components["model"].patterns == (SimplePattern("client"), SimplePattern("server"))
    assert spec.components["sensor"].variants[0].compute_s == {"phone": Interval(0.0, 0.0)}
    assert spec.flows[0].name == "sensor->model"
    assert spec.workload.users == 10
    assert spec.capacity.slo_s == 0.1
    assert spec.objectives == ("latency_worst", "operator_usd")


@pytest.mark.parametrize(
    ("written", "field", "expected"),
    [
        ("ram_available_mb: 1 GB", "ram", 1e9),
        ("ram_available_mb: 512 MiB", "ram", 512 * 1024**2),
        ("bandwidth_bps: 3 Mbit/s", "bandwidth", 3e6),
        ("bandwidth_bps: 54Mbps", "bandwidth", 54e6),
        ("one_way_latency_s: 20 ms", "latency", 0.020),
        ("one_way_latency_s: {best: 20 ms, worst: 0.1}", "latency", (0.020, 0.1)),
        ("bytes: 2 KB", "bytes", 2000.0),
        ("bytes: 2.0e6", "bytes", 2e6),
    ],
    ids=lambda value: str(value),
)
def test_parse_spec_normalises_units(written: str, field: str, expected: object) -> None:
    key = written.split(":")[0]
    text = SMALL
    for line in SMALL.splitlines():
        for part in line.replace("{", ",").replace("}", ",").split(","):
            if part.strip().startswith(f"{key}:"):
                text = text.replace(part.strip(), written, 1)
    spec = parse_spec(text)
    values = {
        "ram": spec.locations["phone"].ram_bytes,
        "bandwidth": spec.links["wan"].bandwidth_bps,
        "latency": spec.links["wan"].one_way_latency_s,
        "bytes": spec.flows[0].bytes,
    }
    if isinstance(expected, tuple):
        assert values[field] == Interval(*expected)
    elif field == "latency":
        assert values[field] == Interval(expected, expected)  # type: ignore[arg-type]
    else:
        assert values[field] == pytest.approx(expected)


#: (text in the AR example, its replacement, the field named, a fragment of the message);
#: the error must name the line of the replacement's first line
WRONG_TYPES = [
    (
        "ram_available_mb: 512",
        "ram_available_mb: lots",
        "locations.glasses.ram_available_mb",
        "expected a number >= 0 in MB (or with a unit: B, KB",
    ),
    (
        "fleet_size: 100000\n    ram_available_mb: 512",
        "fleet_size: many\n    ram_available_mb: 512",
        "locations.glasses.fleet_size",
        "expected a whole number >= 1, got 'many'",
    ),
    (
        "kind: device\n    fleet_size: 100000\n    ram_available_mb: 512",
        "kind: phone\n    fleet_size: 100000\n    ram_available_mb: 512",
        "locations.glasses.kind",
        "expected device or edge or cloud, got 'phone'",
    ),
    ("bandwidth_bps: 3.0e6", "bandwidth_bps: 3 parsecs", "links.bt.bandwidth_bps", "in bps"),
    (
        "hit_rate: 0.6",
        "hit_rate: [0.6]",
        "components.translate.patterns[3].cached.hit_rate",
        "expected a number >= 0, got a list",
    ),
    (
        "offline: preferred",
        "offline: maybe",
        "requirements.offline",
        "expected required or preferred or ignore, got 'maybe'",
    ),
    ("ram_mb: 250", 'ram_mb: "250"', "components.ocr.variants.default.ram_mb", "got '250'"),
    (
        "peak_concurrent_users: 10000",
        "peak_concurrent_users: 1.5",
        "workload.peak_concurrent_users",
        "expected a whole number >= 1, got 1.5",
    ),
    ("hard: true}", "hard: yes please}", "requirements.latency[0].hard", "expected true or false"),
]


@pytest.mark.parametrize(
    ("old", "new", "field", "expected"),
    WRONG_TYPES,
    ids=["text", "fleet", "kind", "unit", "list", "choice", "quoted", "int", "bool"],
)
def test_wrong_type_names_the_line_and_the_field(
    old: str, new: str, field: str, expected: str
) -> None:
    assert AR.count(old) == 1
    text = AR.replace(old, new)
    message = error(text)
    line = line_of(text, new.splitlines()[0])
    assert message.startswith(f"system.yaml, line {line}: {field}: "), message
    assert expected in message


@pytest.mark.parametrize(
    ("old", "new", "field", "hint"),
    [
        (
            "size_mb: 30",
            "size_mbb: 30",
            "components.ocr.variants.default.size_mbb",
            "did you mean 'size_mb'?",
        ),
        (
            "days_per_month: 30",
            "days_per_mnth: 30",
            "workload.days_per_mnth",
            "did you mean 'days_per_month'?",
        ),
        ("capacity:  ", "capacity:  \n  slo: 0.1", "capacity.slo", "known: slo_s"),
        ("version: 1", "version: 1\nlocation: {}", "location", "did you mean 'locations'?"),
    ],
    ids=["variant", "workload", "capacity", "top"],
)
def test_unknown_key_names_the_line_and_the_field(
    old: str, new: str, field: str, hint: str
) -> None:
    assert AR.count(old) == 1
    text = AR.replace(old, new)
    added = new.splitlines()[-1].strip()
    message = error(text)
    assert message.startswith(f"system.yaml, line {line_of(text, added)}: {field}: unknown key"), (
        message
    )
    assert hint in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "ends: [glasses, phone]",
            "ends: [glasses, fone]",
            "one of the locations (glasses, phone, cloud); did you mean 'phone'?, got 'fone'",
        ),
        ("wifi: [bt, wifi]", "wifi: [bt, wlan]", "one of the links"),
        ("to: translate, bytes: 2000", "to: translator, bytes: 2000", "one of the components"),
        ("fallback: phone", "fallback: watch", "one of the locations"),
        (
            "use_primary_in: [wifi, cellular]",
            "use_primary_in: [wifi, lte]",
            "one of the network scenarios",
        ),
        (
            "allowed_at: [glasses, phone, cloud]\n    variants:\n      default:\n"
            "        compute_s: {glasses: 0.800",
            "allowed_at: [glasses, phone, moon]\n    variants:\n      default:\n"
            "        compute_s: {glasses: 0.800",
            "one of the locations",
        ),
        ("- latency_worst", "- latency_wrost", "objective 'latency_wrost' not known"),
    ],
    ids=[
        "link-end",
        "scenario-link",
        "flow-end",
        "hybrid",
        "use-primary-in",
        "allowed-at",
        "objective",
    ],
)
def test_unknown_reference_names_the_line(old: str, new: str, expected: str) -> None:
    assert AR.count(old) == 1
    text = AR.replace(old, new)
    message = error(text)
    assert message.startswith(f"system.yaml, line {line_of(text, new.splitlines()[0])}: "), message
    assert expected in message


def test_latency_path_must_follow_the_flows() -> None:
    old = "- {path: [camera, ocr, translate, renderer], max_s: 2.0"
    text = AR.replace(old, "- {path: [camera, translate, ocr, renderer], max_s: 2.0")
    message = error(text)
    assert message.startswith(
        f"system.yaml, line {line_of(text, 'max_s: 2.0')}: requirements.latency[0].path[2]"
    )
    assert "a component the flows lead to from 'translate'" in message


def test_cycle_in_the_flows_is_an_error() -> None:
    text = AR.replace(
        "flows:                             # bytes per request",
        "flows:\n  - {from: renderer, to: ocr, bytes: 1}",
    )
    assert "expected no cycle, got one through" in error(text)


def test_malformed_yaml_names_the_line() -> None:
    text = SMALL.replace("cloud: {kind: cloud}", "cloud: {kind: cloud")
    assert error(text).startswith("system.yaml, line ")
    assert "not valid YAML" in error(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "expected a system spec, got an empty document"),
        ("- a list", "system.yaml, line 1: : expected a mapping"),
        (SMALL.replace("workload:", "workloads:"), "unknown key 'workloads'"),
        (
            SMALL.replace("  phone: {kind: device, ", "  phone: {"),
            "locations.phone: expected a key 'kind', got none",
        ),
        (SMALL.replace("bytes: 1000", "bytes: -1"), "flows[0].bytes: expected a number >= 0"),
        (SMALL.replace("version", "x") + "version: 2\n", "version: expected 1, got 2"),
        (
            SMALL + "capacity: {percentile: 1.5}\n",
            "capacity.percentile: expected in (0, 1), got 1.5",
        ),
        (
            SMALL + "capacity: {batch_profile_ms: {1: 2.7}}\n",
            "batching is planned by `roost plan capacity --profile`",
        ),
        (
            SMALL.replace(
                "compute_s: {phone: 0.1, cloud: 0.01}",
                "compute_s: {phone: {best: 0.2, worst: 0.1}, cloud: 0.01}",
            ),
            "interval: expected best <= worst",
        ),
        (
            SMALL.replace("ends: [phone, cloud]", "ends: [phone, phone]"),
            "expected two different locations",
        ),
    ],
    ids=[
        "empty",
        "list",
        "top-key",
        "missing-kind",
        "negative",
        "version",
        "percentile",
        "batching",
        "interval",
        "ends",
    ],
)
def test_schema_errors(text: str, expected: str) -> None:
    assert expected in error(text)


def test_unit_strings_must_be_plain_not_quoted() -> None:
    text = SMALL.replace("bytes: 1000", 'bytes: "1000"')
    assert "flows[0].bytes: expected a number >= 0 in B" in error(text)


def test_load_spec_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="No such file"):
        load_spec(tmp_path / "absent.yaml")
