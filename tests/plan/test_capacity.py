"""Capacity planning (roost.plan): Erlang B/C, M/M/c replicas, batching, HPA settings.

The expected numbers are the worked AR-translation example of the placement-planner
research note (§4.6, test assertions T3–T5, and its capacity table), to ±1%.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.errors import ConfigError, PlanError
from roost.plan import (
    AutoscalerSettings,
    BatchingPlan,
    BatchLatencyFit,
    CapacityPlan,
    autoscaler_settings,
    batching_plan,
    erlang_b,
    erlang_c,
    fit_batch_latency,
    hpa_desired_replicas,
    replicas_for,
)

#: resnet50_v2 from Clockwork's model table: batch size -> latency of one batch, ms
RESNET50_MS = {1: 2.73, 2: 4.05, 4: 5.87, 8: 9.93, 16: 17.30}
#: the AR example's peak and average rates, req/s
PEAK_RPS, AVERAGE_RPS = 5000.0, 1041.7
#: the cloud models' service times, s, and the server-side target, p99 within 100 ms
OCR_S, TRANSLATION_S, SLO_S = 0.025, 0.020, 0.100


def close(value: float, expected: float, rel: float = 0.01) -> bool:
    return value == pytest.approx(expected, rel=rel)


# ---------------------------------------------------------------- Erlang B and C


@pytest.mark.parametrize(
    ("c", "expected"),
    [(3, 0.7022), (4, 0.3199), (5, 0.1304), (6, 0.0474)],
    ids=["c3", "c4", "c5", "c6"],
)
def test_erlang_c_matches_t3(c: int, expected: float) -> None:
    """T3: a = 2.5 Erlangs (30 calls an hour of 5 minutes each)."""
    assert erlang_c(c, 2.5) == pytest.approx(expected, abs=5e-5)


def _erlang_c_closed_form(c: int, a: float) -> float:
    """The textbook formula, in logs so that aᶜ/c! does not overflow."""
    log_terms = [k * math.log(a) - math.lgamma(k + 1) for k in range(c)]
    log_last = c * math.log(a) - math.lgamma(c + 1) + math.log(c / (c - a))
    top = max(*log_terms, log_last)
    total = sum(math.exp(t - top) for t in log_terms) + math.exp(log_last - top)
    return math.exp(log_last - top) / total


@pytest.mark.parametrize(("c", "a"), [(7, 3.2), (130, 125.0), (520, 500.0), (2000, 1950.0)])
def test_erlang_c_large_pools_match_closed_form(c: int, a: float) -> None:
    """The Erlang-B recursion stays accurate where aᶜ/c! overflows a float."""
    assert erlang_c(c, a) == pytest.approx(_erlang_c_closed_form(c, a), rel=1e-9)


def test_erlang_b_matches_closed_form() -> None:
    expected = (2.5**3 / 6) / (1 + 2.5 + 2.5**2 / 2 + 2.5**3 / 6)
    assert erlang_b(3, 2.5) == pytest.approx(expected)


@pytest.mark.parametrize(("c", "a"), [(2, 2.5), (3, 3.0), (0, 0.0)], ids=["below", "equal", "zero"])
def test_erlang_c_overloaded_pool_always_waits(c: int, a: float) -> None:
    assert erlang_c(c, a) == 1.0


def test_erlang_c_no_load_never_waits() -> None:
    assert erlang_c(4, 0.0) == 0.0


@pytest.mark.parametrize(
    ("c", "a", "name"),
    [(-1, 1.0, "c"), (2.0, 1.0, "c"), (True, 1.0, "c"), (2, -0.5, "a"), (2, math.nan, "a")],
    ids=["negative-c", "float-c", "bool-c", "negative-a", "nan-a"],
)
def test_erlang_bad_arguments_raise_config_error(c: Any, a: float, name: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name}: expected"):
        erlang_c(c, a)


@given(st.integers(0, 400), st.floats(0, 600, allow_nan=False))
def test_erlang_c_is_a_probability(c: int, a: float) -> None:
    assert 0 <= erlang_c(c, a) <= 1
    assert 0 <= erlang_b(c, a) <= 1


# ------------------------------------------------------------ replicas (M/M/c)


@pytest.mark.parametrize(
    ("rate", "service_s", "slo_s", "replicas"),
    [
        (PEAK_RPS, OCR_S, SLO_S, 127),
        (PEAK_RPS, TRANSLATION_S, SLO_S, 102),
        (PEAK_RPS, OCR_S, 0.030, 139),
        (PEAK_RPS, OCR_S, 0.050, 130),
        (AVERAGE_RPS, OCR_S, SLO_S, 28),
        (AVERAGE_RPS, TRANSLATION_S, SLO_S, 22),
        (416.7, TRANSLATION_S, SLO_S, 10),
    ],
    ids=[
        "ocr-peak",
        "translation-peak",
        "ocr-slo-30ms",
        "ocr-slo-50ms",
        "ocr-average",
        "translation-average",
        "cache-misses",
    ],
)
def test_replicas_for_matches_ar_capacity_table(
    rate: float, service_s: float, slo_s: float, replicas: int
) -> None:
    plan = replicas_for(rate, service_s, slo_s)
    assert plan.feasible
    assert plan.replicas == plan.required_replicas == replicas


@pytest.mark.parametrize(
    ("service_s", "p_wait", "replicas_at_70_percent"),
    [(OCR_S, 0.80, 179), (TRANSLATION_S, 0.78, 143)],
    ids=["ocr", "translation"],
)
def test_replicas_for_ar_peak_queue_figures(
    service_s: float, p_wait: float, replicas_at_70_percent: int
) -> None:
    plan = replicas_for(PEAK_RPS, service_s, SLO_S)
    assert close(plan.offered_load, PEAK_RPS * service_s)
    assert close(plan.utilization, 0.98)
    assert plan.p_wait == pytest.approx(p_wait, abs=0.01)
    capped = replicas_for(PEAK_RPS, service_s, SLO_S, max_utilization=0.7)
    assert capped.replicas == replicas_at_70_percent


def test_replicas_for_reports_waits_little_and_staffing() -> None:
    plan = replicas_for(PEAK_RPS, OCR_S, SLO_S)
    drain = plan.replicas / OCR_S - PEAK_RPS
    assert close(plan.mean_wait_s, plan.p_wait / drain)
    assert close(plan.wait_quantile_s, math.log(plan.p_wait / 0.01) / drain)
    assert plan.wait_quantile_s + OCR_S <= SLO_S
    assert close(plan.in_system, PEAK_RPS * (plan.mean_wait_s + OCR_S))
    assert plan.sqrt_staffing_beta is not None
    assert close(plan.sqrt_staffing_beta, (127 - 125) / math.sqrt(125))


def test_replicas_for_service_over_slo_is_infeasible_with_reason() -> None:
    """Not an exception: the plan says why, and the caller decides."""
    plan = replicas_for(PEAK_RPS, 0.120, SLO_S)
    assert not plan.feasible
    assert plan.replicas == plan.required_replicas == 0
    assert "120 ms" in plan.reason
    assert "100 ms" in plan.reason
    assert plan.slo_rps_per_replica == 0.0


def test_replicas_for_headroom_rounds_up_the_count() -> None:
    plan = replicas_for(PEAK_RPS, OCR_S, SLO_S, headroom=1.25)
    assert plan.required_replicas == 127
    assert plan.replicas == math.ceil(127 * 1.25)
    assert close(plan.utilization, 125 / plan.replicas)


def test_replicas_for_headroom_ignores_float_noise() -> None:
    """100 × 1.1 is 110.00000000000001 in floats; that is 110 replicas, not 111."""
    plan = replicas_for(50.0, 1.0, 10.0, max_utilization=0.5, headroom=1.1)
    assert plan.required_replicas == 100
    assert plan.replicas == 110


def test_replicas_for_no_traffic_keeps_one_replica() -> None:
    plan = replicas_for(0.0, OCR_S, SLO_S)
    assert plan.replicas == 1
    assert plan.p_wait == plan.utilization == 0.0
    assert plan.sqrt_staffing_beta is None


def test_replicas_for_deterministic_service_needs_fewer_replicas() -> None:
    """The Allen–Cunneen factor: constant service (cs² = 0) halves the waits."""
    poisson = replicas_for(PEAK_RPS, OCR_S, SLO_S)
    constant = replicas_for(PEAK_RPS, OCR_S, SLO_S, service_cv2=0.0)
    bursty = replicas_for(PEAK_RPS, OCR_S, SLO_S, arrival_cv2=4.0)
    assert constant.replicas <= poisson.replicas < bursty.replicas
    same = replicas_for(AVERAGE_RPS, OCR_S, 1.0, service_cv2=0.0)
    mm = replicas_for(AVERAGE_RPS, OCR_S, 1.0)
    assert same.replicas == mm.replicas
    assert close(same.mean_wait_s, mm.mean_wait_s / 2)


def test_replicas_for_fully_deterministic_traffic_never_waits() -> None:
    plan = replicas_for(PEAK_RPS, OCR_S, SLO_S, arrival_cv2=0.0, service_cv2=0.0)
    assert plan.replicas == 126
    assert plan.mean_wait_s == plan.wait_quantile_s == 0.0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"rate_rps": -1.0}, "rate_rps"),
        ({"rate_rps": math.inf}, "rate_rps"),
        ({"service_s": 0.0}, "service_s"),
        ({"slo_s": -0.1}, "slo_s"),
        ({"percentile": 1.0}, "percentile"),
        ({"percentile": 0.0}, "percentile"),
        ({"arrival_cv2": -1.0}, "arrival_cv2"),
        ({"service_cv2": math.nan}, "service_cv2"),
        ({"max_utilization": 0.0}, "max_utilization"),
        ({"max_utilization": 1.5}, "max_utilization"),
        ({"headroom": 0.9}, "headroom"),
        ({"rate_rps": 1e9, "service_s": 1.0, "slo_s": 2.0}, "rate_rps × service_s"),
    ],
    ids=[
        "negative-rate",
        "infinite-rate",
        "zero-service",
        "negative-slo",
        "percentile-1",
        "percentile-0",
        "negative-arrival-cv2",
        "nan-service-cv2",
        "zero-utilization",
        "utilization-over-1",
        "headroom-below-1",
        "offered-load-too-large",
    ],
)
def test_replicas_for_bad_argument_raises_config_error(kwargs: dict[str, float], name: str) -> None:
    arguments = {"rate_rps": PEAK_RPS, "service_s": OCR_S, "slo_s": SLO_S, **kwargs}
    with pytest.raises(ConfigError, match=f"^{re.escape(name)}: expected"):
        replicas_for(**arguments)


def test_capacity_plan_rejects_reason_without_infeasibility() -> None:
    with pytest.raises(ConfigError, match="reason exactly when"):
        CapacityPlan(1, 1, 2, 0.99, 1, True, "why", 1, 1, 1, 1, 0, 0, 0, 1, 0)


_rates = st.floats(0.1, 4000, allow_nan=False)
_services = st.floats(0.0005, 0.2, allow_nan=False)
_slo_factors = st.floats(0.5, 20, allow_nan=False)
_percentiles = st.floats(0.5, 0.999, allow_nan=False)
_cv2s = st.floats(0, 4, allow_nan=False)
_utilizations = st.floats(0.3, 1.0, allow_nan=False)
_headrooms = st.floats(1.0, 2.0, allow_nan=False)


@given(_rates, st.floats(1.001, 5), _services, _slo_factors, _percentiles, _cv2s, _cv2s)
def test_replicas_never_decrease_when_rate_grows(
    rate: float,
    growth: float,
    service_s: float,
    slo_factor: float,
    percentile: float,
    arrival_cv2: float,
    service_cv2: float,
) -> None:
    slo_s = service_s * slo_factor
    kwargs = {"percentile": percentile, "arrival_cv2": arrival_cv2, "service_cv2": service_cv2}
    before = replicas_for(rate, service_s, slo_s, **kwargs)
    after = replicas_for(rate * growth, service_s, slo_s, **kwargs)
    assert before.feasible == after.feasible
    assert before.replicas <= after.replicas


@given(_rates, _services, _slo_factors, _percentiles, _cv2s, _cv2s, _utilizations, _headrooms)
def test_replicas_for_feasible_plan_is_stable_and_meets_target(
    rate: float,
    service_s: float,
    slo_factor: float,
    percentile: float,
    arrival_cv2: float,
    service_cv2: float,
    max_utilization: float,
    headroom: float,
) -> None:
    """P(wait) is a probability; a feasible plan is below saturation and within the target."""
    slo_s = service_s * slo_factor
    plan = replicas_for(
        rate, service_s, slo_s, percentile, arrival_cv2, service_cv2, max_utilization, headroom
    )
    assert 0 <= plan.p_wait <= 1
    assert plan.feasible == (slo_s > service_s)
    if plan.feasible:
        assert plan.utilization < 1
        assert plan.offered_load / plan.required_replicas <= max_utilization
        assert plan.replicas >= plan.required_replicas >= 1
        assert plan.wait_quantile_s + service_s <= slo_s * (1 + 1e-9)


# -------------------------------------------------------------------- batching


def test_batching_plan_matches_t4() -> None:
    """T4: λ = 5,000 req/s within 50 ms on resnet50: b* = 16, 925 req/s, 6 replicas (14)."""
    plan = batching_plan(PEAK_RPS, 0.050, RESNET50_MS)
    assert plan.feasible
    assert plan.batch_size == 16
    assert close(plan.throughput_rps, 925)
    assert plan.replicas == plan.required_replicas == 6
    assert plan.unbatched_replicas == 14
    assert close(plan.latency_bound_ms, 34.6)
    assert close(plan.utilization, PEAK_RPS / (6 * plan.throughput_rps))


def test_batching_plan_tight_slo_picks_smaller_batch() -> None:
    """Within 20 ms only b <= 8 fits (2 × 9.93 ms); 16 would take 34.6 ms."""
    plan = batching_plan(PEAK_RPS, 0.020, RESNET50_MS)
    assert plan.batch_size == 8
    assert plan.replicas == math.ceil(PEAK_RPS / (8 / 0.00993))


def test_batching_plan_headroom_scales_the_rate() -> None:
    plan = batching_plan(PEAK_RPS, 0.050, RESNET50_MS, headroom=1.5)
    assert plan.required_replicas == 6
    assert plan.replicas == math.ceil(PEAK_RPS / plan.throughput_rps * 1.5)


def test_batching_plan_no_batch_fits_is_infeasible_with_reason() -> None:
    plan = batching_plan(PEAK_RPS, 0.005, RESNET50_MS)
    assert not plan.feasible
    assert plan.replicas == plan.batch_size == 0
    assert "5 ms" in plan.reason
    assert "2.73 ms" in plan.reason
    assert plan.slo_rps_per_replica == 0.0


def test_batching_plan_without_batch_of_one_has_no_unbatched_count() -> None:
    plan = batching_plan(PEAK_RPS, 0.050, {4: 5.87, 16: 17.30})
    assert plan.batch_size == 16
    assert plan.unbatched_replicas is None


def test_batching_plan_single_size_profile_has_no_fit() -> None:
    plan = batching_plan(10.0, 0.050, {1: 2.73})
    assert plan.fit is None
    assert plan.replicas == 1


def test_batching_plan_equal_throughput_prefers_smaller_batch() -> None:
    plan = batching_plan(100.0, 1.0, {2: 4.0, 4: 8.0})
    assert plan.batch_size == 2


def test_batching_plan_no_traffic_keeps_one_replica() -> None:
    assert batching_plan(0.0, 0.050, RESNET50_MS).replicas == 1


def test_fit_batch_latency_matches_note() -> None:
    """α ≈ 2.01 ms and β ≈ 0.963 ms per request, so X(b) approaches about 1,038 req/s."""
    fit = fit_batch_latency(RESNET50_MS)
    assert fit == batching_plan(PEAK_RPS, 0.050, RESNET50_MS).fit
    assert isinstance(fit, BatchLatencyFit)
    assert close(fit.alpha_ms, 2.01)
    assert close(fit.beta_ms, 0.963)
    assert close(fit.latency_ms(16), 2.0054 + 0.96300 * 16)
    assert close(fit.max_throughput_rps, 1000 / 0.963)


def test_fit_batch_latency_needs_two_sizes() -> None:
    with pytest.raises(ConfigError, match="two batch sizes or more"):
        fit_batch_latency({1: 2.73})


@pytest.mark.parametrize(
    ("profile", "fragment"),
    [
        ({}, "at least one entry"),
        ({0: 1.0}, "ints >= 1"),
        ({"2": 1.0}, "ints >= 1"),
        ({True: 1.0}, "ints >= 1"),
        ({2: 0.0}, "latency_ms_by_batch[2]: expected a latency"),
        ({2: math.inf}, "latency_ms_by_batch[2]: expected a latency"),
    ],
    ids=["empty", "zero-size", "string-size", "bool-size", "zero-latency", "infinite-latency"],
)
def test_batching_plan_bad_profile_raises_config_error(
    profile: dict[Any, float], fragment: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        batching_plan(PEAK_RPS, 0.050, profile)


@given(
    st.floats(0, 1e5, allow_nan=False),
    st.floats(1.001, 5),
    st.dictionaries(st.integers(1, 256), st.floats(0.1, 100), min_size=1, max_size=8),
    st.floats(0.001, 1.0),
)
def test_batching_replicas_never_decrease_when_rate_grows(
    rate: float, growth: float, profile: dict[int, float], slo_s: float
) -> None:
    before = batching_plan(rate, slo_s, profile)
    after = batching_plan(rate * growth, slo_s, profile)
    assert before.replicas <= after.replicas
    if after.feasible:
        assert 2 * after.batch_latency_ms <= slo_s * 1000
        assert after.utilization <= 1


# ----------------------------------------------------------------- autoscaling


@pytest.mark.parametrize(
    ("current", "metric", "target", "desired"),
    [(50, 90, 75, 60), (50, 80, 75, 50), (50, 60, 75, 40), (50, 82, 75, 50), (0, 90, 75, 0)],
    ids=["t5-scale-up", "t5-within-tolerance", "scale-down", "just-within-tolerance", "no-pods"],
)
def test_hpa_desired_replicas_matches_t5(
    current: int, metric: float, target: float, desired: int
) -> None:
    assert hpa_desired_replicas(current, metric, target) == desired


def test_hpa_desired_replicas_zero_tolerance_acts_on_any_change() -> None:
    assert hpa_desired_replicas(50, 80, 75, tolerance=0.0) == 54


@pytest.mark.parametrize(
    ("args", "name"),
    [((-1, 90, 75), "current"), ((5, -1, 75), "metric"), ((5, 90, 0), "target")],
    ids=["current", "metric", "target"],
)
def test_hpa_desired_replicas_bad_argument_raises_config_error(
    args: tuple[int, float, float], name: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{name}: expected"):
        hpa_desired_replicas(*args)


def test_autoscaler_settings_from_ar_peak_and_average() -> None:
    peak = replicas_for(PEAK_RPS, OCR_S, SLO_S)
    settings = autoscaler_settings(peak, replicas_for(AVERAGE_RPS, OCR_S, SLO_S))
    assert isinstance(settings, AutoscalerSettings)
    assert (settings.min_replicas, settings.max_replicas) == (28, 127)
    assert close(settings.target_rps_per_pod, PEAK_RPS / 127)
    assert settings.slo_rps_per_pod == settings.target_rps_per_pod
    assert (
        hpa_desired_replicas(127, settings.target_rps_per_pod, settings.target_rps_per_pod) == 127
    )
    (note,) = settings.notes
    assert "headroom 1.1 or more" in note


def test_autoscaler_settings_headroom_covers_tolerance() -> None:
    """With headroom >= 1 + tolerance, the HPA's dead band stays within ρ*·μ: no note."""
    peak = replicas_for(PEAK_RPS, OCR_S, SLO_S, headroom=1.1)
    low = replicas_for(AVERAGE_RPS, OCR_S, SLO_S, headroom=1.1)
    settings = autoscaler_settings(peak, low)
    assert settings.max_replicas == math.ceil(127 * 1.1)
    assert settings.target_rps_per_pod * 1.1 <= settings.slo_rps_per_pod
    assert settings.notes == ()


def test_autoscaler_settings_from_batching_plan_targets_batched_throughput() -> None:
    plan = batching_plan(PEAK_RPS, 0.050, RESNET50_MS)
    settings = autoscaler_settings(plan)
    assert settings.min_replicas == 1
    assert settings.max_replicas == 6
    assert close(settings.target_rps_per_pod, PEAK_RPS / 6)
    assert close(settings.slo_rps_per_pod, 925)
    assert any("minReplicas is 1" in note for note in settings.notes)


def test_autoscaler_settings_infeasible_peak_raises_plan_error() -> None:
    with pytest.raises(PlanError, match="peak plan is infeasible"):
        autoscaler_settings(replicas_for(PEAK_RPS, 0.2, SLO_S))


def test_autoscaler_settings_low_above_peak_raises_config_error() -> None:
    peak = replicas_for(AVERAGE_RPS, OCR_S, SLO_S)
    with pytest.raises(ConfigError, match=r"^low\.rate_rps: expected at most"):
        autoscaler_settings(peak, replicas_for(PEAK_RPS, OCR_S, SLO_S))


def test_autoscaler_settings_no_traffic_raises_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^peak\.rate_rps"):
        autoscaler_settings(replicas_for(0.0, OCR_S, SLO_S))


def test_batching_plan_is_a_value_object() -> None:
    plan = batching_plan(PEAK_RPS, 0.050, RESNET50_MS)
    assert isinstance(plan, BatchingPlan)
    with pytest.raises(AttributeError):
        plan.replicas = 3  # type: ignore[misc]
