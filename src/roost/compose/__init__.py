"""The compose room: composites of models that are themselves Models.

``Pipeline`` (sequential decomposition), ``Ensemble`` (vote, mean, weighted mean or a
custom aggregation, optionally answering from the members that did not fail),
``Stack`` (a metamodel over base models, fitted on out-of-fold predictions by
``fit_stack``), ``Cascade`` (two-phase prediction, its threshold picked by
``calibrate``) and ``Guarded`` (business rules and a fallback declared beside a model).
Each saves as one package that pins its members by name, version and digest.
See docs/composition.md.
"""

from __future__ import annotations

from roost.compose._base import Composite
from roost.compose._live import LiveModel, live
from roost.compose._rules import AllowedRange, Clamp, DenyList, Override, Rule, rules_from_dicts
from roost.compose.calibrate import CascadeCalibration, calibrate
from roost.compose.cascade import ALWAYS_SLOW, Cascade
from roost.compose.ensemble import Ensemble
from roost.compose.guardrails import Fallback, Guarded
from roost.compose.pipeline import Pipeline
from roost.compose.stack import Stack, fit_stack

__all__ = [
    "ALWAYS_SLOW",
    "AllowedRange",
    "Cascade",
    "CascadeCalibration",
    "Clamp",
    "Composite",
    "DenyList",
    "Ensemble",
    "Fallback",
    "Guarded",
    "LiveModel",
    "Override",
    "Pipeline",
    "Rule",
    "Stack",
    "calibrate",
    "fit_stack",
    "live",
    "rules_from_dicts",
]
