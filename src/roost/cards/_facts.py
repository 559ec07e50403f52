"""Gather a version's facts: from its ``model.yaml``, its card fields and its evaluations.

``FactBuilder`` makes each fact (and table) in one place; ``_layouts`` only chooses which
go in which section of a model card or a factsheet, so the two documents never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from roost.cards.document import (
    FIELD_LABELS,
    HEADLINE,
    REQUIRED_FIELDS,
    Document,
    Fact,
    Section,
    Table,
    format_value,
    is_filled,
)
from roost.cards.evaluation import Evaluation, MetricValue, SliceResult
from roost.cards.interface import SIGNATURE_COLUMNS, requests, signature_rows
from roost.cards.live import LiveFacts
from roost.types import JSONDict, JSONValue

__all__ = ["LOWER_IS_BETTER", "FactBuilder", "metric_cell", "slice_name"]

#: metrics where a smaller value is better
LOWER_IS_BETTER = frozenset({"mae", "rmse", "calibration_error"})


def metric_cell(metric: MetricValue) -> JSONValue:
    """A metric as a fact's value or a table cell: its value and interval."""
    return {"value": metric.value, "lower": metric.lower, "upper": metric.upper}


def slice_name(result: SliceResult) -> str:
    """``region=EU``."""
    return f"{result.column}={format_value(result.value)}"


class FactBuilder:
    """Every fact of one version, made once; ``_layouts`` arranges them into documents."""

    def __init__(
        self,
        metadata: Mapping[str, Any],
        evaluations: Sequence[Evaluation],
        example: Any,
        digest: str | None,
    ) -> None:
        self.meta = dict(metadata)
        self.card: JSONDict = dict(self.meta.get("card") or {})
        self.history = tuple(sorted(evaluations, key=lambda e: (e.created_at, e.id)))
        self.latest = self.history[-1] if self.history else None
        self.example = example
        self.digest = digest or (self.latest.digest if self.latest else None)
        self.name = str(self.meta.get("name", ""))
        self.version = int(self.meta.get("version") or 0)
        self.headline = HEADLINE[self.latest.task] if self.latest else None

    # ------------------------------------------------------------ single facts

    def declared(self, name: str) -> Fact:
        value = self.card.get(name)
        return Fact(
            FIELD_LABELS[name], value if is_filled(value) else None, "declared", f"card.{name}"
        )

    def optional(self, *names: str) -> list[Fact]:
        """Declared facts that are not required: shown only when written."""
        return [self.declared(name) for name in names if is_filled(self.card.get(name))]

    def measured(self, label: str, value: Any, key: str) -> Fact:
        return Fact(label, value, "measured", key)

    def identity(self) -> list[Fact]:
        return [
            self.measured("Name", self.name, "name"),
            self.measured("Version", self.version, "version"),
            self.measured("Created", self.meta.get("created_at"), "created_at"),
            self.measured("Package digest", self.digest, "digest"),
        ]

    def technique(self) -> list[Fact]:
        training = self.meta.get("training") or {}
        framework = self.meta.get("framework") or {}
        framework_text = " ".join(
            str(v) for v in (framework.get("name"), framework.get("version")) if v
        )
        flavor = (self.meta.get("flavor") or {}).get("name")
        facts = [
            self.measured("Algorithm", training.get("algorithm"), "training.algorithm"),
            self.measured("Framework", framework_text or None, "framework"),
            self.measured("Flavor", flavor, "flavor.name"),
            self.measured("Parameters", training.get("params"), "training.params"),
        ]
        members = [
            f"{pin.get('name')}:{pin.get('version')}"
            for pin in self.meta.get("depends_on") or ()
            if isinstance(pin, dict)
        ]
        if members:
            facts.append(self.measured("Members", members, "depends_on"))
        return facts

    def commit(self) -> Fact:
        code = (self.meta.get("provenance") or {}).get("code") or None
        return self.measured("Code commit", code, "provenance.code")

    def data_sets(self, training: bool = False) -> list[Fact]:
        """The data sets recorded at save time: the training set, or the others."""
        facts = []
        for item in (self.meta.get("provenance") or {}).get("data") or ():
            role = str(item.get("role"))
            if (role == "train") != training:
                continue
            value = {k: item[k] for k in ("n_rows", "x_sha256", "y_rows", "y_sha256") if k in item}
            if item.get("columns"):
                value["columns"] = len(item["columns"])
            facts.append(
                self.measured(f"{role.capitalize()} set", value, f"provenance.data.{role}")
            )
        if training and not facts:
            facts.append(self.measured("Train set", None, "provenance.data.train"))
        return facts

    def evaluation_data(self) -> Fact:
        latest = self.latest
        value = (
            None
            if latest is None
            else {**latest.data, "label": latest.label, "evaluated": latest.created_at}
        )
        return self.measured("Evaluated on", value, "evaluation.data")

    def methodology(self) -> list[Fact]:
        latest = self.latest
        if latest is None:
            return [self.measured("Metrics", None, "evaluation.overall")]
        intervals = (
            f"{latest.confidence:.0%} bootstrap intervals, "
            f"{latest.n_bootstrap} resamples, seed {latest.seed}"
        )
        return [
            self.measured("Task", latest.task, "evaluation.task"),
            self.measured("Metrics", [m.name for m in latest.overall], "evaluation.overall"),
            self.measured("Confidence intervals", intervals, "evaluation.confidence"),
        ]

    def metric_facts(self) -> list[Fact]:
        if self.latest is None:
            return [self.measured("Metrics", None, "evaluation.overall")]
        return [
            self.measured(m.name, metric_cell(m), f"metrics.{m.name}") for m in self.latest.overall
        ]

    def slice_columns(self) -> Fact:
        columns = list(dict.fromkeys(s.column for s in self.latest.slices)) if self.latest else []
        return self.measured("Evaluated slices", columns or None, "evaluation.slices")

    # ------------------------------------------------------------------ tables

    def slice_table(self) -> list[Table]:
        latest = self.latest
        if latest is None:
            return []
        names = [m.name for m in latest.overall]
        rows = [("all rows", latest.data.get("n_rows"), *(metric_cell(m) for m in latest.overall))]
        for result in latest.slices:
            by_name = {m.name: metric_cell(m) for m in result.metrics}
            rows.append((slice_name(result), result.n_rows, *(by_name.get(n) for n in names)))
        title = "Metrics overall and per slice" if latest.slices else "Metrics"
        return [
            Table(title, ("slice", "rows", *names), tuple(rows), "measured", "evaluation.slices")
        ]

    def confusion_table(self) -> list[Table]:
        confusion = self.latest.confusion if self.latest else None
        if not confusion:
            return []
        labels = [str(label) for label in confusion["labels"]]
        rows = tuple(
            (label, *counts) for label, counts in zip(labels, confusion["matrix"], strict=False)
        )
        return [
            Table(
                "Confusion matrix (rows: truth, columns: predicted)",
                ("truth", *labels),
                rows,
                "measured",
                "evaluation.confusion",
            )
        ]

    def history_table(self) -> list[Table]:
        if not self.history:
            return []
        rows = []
        for evaluation in self.history:
            headline = evaluation.metric(HEADLINE[evaluation.task])
            rows.append(
                (
                    evaluation.created_at,
                    evaluation.id,
                    evaluation.data.get("source"),
                    evaluation.data.get("n_rows"),
                    HEADLINE[evaluation.task],
                    metric_cell(headline) if headline else None,
                )
            )
        columns = ("date", "evaluation", "data", "rows", "metric", "value")
        return [Table("Evaluation history", columns, tuple(rows), "measured", "evaluations")]

    def figures(self) -> tuple[str, ...]:
        latest = self.latest
        if latest is None:
            return ()
        present = {
            "slices": bool(latest.slices),
            "confusion": bool(latest.confusion),
            "calibration": bool(latest.calibration),
            "residuals": bool(latest.residuals),
        }
        return tuple(name for name, shown in present.items() if shown)

    def interface(self, key: str, title: str) -> Section:
        signature = self.meta.get("signature") or {}
        inputs, outputs = signature_rows(signature)
        tables = (
            Table(
                "Inputs",
                SIGNATURE_COLUMNS,
                tuple(map(tuple, inputs)),
                "measured",
                "signature.inputs",
            ),
            Table(
                "Outputs",
                SIGNATURE_COLUMNS,
                tuple(map(tuple, outputs)),
                "measured",
                "signature.outputs",
            ),
        )
        facts = (self.measured("Signature", signature.get("kind"), "signature.kind"),)
        return Section(key, title, facts, tables, requests(self.name, signature, self.example))

    def ranked(self) -> list[tuple[float, SliceResult, JSONValue]]:
        """Slices with a value of the headline metric, best first: (value, slice, metric)."""
        if self.latest is None or self.headline is None:
            return []
        ranked = []
        for result in self.latest.slices:
            found = next((m for m in result.metrics if m.name == self.headline), None)
            if found is not None and found.value is not None:
                ranked.append((found.value, result, metric_cell(found)))
        ranked.sort(key=lambda item: item[0], reverse=self.headline not in LOWER_IS_BETTER)
        return ranked

    def document(
        self, kind: Any, sections: Sequence[Section], live: LiveFacts | None = None
    ) -> Document:
        """The document of these sections, its completeness counted from the card."""
        missing = tuple(name for name in REQUIRED_FIELDS if not is_filled(self.card.get(name)))
        completeness = round(1 - len(missing) / len(REQUIRED_FIELDS), 4)
        return Document(
            kind,
            self.name,
            self.version,
            tuple(sections),
            completeness,
            missing,
            self.latest,
            live,
            self.meta,
            self.history,
            self.digest,
        )
