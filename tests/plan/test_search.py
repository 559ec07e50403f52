"""Search, Pareto fronts and reports (roost.plan.search, .pareto, .report, .diagram)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roost.errors import ConfigError, PlanError
from roost.plan.evaluate import evaluate
from roost.plan.load import load_spec, parse_spec
from roost.plan.pareto import dominates, front, fronts, project
from roost.plan.placement import Assignment, Placement
from roost.plan.report import build_report, metrics_json, placement_label, project_front
from roost.plan.search import best_chain, candidates, search
from roost.plan.spec import SimplePattern, Spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: Neurosurgeon's setting: a chain of layers split between a phone and a server
SPLIT = """
locations:
  phone:
    {kind: device, fleet_size: 1000, ram_available_mb: 300, power_w: {compute: 2.0, radio: 1.0}}
  server: {kind: cloud, replica: {usd_per_hour: 1.0}}
links:
  lte:
    ends: [phone, server]
    one_way_latency_s: {best: 30 ms, worst: 60 ms}
    bandwidth_bps: 5 Mbit/s
network_scenarios: {lte: [lte]}
components:
  input: {fixed_at: phone}
  conv: {variants: {default: {compute_s: {phone: 0.20, server: 0.010}, ram_mb: 100}}}
  pool: {variants: {default: {compute_s: {phone: 0.02, server: 0.001}, ram_mb: 100}}}
  fc: {variants: {default: {compute_s: {phone: 0.05, server: 0.002}, ram_mb: 150}}}
  output: {fixed_at: phone}
flows:
  - {from: input, to: conv, bytes: 600 KB}
  - {from: conv, to: pool, bytes: 800 KB}
  - {from: pool, to: fc, bytes: 50 KB}
  - {from: fc, to: output, bytes: 100}
workload: {requests_per_s_per_active_user: 1, active_s_per_user_per_day: 600}
requirements:
  latency: [{path: [input, conv, pool, fc, output], max_s: 1.5}]
capacity: {slo_s: 1.0}
"""


@pytest.fixture(scope="module")
def spec_a() -> Spec:
    return load_spec(EXAMPLES / "ar_translation.yaml")


def labels(spec: Spec, placements: list[Placement]) -> set[str]:
    return {placement_label(spec, p.assignments) for p in placements}


# ------------------------------------------------------------------------ candidates


def test_candidates_put_patterns_where_they_apply(spec_a: Spec) -> None:
    found = candidates(spec_a, spec_a.components["ocr"])
    pairs = {(a.location, a.pattern.kind) for a, _ in found}
    assert pairs == {
        ("glasses", "static"),
        ("phone", "static"),
        ("glasses", "client"),
        ("phone", "client"),
        ("cloud", "server"),
    }
    translate = {a.pattern.kind for a, _ in candidates(spec_a, spec_a.components["translate"])}
    assert translate == {"static", "client", "server", "cached", "hybrid"}


def test_candidates_that_do_not_fit_alone_carry_their_reason() -> None:
    spec = parse_spec(
        SPLIT.replace(
            "fc: {variants: {default: {compute_s: {phone: 0.05, server: 0.002}, ram_mb: 150}}}",
            "fc: {variants: {default: {compute_s: {phone: 0.05, server: 0.002}, ram_mb: 400}}}",
        )
    )
    found = {a.location: reasons for a, reasons in candidates(spec, spec.components["fc"])}
    assert found["server"] == ()
    assert found["phone"] == ("phone RAM 400 MB > 300 MB available (fc 400 MB)",)
    result = search(spec)
    assert all(m.placement.of("fc").location == "server" for m in result.feasible)
    assert any(
        len(r.assignments) == 1 and r.assignments[0].component == "fc" for r in result.rejected
    )


# ---------------------------------------------------------------------------- search


def test_search_cuts_co_location_that_single_checks_miss() -> None:
    """conv + pool + fc need 350 MB together on a 300 MB phone: the knapsack check."""
    spec = parse_spec(SPLIT)
    result = search(spec)
    for metrics in result.feasible:
        on_phone = [
            a
            for a in metrics.placement.assignments
            if a.location == "phone" and a.component in ("conv", "pool", "fc")
        ]
        assert len(on_phone) < 3
    ram = [r for r in result.rejected if any("phone RAM 350 MB > 300 MB" in x for x in r.reasons)]
    assert ram


@pytest.mark.parametrize("scenario", ["wifi", "cellular", "offline"])
def test_search_matches_exhaustive_search_on_the_ar_example(spec_a: Spec, scenario: str) -> None:
    pruned, everything = search(spec_a, scenario), search(spec_a, scenario, exhaustive=True)
    assert {m.placement for m in pruned.feasible} == {m.placement for m in everything.feasible}
    assert everything.evaluated == 35
    assert pruned.evaluated < everything.evaluated
    assert pruned.pruned > 0


def test_search_stops_past_max_nodes(spec_a: Spec) -> None:
    with pytest.raises(PlanError, match="passed 5 partial placements"):
        search(spec_a, max_nodes=5)


def test_search_rejects_an_unknown_scenario(spec_a: Spec) -> None:
    with pytest.raises(
        ConfigError, match=r"network scenario 'lte' not found \(known: wifi, cellular, offline\)"
    ):
        search(spec_a, "lte")


def test_offline_required_rejects_cloud_only_placements(spec_a: Spec) -> None:
    strict = parse_spec(
        (EXAMPLES / "ar_translation.yaml")
        .read_text()
        .replace("offline: preferred", "offline: required")
    )
    result = search(strict, "wifi")
    assert all(m.offline_coverage == 1.0 for m in result.feasible)
    g_c = [r for r in result.rejected if placement_label(strict, r.assignments) == "G-C"]
    assert g_c[0].reasons == ("offline required, but 0% of requests work offline",)


# ------------------------------------------------------------------------- chain DP


def test_best_chain_splits_like_neurosurgeon() -> None:
    """The big conv feature map stays off the network: conv on the server needs the 600 KB input."""
    spec = parse_spec(SPLIT)
    fastest = best_chain(spec, objective="latency_worst")
    assert fastest.value == pytest.approx(evaluate(spec, fastest.placement).latency.worst)
    everything = search(spec, exhaustive=True)
    metrics = [*everything.feasible, *(r.metrics for r in everything.rejected if r.metrics)]
    assert fastest.value == pytest.approx(min(m.latency.worst for m in metrics))
    frugal = best_chain(spec, objective="phone_energy")
    assert frugal.value == pytest.approx(min(m.energy_j.get("phone", 0.0) for m in metrics))


def test_best_chain_refuses_a_dag_and_non_additive_objectives(spec_a: Spec) -> None:
    with pytest.raises(ConfigError, match="expected one flow from"):
        best_chain(spec_a)
    with pytest.raises(ConfigError, match="not additive"):
        best_chain(parse_spec(SPLIT), objective="operator_usd")


# ---------------------------------------------------------------------------- pareto


def test_dominates_respects_senses() -> None:
    assert dominates([1, 1], [2, 1], ["min", "min"])
    assert not dominates([1, 1], [1, 1], ["min", "min"])
    assert dominates([1, 2], [1, 1], ["min", "max"])
    assert not dominates([1.0, 2.0], [1.0 + 1e-12, 2.0], ["min", "min"])  # float noise


def test_fronts_peel_in_order() -> None:
    points = [[1, 5], [2, 4], [3, 3], [2, 5], [4, 4], [5, 5]]
    assert fronts(points, ["min", "min"]) == [1, 1, 1, 2, 2, 3]
    assert front(points, ["min", "min"]) == [0, 1, 2]
    assert project(points, [1]) == [[5], [4], [3], [5], [4], [5]]
    assert fronts([], ["min"]) == []


def test_fronts_equal_points_share_a_front() -> None:
    assert fronts([[1, 1], [1, 1], [2, 2]], ["min", "min"]) == [1, 1, 2]


def test_fronts_check_their_input() -> None:
    with pytest.raises(ConfigError, match="expected min or max"):
        fronts([[1]], ["low"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="expected 2 objectives, got 1"):
        fronts([[1]], ["min", "min"])


# ---------------------------------------------------------------------------- report


def test_report_rows_are_sorted_by_front_then_latency(spec_a: Spec) -> None:
    report = build_report(spec_a, "wifi")
    keys = [(row.rank, row.metrics.latency.worst) for row in report.rows if row.metrics]
    assert keys == sorted(keys)
    assert all(not row.is_feasible for row in report.rejected)
    assert {row.label for row in report.rejected} >= {"P-*", "C-*", "G-G", "G(static)-G"}


def test_report_projection_front(spec_a: Spec) -> None:
    report = build_report(spec_a, "wifi")
    projected = project_front(report, ["latency_worst", "operator_usd"])
    # the cache is quickest but for the cloud (1.036 s), the phone cheapest (1.091 s, $0)
    assert {row.label for row in projected} == {
        "G-cached(P→C)",
        "G(static)-cached(P→C)",
        "G-P",
        "G-P(static)",
        "G(static)-P",
        "G(static)-P(static)",
    }


def test_report_json_is_plain_json(spec_a: Spec) -> None:
    data = build_report(spec_a, "offline").to_json()
    text = json.dumps(data, allow_nan=False)
    again = json.loads(text)
    assert again["scenario"] == "offline"
    assert again["recommendation"]["placement"] == "G-P"
    assert again["objectives"]["offline"] == "max"
    assert again["placements"][0]["metrics"]["latency_worst_s"] is not None
    branch = next(row for row in again["rejected"] if row["placement"] == "C-*")
    assert branch["metrics"] is None
    assert branch["reasons"] == ["no route from glasses to cloud for flow 'frame'"]


def test_metrics_json_turns_infinity_into_null(spec_a: Spec) -> None:
    placement = Placement(
        tuple(
            Assignment(a.component, "cloud", SimplePattern("server")) if a.component == "ocr" else a
            for a in search(spec_a).feasible[0].placement.assignments
        )
    )
    data = metrics_json(evaluate(spec_a, placement, "offline"))
    assert data["latency_worst_s"] is None
    json.dumps(data, allow_nan=False)


def test_mermaid_draws_the_hybrid_with_a_dashed_fallback(spec_a: Spec) -> None:
    text = build_report(spec_a, "wifi").mermaid()
    assert text.startswith("flowchart LR\n")
    assert "  subgraph cloud[cloud]" in text
    assert 'translate_cloud["translate 20 ms, 22-102 replicas"]' in text
    assert 'translate_phone_fallback["translate (offline fallback) 80 ms"]' in text
    assert (
        'ocr_glasses -- "text 2 KB | bt 20-100 ms, util 0.53% | wifi 20 ms, util 0.03%" '
        "--> translate_cloud" in text
    )
    assert "ocr_glasses -. " in text


def test_report_without_feasible_placements_has_no_recommendation() -> None:
    spec = parse_spec(SPLIT.replace("max_s: 1.5", "max_s: 0.01"))
    report = build_report(spec)
    assert report.rows == ()
    assert report.recommendation is None
    assert report.mermaid() == ""
    assert all("> 0.01 s (hard)" in row.reasons[-1] for row in report.rejected)


# ------------------------------------------------------------- second example


def test_smart_keyboard_keeps_the_small_model_on_the_phone() -> None:
    """The large model only fits the cloud; offline and privacy keep the pick on the phone."""
    spec = load_spec(EXAMPLES / "smart_keyboard.yaml")
    wifi = build_report(spec, "wifi")
    assert [row.label for row in wifi.rows] == [
        "P[small]",
        "C[small]",
        "hybrid(C|P)[small]",
        "C[large]",
    ]
    assert {row.label for row in wifi.front} == {row.label for row in wifi.rows}
    assert wifi.recommendation is not None
    assert wifi.recommendation.label == "P[small]"
    large = next(row.metrics for row in wifi.rows if row.label == "C[large]")
    assert large is not None
    assert large.accuracy == pytest.approx(0.38)
    assert [(r.average, r.peak) for r in large.replicas] == [(112, 1201)]
    ram = {row.label: row.reasons for row in wifi.rejected}
    assert ram["P[large]"] == ("phone RAM 800 MB > 300 MB available (predictor 800 MB)",)
    cellular = build_report(spec, "cellular")
    assert [row.label for row in cellular.rows] == ["P[small]"]
    slow = {row.label: row.reasons for row in cellular.rejected}
    assert slow["C[large]"] == (
        "latency keys → predictor → suggestions: worst ≥ 0.164 s > 0.1 s (hard)",
    )


def test_telemetry_uploads_sample_raw_inputs_no_server_sees() -> None:
    """1% of the 2 MB frames, uploaded on Wi-Fi only: 540 MB per user per month."""
    text = (EXAMPLES / "ar_translation.yaml").read_text(encoding="utf-8")
    spec = parse_spec(text + "telemetry: {sample_rate: 0.01, upload_on: [wifi]}\n")
    on_wifi = {row.label: row.metrics for row in build_report(spec, "wifi").rows}
    on_cell = {row.label: row.metrics for row in build_report(spec, "cellular").rows}
    for label in ("G-P", "G-C"):
        assert on_wifi[label] is not None
        assert on_cell[label] is not None
        assert on_wifi[label].telemetry_bytes_per_user_month == pytest.approx(540e6)
        assert on_cell[label].telemetry_bytes_per_user_month == 0
