"""An evaluation: a version's metrics on one data set, overall and per slice, with intervals.

``evaluate`` measures it; ``EvaluationHistory`` keeps every evaluation of a version beside
the registry (the package itself stays immutable). Cards and factsheets are built from them.

This module holds the value objects; the measuring is in ``evaluate`` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from roost.errors import ConfigError
from roost.types import JSONDict, JSONValue

__all__ = ["Evaluation", "MetricValue", "SliceResult", "Task"]

Task = Literal["classification", "regression"]


@dataclass(frozen=True, slots=True)
class MetricValue:
    """One metric's value with its bootstrap confidence interval.

    Attributes:
        name: ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc``,
            ``calibration_error`` (classification); ``mae``, ``rmse``, ``r2`` (regression).
        value: the metric on all the rows; None when it is undefined there (ROC AUC of a
            slice holding one class).
        lower: the lower bound of the interval; None without one.
        upper: the upper bound.
    """

    name: str
    value: float | None
    lower: float | None = None
    upper: float | None = None

    def to_dict(self) -> JSONDict:
        return {"name": self.name, "value": self.value, "lower": self.lower, "upper": self.upper}

    @classmethod
    def from_dict(cls, data: Any) -> MetricValue:
        return cls(str(data["name"]), data.get("value"), data.get("lower"), data.get("upper"))


@dataclass(frozen=True, slots=True)
class SliceResult:
    """The metrics on the rows where ``column`` equals ``value``."""

    column: str
    value: JSONValue
    n_rows: int
    metrics: tuple[MetricValue, ...]

    def to_dict(self) -> JSONDict:
        return {
            "column": self.column,
            "value": self.value,
            "n_rows": self.n_rows,
            "metrics": [m.to_dict() for m in self.metrics],
        }

    @classmethod
    def from_dict(cls, data: Any) -> SliceResult:
        return cls(
            str(data["column"]),
            data["value"],
            int(data["n_rows"]),
            tuple(MetricValue.from_dict(m) for m in data["metrics"]),
        )


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A version's measured quality on one labelled data set.

    Attributes:
        id: unique per evaluation, sortable by time (``20261128T081500Z-3f9a``).
        model: the model's name.
        version: the version evaluated.
        digest: the package digest of that version.
        created_at: when, ISO 8601 in UTC.
        task: ``classification`` or ``regression``.
        data: what was evaluated on: ``{"source": "test.csv", "n_rows": 38, "sha256": "…"}``.
        label: the label column.
        confidence: the level of the intervals (0.95).
        n_bootstrap: bootstrap resamples behind each interval.
        seed: the bootstrap's random seed.
        overall: the metrics on every row.
        slices: the metrics per value of each ``slice_by`` column, in column order.
        confusion: classification: ``{"labels": [...], "matrix": [[...]]}`` (rows: truth,
            columns: predicted); None for regression.
        calibration: classification with probabilities: one dict per confidence bin,
            ``{"lower", "upper", "confidence", "accuracy", "n_rows"}``; else None.
        residuals: regression: ``{"edges": [...], "counts": [...], "mean", "std"}`` (a
            histogram of truth − prediction); None for classification.
    """

    id: str
    model: str
    version: int
    digest: str
    created_at: str
    task: Task
    data: JSONDict
    label: str
    confidence: float
    n_bootstrap: int
    seed: int
    overall: tuple[MetricValue, ...]
    slices: tuple[SliceResult, ...] = ()
    confusion: JSONDict | None = None
    calibration: list[JSONDict] | None = None
    residuals: JSONDict | None = None

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"

    def metric(self, name: str) -> MetricValue | None:
        """The overall metric called ``name``, if measured."""
        return next((m for m in self.overall if m.name == name), None)

    def to_dict(self) -> JSONDict:
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "digest": self.digest,
            "created_at": self.created_at,
            "task": self.task,
            "data": self.data,
            "label": self.label,
            "confidence": self.confidence,
            "n_bootstrap": self.n_bootstrap,
            "seed": self.seed,
            "overall": [m.to_dict() for m in self.overall],
            "slices": [s.to_dict() for s in self.slices],
            "confusion": self.confusion,
            "calibration": self.calibration,
            "residuals": self.residuals,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Evaluation:
        """Rebuild from ``to_dict``'s output.

        Raises:
            ConfigError: the data is not an evaluation (naming the missing field).
        """
        try:
            task = data["task"]
            if task not in ("classification", "regression"):
                raise ConfigError(f"evaluation: unknown task {task!r}")
            return cls(
                id=str(data["id"]),
                model=str(data["model"]),
                version=int(data["version"]),
                digest=str(data["digest"]),
                created_at=str(data["created_at"]),
                task=task,
                data=dict(data["data"]),
                label=str(data["label"]),
                confidence=float(data["confidence"]),
                n_bootstrap=int(data["n_bootstrap"]),
                seed=int(data["seed"]),
                overall=tuple(MetricValue.from_dict(m) for m in data["overall"]),
                slices=tuple(SliceResult.from_dict(s) for s in data.get("slices") or ()),
                confusion=data.get("confusion"),
                calibration=data.get("calibration"),
                residuals=data.get("residuals"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"evaluation: malformed ({type(exc).__name__}: {exc})") from exc
