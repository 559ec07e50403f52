"""The feature store: feature code written once, used in training and in serving.

Define entities, event tables, aggregate views, row transforms and encoders in a module;
group them in a ``FeatureService``; build point-in-time training frames and materialize
online values with a ``FeatureStore``; save a ``Featured`` model that computes its own
features when served. See docs/features.md.
"""

from __future__ import annotations

from roost.features.aggregates import STATUSES, Aggregate, AggregateView, ViewValue
from roost.features.cache import FeatureCache
from roost.features.encoders import Encoder, QuantileBins, StandardScaler, Vocabulary
from roost.features.entities import Entity, Events
from roost.features.featured import Featured, bind_store
from roost.features.fitted import FittedFeatures, fit
from roost.features.online import OnlineRecord, OnlineStore, open_online_store
from roost.features.service import FeatureRow, FeatureService
from roost.features.skew import check_skew
from roost.features.store import FeatureStore, Materialized
from roost.features.transforms import Request, Transform, transform

__all__ = [
    "STATUSES",
    "Aggregate",
    "AggregateView",
    "Encoder",
    "Entity",
    "Events",
    "FeatureCache",
    "FeatureRow",
    "FeatureService",
    "FeatureStore",
    "Featured",
    "FittedFeatures",
    "Materialized",
    "OnlineRecord",
    "OnlineStore",
    "QuantileBins",
    "Request",
    "StandardScaler",
    "Transform",
    "ViewValue",
    "Vocabulary",
    "bind_store",
    "check_skew",
    "fit",
    "open_online_store",
    "transform",
]
