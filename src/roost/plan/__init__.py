"""Planning: how many replicas a model needs, with and without batching, and how to autoscale.

- capacity (``replicas_for``): the replicas that meet a latency target at a request
  rate, from Erlang C (M/M/c) with a G/G/c correction;
- batching (``batching_plan``): the batch size of highest throughput within the target,
  from a measured batch-latency profile;
- autoscaling (``autoscaler_settings``, ``hpa_desired_replicas``): the plans as
  HorizontalPodAutoscaler settings;
- profiling (``profile_model``): a registered model measured on this machine, the
  batch-latency profile capacity planning reads.

- placement (``load_spec``, ``search``, ``build_report``): where each component of a
  system should run (device, edge, cloud; static, client, server, cached, hybrid), with
  latency, bandwidth, energy, cost, updates, offline use and telemetry, the Pareto front
  and a recommendation.

Pure functions, dataclasses in and out. docs/planner.md and docs/capacity.md have the long
form.
"""

from __future__ import annotations

from roost.plan._autoscale import AutoscalerSettings, autoscaler_settings, hpa_desired_replicas
from roost.plan._batching import (
    BatchingPlan,
    BatchLatencyFit,
    batching_plan,
    fit_batch_latency,
)
from roost.plan._model_profile import ModelProfile
from roost.plan.capacity import CapacityPlan, erlang_b, erlang_c, replicas_for
from roost.plan.diagram import mermaid
from roost.plan.evaluate import evaluate
from roost.plan.load import load_spec, parse_spec
from roost.plan.metrics import Metrics
from roost.plan.pareto import dominates, fronts
from roost.plan.placement import Assignment, Placement
from roost.plan.profile import profile_model
from roost.plan.report import Recommendation, Report, Row, build_report, placement_label
from roost.plan.search import ChainOptimum, Rejection, SearchResult, best_chain, search
from roost.plan.spec import Spec

__all__ = [
    "Assignment",
    "AutoscalerSettings",
    "BatchLatencyFit",
    "BatchingPlan",
    "CapacityPlan",
    "ChainOptimum",
    "Metrics",
    "ModelProfile",
    "Placement",
    "Recommendation",
    "Rejection",
    "Report",
    "Row",
    "SearchResult",
    "Spec",
    "autoscaler_settings",
    "batching_plan",
    "best_chain",
    "build_report",
    "dominates",
    "erlang_b",
    "erlang_c",
    "evaluate",
    "fit_batch_latency",
    "fronts",
    "hpa_desired_replicas",
    "load_spec",
    "mermaid",
    "parse_spec",
    "placement_label",
    "profile_model",
    "replicas_for",
    "search",
]
