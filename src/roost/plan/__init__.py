"""Planning: how many replicas a model needs, with and without batching, and how to autoscale.

- capacity (``replicas_for``): the replicas that meet a latency target at a request
  rate, from Erlang C (M/M/c) with a G/G/c correction;
- batching (``batching_plan``): the batch size of highest throughput within the target,
  from a measured batch-latency profile;
- autoscaling (``autoscaler_settings``, ``hpa_desired_replicas``): the plans as
  HorizontalPodAutoscaler settings;
- profiling (``profile_model``): a registered model measured on this machine, the
  batch-latency profile capacity planning reads.

Pure functions, dataclasses in and out. docs/capacity.md has the long form.
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
from roost.plan.profile import profile_model

__all__ = [
    "AutoscalerSettings",
    "BatchLatencyFit",
    "BatchingPlan",
    "CapacityPlan",
    "ModelProfile",
    "autoscaler_settings",
    "batching_plan",
    "erlang_b",
    "erlang_c",
    "fit_batch_latency",
    "hpa_desired_replicas",
    "profile_model",
    "replicas_for",
]
