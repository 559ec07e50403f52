"""Model cards and factsheets: documents built from a package, its evaluations and live facts.

A document is a list of sections of facts. Every fact says where it comes from:

- **measured**: read from the package (``model.yaml``) or from an evaluation: never typed;
- **declared**: a card field a person wrote (``card=`` of ``roost.save``);
- **live**: what the running service saw (factsheets served by ``roost serve`` only).

A declared field nobody wrote has the value None and renders as "[More information
needed]"; ``completeness`` is the share of ``REQUIRED_FIELDS`` that are filled. The
renderers (``render_json``, ``render_markdown``, ``render_html``) turn a document into
text; ``render(document, fmt)`` picks one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from roost.cards.evaluation import Evaluation
from roost.cards.interface import Request
from roost.cards.live import LiveFacts
from roost.errors import ConfigError
from roost.types import JSONDict, JSONValue

__all__ = [
    "FORMATS",
    "HEADLINE",
    "MISSING",
    "REQUIRED_FIELDS",
    "SOURCES",
    "Document",
    "Fact",
    "Section",
    "Table",
    "factsheet",
    "format_cell",
    "format_value",
    "is_filled",
    "model_card",
    "render",
]

Source = Literal["measured", "declared", "live"]
SOURCES: tuple[Source, ...] = ("measured", "declared", "live")
#: what a missing value reads as (the Hugging Face card convention)
MISSING = "[More information needed]"
#: the declared fields a card needs to be complete (``references``, ``citation``,
#: ``tags`` and ``sensitive_fields`` are optional)
REQUIRED_FIELDS = (
    "overview",
    "intended_use",
    "out_of_scope",
    "users",
    "owners",
    "license",
    "factors",
    "limitations",
    "tradeoffs",
    "ethical_considerations",
    "caveats",
    "training_data",
    "evaluation_data",
    "monitoring",
)
#: the metric a task is summed up by: in the history, the best and worst slices, the gaps
HEADLINE = {"classification": "accuracy", "regression": "mae"}
#: the formats ``render`` writes
FORMATS = ("json", "md", "html")

#: how each card field is titled in a document
FIELD_LABELS = {
    "overview": "Overview",
    "intended_use": "Intended use",
    "out_of_scope": "Out-of-scope uses",
    "users": "Intended users",
    "owners": "Owners",
    "license": "License",
    "factors": "Relevant factors",
    "limitations": "Limitations",
    "tradeoffs": "Trade-offs",
    "ethical_considerations": "Ethical considerations",
    "caveats": "Caveats and recommendations",
    "training_data": "Training data",
    "evaluation_data": "Evaluation data",
    "monitoring": "Monitoring",
    "references": "References",
    "citation": "Citation",
    "tags": "Tags",
    "sensitive_fields": "Sensitive fields",
}


def is_filled(value: Any) -> bool:
    """Whether a declared value says something: not None, blank text or an empty list."""
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | dict):
        return bool(value)
    return value is not None


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.3f}" if abs(value) >= 0.01 else f"{value:.3g}"


def _metric_number(value: float) -> str:
    # 1.000 beside 0.940 reads as a metric; "1" would look like a count
    return f"{value:.3f}" if abs(value) < 100 else _number(value)


def format_value(value: Any) -> str:
    """A fact's value as one line of text; None is ``MISSING`` (inside a list or mapping, "—").

    A metric (a mapping with ``value``, ``lower`` and ``upper``) reads ``0.953 (0.910–0.987)``.

    Example:
        >>> format_value({"value": 0.95, "lower": 0.9, "upper": 0.98}), format_value(None)
        ('0.950 (0.900–0.980)', '[More information needed]')
    """
    return MISSING if value is None else format_cell(value)


def format_cell(value: Any) -> str:
    """A value inside a table, a list or a mapping: like ``format_value``, but None is "—"."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, Mapping):
        if set(value) == {"value", "lower", "upper"}:
            if value["value"] is None:
                return "—"
            text = _metric_number(value["value"])
            if value["lower"] is not None and value["upper"] is not None:
                text += f" ({_metric_number(value['lower'])}–{_metric_number(value['upper'])})"
            return text
        return "; ".join(f"{k}: {format_cell(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(format_cell(item) for item in value)
    return str(value)


@dataclass(frozen=True, slots=True)
class Fact:
    """One statement of a document, and where it comes from.

    Attributes:
        label: what it is, as titled in the document (``Training data``).
        value: JSON-ready; None when nobody measured or declared it.
        source: ``measured``, ``declared`` or ``live``.
        key: where it comes from: ``card.overview``, ``training.params``, ``metrics.f1``…
    """

    label: str
    value: JSONValue
    source: Source
    key: str | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(
                f"fact {self.label!r}: source must be one of {SOURCES}, got {self.source!r}"
            )

    @property
    def is_missing(self) -> bool:
        return self.value is None

    def to_dict(self) -> JSONDict:
        return {"label": self.label, "value": self.value, "source": self.source, "key": self.key}


@dataclass(frozen=True, slots=True)
class Table:
    """Facts of one kind in rows: per-slice metrics, the signature, the history."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[JSONValue, ...], ...]
    source: Source
    key: str | None = None

    def to_dict(self) -> JSONDict:
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [list(row) for row in self.rows],
            "source": self.source,
            "key": self.key,
        }


@dataclass(frozen=True, slots=True)
class Section:
    """One section of a document.

    Attributes:
        key: a stable identifier (``quantitative_analyses``).
        title: its heading.
        facts: its facts, in order.
        tables: its tables, after the facts.
        requests: ready-to-run requests (the interface section).
        figures: the plots a page draws from the evaluation here: ``slices``,
            ``confusion``, ``calibration``, ``residuals``.
    """

    key: str
    title: str
    facts: tuple[Fact, ...] = ()
    tables: tuple[Table, ...] = ()
    requests: tuple[Request, ...] = ()
    figures: tuple[str, ...] = ()

    def to_dict(self) -> JSONDict:
        return {
            "key": self.key,
            "title": self.title,
            "facts": [fact.to_dict() for fact in self.facts],
            "tables": [table.to_dict() for table in self.tables],
            "requests": [request.to_dict() for request in self.requests],
            "figures": list(self.figures),
        }


@dataclass(frozen=True, slots=True)
class Document:
    """A model card or a factsheet of one version.

    Attributes:
        kind: ``model_card`` or ``factsheet``.
        name: the model's name.
        version: the version documented.
        sections: in the order they are shown.
        completeness: the share of ``REQUIRED_FIELDS`` declared, from 0 to 1.
        missing: the required fields not declared, in ``REQUIRED_FIELDS`` order.
        evaluation: the latest evaluation, which the metrics come from.
        live: the live facts of a served factsheet.
        metadata: the package's ``model.yaml``, for renderers that map it elsewhere.
        evaluations: every evaluation, oldest first.
        digest: the package digest, when known.
    """

    kind: Literal["model_card", "factsheet"]
    name: str
    version: int
    sections: tuple[Section, ...]
    completeness: float
    missing: tuple[str, ...]
    evaluation: Evaluation | None = None
    live: LiveFacts | None = None
    metadata: JSONDict = field(default_factory=dict)
    evaluations: tuple[Evaluation, ...] = ()
    digest: str | None = None

    @property
    def title(self) -> str:
        what = "Model card" if self.kind == "model_card" else "Factsheet"
        return f"{what}: {self.name} v{self.version}"

    def section(self, key: str) -> Section:
        """The section called ``key``.

        Raises:
            KeyError: naming the sections there are.
        """
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(f"no section {key!r} (sections: {', '.join(s.key for s in self.sections)})")

    def facts(self) -> Iterator[tuple[Section, Fact]]:
        """Every fact with its section, in document order."""
        for section in self.sections:
            for fact in section.facts:
                yield section, fact

    def to_dict(self) -> JSONDict:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "completeness": self.completeness,
            "missing": list(self.missing),
            "sections": [section.to_dict() for section in self.sections],
            "live": self.live.to_dict() if self.live is not None else None,
        }


def render(document: Document, fmt: str) -> str:
    """Write a document as ``json``, ``md`` (Markdown) or ``html`` (one self-contained page).

    Raises:
        ConfigError: an unknown format (naming the known ones).

    Example:
        >>> text = render(model_card(metadata, evaluations), "md")  # doctest: +SKIP
    """
    # imported here: the renderers import this module, and a card needs only one of them
    if fmt == "json":
        from roost.cards.render_json import render_json

        return render_json(document)
    if fmt == "md":
        from roost.cards.render_markdown import render_markdown

        return render_markdown(document)
    if fmt == "html":
        from roost.cards.render_html import render_html

        return render_html(document)
    raise ConfigError(f"document format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def model_card(
    metadata: Mapping[str, Any],
    evaluations: Sequence[Evaluation],
    *,
    example: Any = None,
    digest: str | None = None,
) -> Document:
    """The model card of a version, in the sections of Mitchell et al. (2019), plus its interface.

    Args:
        metadata: the version's ``model.yaml`` (``Registry.metadata(ref)``).
        evaluations: its evaluations (``EvaluationHistory(registry).list(ref)``); the
            metrics come from the latest.
        example: the stored input example, for the ready-to-run requests.
        digest: the package digest; by default the latest evaluation's.

    Example:
        >>> card = model_card(registry.metadata("iris:1"), [])  # doctest: +SKIP
        >>> card.completeness, card.missing[:2]  # doctest: +SKIP
        (0.0, ('overview', 'intended_use'))
    """
    from roost.cards._facts import FactBuilder
    from roost.cards._layouts import card_document

    return card_document(FactBuilder(metadata, evaluations, example, digest))


def factsheet(
    metadata: Mapping[str, Any],
    evaluations: Sequence[Evaluation],
    *,
    example: Any = None,
    live: LiveFacts | None = None,
    digest: str | None = None,
) -> Document:
    """The factsheet of a version, in the sections of IBM's AI FactSheets, plus live facts.

    Args:
        metadata: the version's ``model.yaml``.
        evaluations: its evaluations; the latest gives the performance.
        example: the stored input example, for the ready-to-run requests.
        live: what the running service saw; adds a Live section and live drift.
        digest: the package digest; by default the latest evaluation's.
    """
    from roost.cards._facts import FactBuilder
    from roost.cards._layouts import factsheet_document

    return factsheet_document(FactBuilder(metadata, evaluations, example, digest), live)
