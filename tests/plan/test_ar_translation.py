"""The worked AR-translation case of the placement-planner research note (§4.6).

Assertions T1 (the scenario A and B tables, their infeasibility reasons and fronts),
T2 (Hulten's distribution example, §3.1) and T6 (the motion loop and video over
Bluetooth), the hand check of (G, C, cellular, worst) and the cached-translation row.
Tolerances are the note's: ±0.002 s on latencies and ±1% elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roost.plan.evaluate import evaluate
from roost.plan.load import load_spec, parse_spec
from roost.plan.metrics import Metrics, objective_sense, objective_value
from roost.plan.network import Network
from roost.plan.pareto import fronts
from roost.plan.placement import Assignment, Placement
from roost.plan.report import build_report, placement_label
from roost.plan.search import search
from roost.plan.spec import CachedPattern, HybridPattern, SimplePattern, Spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECONDS = 0.002
REL = 0.01
LETTER = {"G": "glasses", "P": "phone", "C": "cloud"}


@pytest.fixture(scope="module")
def spec_a() -> Spec:
    return load_spec(EXAMPLES / "ar_translation.yaml")


@pytest.fixture(scope="module")
def spec_b() -> Spec:
    return load_spec(EXAMPLES / "ar_translation_crop.yaml")


def pure(spec: Spec, label: str) -> Placement:
    """The placement ``G-C`` (OCR, then translation): client on a device, server in the cloud."""
    where = dict(zip(("ocr", "translate"), (LETTER[x] for x in label.split("-")), strict=True))
    assignments = []
    for name, component in spec.components.items():
        location = where.get(name, component.allowed_at[0])
        is_server = spec.locations[location].is_server
        pattern = SimplePattern("server") if is_server else SimplePattern("client")
        assignments.append(Assignment(name, location, pattern))
    return Placement(tuple(assignments))


def with_translate(spec: Spec, pattern: CachedPattern | HybridPattern) -> Placement:
    """OCR on the glasses, translation cached or hybrid."""
    placement = pure(spec, "G-P")
    return Placement(
        tuple(
            Assignment(a.component, a.location, pattern) if a.component == "translate" else a
            for a in placement.assignments
        )
    )


def translate_pattern(spec: Spec, kind: type) -> CachedPattern | HybridPattern:
    patterns = [p for p in spec.components["translate"].patterns if isinstance(p, kind)]
    assert len(patterns) == 1
    pattern = patterns[0]
    assert isinstance(pattern, CachedPattern | HybridPattern)
    return pattern


def assert_latency(metrics: Metrics, best: float, worst: float) -> None:
    assert metrics.latency.best == pytest.approx(best, abs=SECONDS)
    assert metrics.latency.worst == pytest.approx(worst, abs=SECONDS)


# ------------------------------------------------------------------ T1, scenario A

#: label, scenario, L best, L worst, BT util, glasses J, phone J, user $, operator avg/peak,
#: replicas avg/peak, update GB, offline, telemetry
SCENARIO_A = [
    ("G-P", "wifi", 0.931, 1.091, 0.0053, 1.2011, 0.2507, 0.0, 0, 0, None, 18_000, 1.0, 0),
    ("G-P", "cellular", 0.931, 1.091, 0.0053, 1.2011, 0.2507, 0.0, 0, 0, None, 18_000, 1.0, 0),
    (
        "G-C",
        "wifi",
        0.911,
        1.071,
        0.0053,
        1.2011,
        0.0113,
        0.0,
        12_045,
        55_845,
        (22, 102),
        3_000,
        0.0,
        1,
    ),
    (
        "G-C",
        "cellular",
        0.974,
        1.134,
        0.0053,
        1.2011,
        0.0139,
        1.08,
        12_045,
        55_845,
        (22, 102),
        3_000,
        0.0,
        1,
    ),
]


@pytest.mark.parametrize("row", SCENARIO_A, ids=[f"{r[0]}-{r[1]}" for r in SCENARIO_A])
def test_scenario_a_feasible_rows_match_the_note(spec_a: Spec, row: tuple[Any, ...]) -> None:
    (
        label,
        scenario,
        best,
        worst,
        bt,
        glasses,
        phone,
        user,
        op_avg,
        op_peak,
        replicas,
        update,
        offline,
        tel,
    ) = row
    metrics = evaluate(spec_a, pure(spec_a, label), scenario)
    assert metrics.is_feasible, metrics.reasons
    assert_latency(metrics, best, worst)
    assert metrics.link_utilization["bt"] == pytest.approx(bt, rel=REL)
    assert metrics.energy_j["glasses"] == pytest.approx(glasses, rel=REL)
    assert metrics.energy_j["phone"] == pytest.approx(phone, rel=REL)
    assert metrics.user_usd_month == pytest.approx(user, rel=REL)
    assert metrics.operator_usd_month_average == pytest.approx(op_avg, rel=REL)
    assert metrics.operator_usd_month_peak == pytest.approx(op_peak, rel=REL)
    if replicas is not None:
        assert [(r.average, r.peak) for r in metrics.replicas] == [replicas]
    assert metrics.update_gb_month == pytest.approx(update, rel=REL)
    assert metrics.offline_coverage == offline
    assert metrics.telemetry == tel


def test_scenario_a_g_g_is_infeasible_for_glasses_ram(spec_a: Spec) -> None:
    metrics = evaluate(spec_a, pure(spec_a, "G-G"))
    assert metrics.latency.worst == pytest.approx(1.300, abs=SECONDS)
    assert metrics.energy_j["glasses"] == pytest.approx(1.95, rel=REL)
    assert metrics.update_gb_month == pytest.approx(18_000, rel=REL)
    assert metrics.offline_coverage == 1.0
    assert metrics.reasons == (
        "glasses RAM 650 MB > 512 MB available (ocr 250 MB, translate 400 MB)",
    )


#: OCR letter, scenario, lowest best, highest worst, glasses J range, phone J range, user $
OFF_THE_GLASSES = [
    ("P", "wifi", 5.56, 6.16, (0.53, 1.28), (5.6, 5.9), None),
    ("P", "cellular", 5.58, 6.16, (0.53, 1.28), (5.6, 5.9), None),
    ("C", "wifi", 5.76, 6.40, (0.53, 1.28), (5.6, 5.9), 0.0),
    ("C", "cellular", 7.13, 7.77, (0.53, 1.28), (6.9, 7.2), 540.54),
]


@pytest.mark.parametrize("row", OFF_THE_GLASSES, ids=[f"{r[0]}-*-{r[1]}" for r in OFF_THE_GLASSES])
def test_scenario_a_ocr_off_the_glasses_is_infeasible(spec_a: Spec, row: tuple[Any, ...]) -> None:
    """BT utilisation 2.67 > 1 and latency > 2 s, for every translation location."""
    ocr, scenario, lowest, highest, glasses, phone, user = row
    rows = [evaluate(spec_a, pure(spec_a, f"{ocr}-{tr}"), scenario) for tr in "GPC"]
    for metrics in rows:
        assert metrics.link_utilization["bt"] == pytest.approx(2.67, rel=REL)
        assert "link 'bt' utilisation 2.67 > 1" in metrics.reasons
        assert any(
            r.startswith("latency camera → ocr → translate → renderer") for r in metrics.reasons
        )
        assert glasses[0] - 0.01 <= metrics.energy_j["glasses"] <= glasses[1] + 0.01
        assert phone[0] - 0.1 <= metrics.energy_j["phone"] <= phone[1] + 0.05
        if user is not None:
            assert metrics.user_usd_month == pytest.approx(user, rel=REL)
    assert min(m.latency.best for m in rows) == pytest.approx(lowest, abs=0.005)
    assert max(m.latency.worst for m in rows) == pytest.approx(highest, abs=0.005)


@pytest.mark.parametrize("scenario", ["wifi", "cellular", "offline"])
def test_scenario_a_search_keeps_only_ocr_on_the_glasses(spec_a: Spec, scenario: str) -> None:
    result = search(spec_a, scenario)
    assert result.feasible
    assert {m.placement.of("ocr").location for m in result.feasible} == {"glasses"}
    off = [
        r
        for r in result.rejected
        if any(a.component == "ocr" and a.location != "glasses" for a in r.assignments)
    ]
    assert {a.location for r in off for a in r.assignments if a.component == "ocr"} == {
        "phone",
        "cloud",
    }
    for rejection in off:
        if scenario == "offline" and ("ocr", "cloud") in {
            (a.component, a.location) for a in rejection.assignments
        }:
            assert rejection.reasons == ("no route from glasses to cloud for flow 'frame'",)
            continue
        assert "link 'bt' utilisation 2.67 > 1" in rejection.reasons
        assert any("> 2 s (hard)" in reason for reason in rejection.reasons)
    ram = [r for r in result.rejected if placement_label(spec_a, r.assignments).endswith("-G")]
    assert ram
    assert all("glasses RAM 650 MB > 512 MB" in r.reasons[0] for r in ram)


def test_scenario_a_front_holds_g_p_and_g_c(spec_a: Spec) -> None:
    rows = [evaluate(spec_a, pure(spec_a, label), "wifi") for label in ("G-P", "G-C")]
    names = spec_a.objectives
    senses = [objective_sense(spec_a, n) for n in names]
    assert fronts([[objective_value(m, n) for n in names] for m in rows], senses) == [1, 1]
    report = build_report(spec_a, "wifi")
    assert {"G-P", "G-C"} <= {row.label for row in report.front}


def test_scenario_a_recommends_the_hybrid_when_offline_is_preferred(spec_a: Spec) -> None:
    """Translation in the cloud online and on the phone offline, as the book sketches."""
    report = build_report(spec_a, "wifi")
    assert report.recommendation is not None
    assert report.recommendation.label == "G-hybrid(C|P)"
    chosen = report.recommendation.metrics
    online = evaluate(spec_a, pure(spec_a, "G-C"), "wifi")
    assert_latency(chosen, online.latency.best, online.latency.worst)
    assert chosen.offline_coverage == 1.0
    assert chosen.update_gb_month == pytest.approx(18_000, rel=REL)
    assert chosen.operator_usd_month_average == pytest.approx(online.operator_usd_month_average)
    assert any("offline is preferred" in step for step in report.recommendation.reasoning)


def test_scenario_a_hybrid_offline_runs_at_the_fallback(spec_a: Spec) -> None:
    placement = with_translate(spec_a, translate_pattern(spec_a, HybridPattern))
    offline = evaluate(spec_a, placement, "offline")
    assert_latency(offline, 0.931, 1.091)
    assert offline.operator_usd_month_average == 0


def test_scenario_a_static_ocr_drops_its_updates(spec_a: Spec) -> None:
    placement = pure(spec_a, "G-C")
    static = Placement(
        tuple(
            Assignment(a.component, a.location, SimplePattern("static"))
            if a.component == "ocr"
            else a
            for a in placement.assignments
        )
    )
    assert evaluate(spec_a, static).update_gb_month == pytest.approx(0.0, abs=0.2)
    assert evaluate(spec_a, static).update_lag > evaluate(spec_a, placement).update_lag


def test_hand_check_g_c_cellular_worst(spec_a: Spec) -> None:
    """0.820 s compute + 2 × 0.15693 s of text over BT and cellular = 1.134 s; $1.08/user/month."""
    route = Network(spec_a.scenario_links("cellular")).route("glasses", "cloud", 2000)
    assert route is not None
    assert [hop.link.name for hop in route.hops] == ["bt", "cell"]
    assert route.transfer_time(2000).worst == pytest.approx(0.15693, abs=1e-5)
    metrics = evaluate(spec_a, pure(spec_a, "G-C"), "cellular")
    assert metrics.latency.worst == pytest.approx(0.820 + 2 * 0.15693, abs=1e-4)
    assert metrics.latency.worst == pytest.approx(1.134, abs=SECONDS)
    assert metrics.link_bytes_per_user_month["cell"] == pytest.approx(108e6)
    assert metrics.user_usd_month == pytest.approx(1.08)


@pytest.mark.parametrize(
    ("scenario", "best", "worst", "hard", "user"),
    [("wifi", 0.875, 1.035, 1.071, 0.0), ("cellular", 0.901, 1.061, 1.134, 0.43)],
)
def test_cached_translation_row(
    spec_a: Spec, scenario: str, best: float, worst: float, hard: float, user: float
) -> None:
    """Phone phrase table, hit rate 0.6, 20 MB refreshed weekly; a miss goes to the cloud."""
    placement = with_translate(spec_a, translate_pattern(spec_a, CachedPattern))
    metrics = evaluate(spec_a, placement, scenario)
    assert metrics.is_feasible
    assert_latency(metrics, best, worst)
    assert metrics.latencies[0].bound.worst == pytest.approx(hard, abs=SECONDS)
    assert [(r.component, r.average) for r in metrics.replicas] == [("translate", 10)]
    assert metrics.replicas[0].share == pytest.approx(0.4)
    assert metrics.operator_usd_month_average == pytest.approx(5_475, rel=REL)
    assert metrics.user_usd_month == pytest.approx(user, abs=0.005)
    assert metrics.update_gb_month == pytest.approx(3_000 + 8_000, rel=REL)
    assert metrics.offline_coverage == pytest.approx(0.6)


# ------------------------------------------------------------------ T1, scenario B

#: label, L wifi, L cell, glasses J, phone J (wifi), user $ (cell), operator avg/peak,
#: update GB, offline, telemetry. The note rounds C-C's updates (two models pushed
#: once each to the cloud: 180 MB) to 0.
SCENARIO_B = [
    ("P-G", (0.849, 1.009), (0.849, 1.009), 0.8389, 0.4987, 0.0, 0, 0, 18_000, 1.0, 0),
    ("P-P", (0.429, 0.589), (0.429, 0.589), 0.0889, 0.7387, 0.0, 0, 0, 18_000, 1.0, 0),
    ("P-C", (0.409, 0.569), (0.472, 0.632), 0.0889, 0.4993, 1.08, 12_045, 55_845, 3_000, 0.0, 1),
    ("C-G", (0.801, 0.961), (0.895, 1.055), 0.8389, 0.1464, 14.04, 15_330, 69_532, 15_000, 0.0, 2),
    ("C-P", (0.381, 0.541), (0.475, 0.635), 0.0889, 0.3864, 14.04, 15_330, 69_532, 15_000, 0.0, 2),
    ("C-C", (0.321, 0.481), (0.415, 0.575), 0.0889, 0.1464, 14.04, 27_375, 125_378, 0.18, 0.0, 2),
]


@pytest.mark.parametrize("row", SCENARIO_B, ids=[r[0] for r in SCENARIO_B])
def test_scenario_b_rows_match_the_note(spec_b: Spec, row: tuple[Any, ...]) -> None:
    label, wifi, cell, glasses, phone, user, op_avg, op_peak, update, offline, tel = row
    on_wifi = evaluate(spec_b, pure(spec_b, label), "wifi")
    on_cell = evaluate(spec_b, pure(spec_b, label), "cellular")
    for metrics in (on_wifi, on_cell):
        assert metrics.is_feasible, metrics.reasons
        assert metrics.link_utilization["bt"] == pytest.approx(0.0693, rel=REL)
        assert metrics.energy_j["glasses"] == pytest.approx(glasses, rel=REL)
        assert metrics.operator_usd_month_average == pytest.approx(op_avg, rel=REL)
        assert metrics.operator_usd_month_peak == pytest.approx(op_peak, rel=REL)
        assert metrics.update_gb_month == pytest.approx(update, rel=REL)
        assert metrics.offline_coverage == offline
        assert metrics.telemetry == tel
    assert_latency(on_wifi, *wifi)
    assert_latency(on_cell, *cell)
    assert on_wifi.energy_j["phone"] == pytest.approx(phone, rel=REL)
    assert on_cell.user_usd_month == pytest.approx(user, rel=REL)


def _b_points(spec: Spec, names: tuple[str, ...]) -> tuple[list[str], list[int]]:
    labels = [row[0] for row in SCENARIO_B]
    metrics = [evaluate(spec, pure(spec, label), "wifi") for label in labels]
    senses = [objective_sense(spec, n) for n in names]
    return labels, fronts([[objective_value(m, n) for n in names] for m in metrics], senses)


def test_scenario_b_three_objective_front(spec_b: Spec) -> None:
    """On (worst latency on wifi, glasses J, operator $ at average load) P-P beats P-G and C-G."""
    labels, ranks = _b_points(spec_b, ("latency_worst", "glasses_energy", "operator_usd"))
    front = {label for label, rank in zip(labels, ranks, strict=True) if rank == 1}
    assert front == {"P-P", "P-C", "C-P", "C-C"}


def test_scenario_b_eight_objectives_leave_everything_non_dominated(spec_b: Spec) -> None:
    names = (
        "latency_worst",
        "glasses_energy",
        "phone_energy",
        "user_data_usd",
        "operator_usd",
        "update_gb",
        "offline",
        "telemetry",
    )
    _, ranks = _b_points(spec_b, names)
    assert ranks == [1] * 6


def test_scenario_b_surfaces_sensitive_crops_sent_to_the_cloud(spec_b: Spec) -> None:
    """C-P and C-C send 50 KB of raw image per request: 1.35 GB per user per month."""
    for label in ("C-P", "C-C"):
        metrics = evaluate(spec_b, pure(spec_b, label))
        assert metrics.sensitive_bytes_per_request == pytest.approx(50_000)
        assert metrics.sensitive_bytes_per_user_month == pytest.approx(1.35e9, rel=REL)
    assert evaluate(spec_b, pure(spec_b, "P-C")).sensitive_bytes_per_request == 0
    report = build_report(spec_b, "wifi")
    assert any(w.startswith("C-C sends 50 KB") and "1.35 GB" in w for w in report.warnings)


# ------------------------------------------------------------------------------ T2

HULTEN = """
name: hulten-distribution
locations:
  client: {kind: device, fleet_size: 100000}
  server: {kind: cloud, replica: {usd_per_hour: 1.0}}
links:
  internet: {ends: [client, server], one_way_latency_s: 0.05, bandwidth_bps: 10 Mbit/s}
network_scenarios: {online: [internet]}
components:
  user: {fixed_at: client}
  model:
    variants: {default: {compute_s: {client: 0.01, server: 0.01}, size_mb: 1}}
    updates_per_month: 30          # daily
flows:
  - {name: context, from: user, to: model, bytes: 100 KB}
workload:                          # 10 calls a day per user
  requests_per_s_per_active_user: 1
  active_s_per_user_per_day: 10
  days_per_month: 30
"""


@pytest.mark.parametrize(("where", "mb_per_day"), [("client", 100_000), ("server", 100_001)])
def test_hulten_distribution_client_vs_server(where: str, mb_per_day: float) -> None:
    """T2: a 1 MB model updated daily, 100k users × 10 calls: 100,000 vs 100,001 MB/day."""
    spec = parse_spec(HULTEN)
    pattern = SimplePattern("server") if where == "server" else SimplePattern("client")
    placement = Placement(
        (
            Assignment("user", "client", SimplePattern("client")),
            Assignment("model", where, pattern),
        )
    )
    metrics = evaluate(spec, placement)
    assert metrics.distribution_bytes_month / 30 / 1e6 == pytest.approx(mb_per_day, rel=1e-9)


# ------------------------------------------------------------------------------ T6

MOTION = """
locations:
  glasses:
    {kind: device, fleet_size: 1000, ram_available_mb: 512, power_w: {compute: 1.5, radio: 0.1}}
  phone: {kind: device, fleet_size: 1000, ram_available_mb: 2048}
  cloud: {kind: cloud, replica: {usd_per_hour: 0.75}}
links:
  bt:
    ends: [glasses, phone]
    one_way_latency_s: {best: 20 ms, worst: 100 ms}
    bandwidth_bps: 3 Mbit/s
  wifi: {ends: [phone, cloud], one_way_latency_s: 20 ms, bandwidth_bps: 54 Mbit/s}
network_scenarios: {wifi: [bt, wifi], offline: [bt]}
components:
  imu: {fixed_at: glasses}
  motion:
    latency_budget_s: 20 ms
    variants: {default: {compute_s: {glasses: 0.001, phone: 0.0005, cloud: 0.0001}, ram_mb: 10}}
  renderer: {fixed_at: glasses}
flows:
  - {from: imu, to: motion, bytes: 100}
  - {from: motion, to: renderer, bytes: 100}
workload: {requests_per_s_per_active_user: 60, active_s_per_user_per_day: 1800}
"""


@pytest.mark.parametrize("scenario", ["wifi", "offline"])
@pytest.mark.parametrize("exhaustive", [False, True], ids=["pruned", "exhaustive"])
def test_motion_tracker_off_the_glasses_is_always_infeasible(
    scenario: str, exhaustive: bool
) -> None:
    """T6: the 40 ms minimum Bluetooth round trip exceeds the 20 ms loop budget."""
    spec = parse_spec(MOTION)
    result = search(spec, scenario, exhaustive=exhaustive)
    assert [m.placement.of("motion").location for m in result.feasible] == ["glasses"]
    off = [r for r in result.rejected if any(a.component == "motion" for a in r.assignments)]
    assert off
    for rejection in off:
        (motion,) = [a for a in rejection.assignments if a.component == "motion"]
        assert motion.location != "glasses"
        if scenario == "offline" and motion.location == "cloud":
            assert any(reason.startswith("no route") for reason in rejection.reasons)
        else:
            assert any(
                reason.startswith(f"motion@{motion.location}: its loop takes")
                for reason in rejection.reasons
            )
            assert any(reason.endswith("> budget 0.02 s") for reason in rejection.reasons)


@pytest.mark.parametrize("stream_bps", ["4 Mbit/s", "10 Mbit/s"])
@pytest.mark.parametrize("scenario", ["wifi", "cellular", "offline"])
def test_video_over_bluetooth_is_always_infeasible(stream_bps: str, scenario: str) -> None:
    """T6: streaming 4-10 Mbit/s of video over 3 Mbit/s Bluetooth is 1.33-3.33× its capacity."""
    text = (EXAMPLES / "ar_translation.yaml").read_text(encoding="utf-8")
    frame = "{name: frame, from: camera, to: ocr, bytes: 2.0e6, sensitive: true}"
    assert frame in text
    spec = parse_spec(
        text.replace(
            frame, f"{{name: frame, from: camera, to: ocr, bytes: 0, stream_bps: {stream_bps}}}"
        )
    )
    expected = float(stream_bps.split()[0]) / 3
    result = search(spec, scenario, exhaustive=True)
    for metrics in result.feasible:
        assert metrics.placement.of("ocr").location == "glasses"
    streaming = [
        r
        for r in result.rejected
        if r.metrics is not None and r.metrics.placement.of("ocr").location != "glasses"
    ]
    assert streaming
    for rejection in streaming:
        assert rejection.metrics is not None
        if "bt" in rejection.metrics.link_utilization and not any(
            "no route" in x for x in rejection.reasons
        ):
            # the stream, plus the text and translation when they cross Bluetooth too
            assert rejection.metrics.link_utilization["bt"] == pytest.approx(expected, abs=0.006)
            assert any(reason.startswith("link 'bt' utilisation") for reason in rejection.reasons)
