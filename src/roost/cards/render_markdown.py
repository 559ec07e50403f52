"""A document as Markdown, in the Hugging Face card convention.

A model card starts with YAML front matter (``license``, ``library_name``, ``tags``,
``datasets``, ``metrics`` and a ``model-index`` of the latest evaluation's results).
Hugging Face has no field for slices, so a slice's metric is named after it:
``f1 (region=EU)``. The body has the document's sections in order; each fact carries a
small tag saying where it comes from, and a missing one reads "[More information needed]".
A factsheet is the body alone.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from roost.cards.document import (
    REQUIRED_FIELDS,
    Document,
    Fact,
    Section,
    Table,
    format_cell,
    format_value,
    is_filled,
)
from roost.types import JSONDict

__all__ = ["front_matter", "render_markdown"]

#: tags the served card always has
_TAGS = ("roost",)


def render_markdown(document: Document) -> str:
    """The document as Markdown; a model card with Hugging Face front matter.

    Example:
        >>> print(render_markdown(card))  # doctest: +SKIP
        ---
        license: apache-2.0
        ...
    """
    parts = []
    if document.kind == "model_card":
        dumped = yaml.safe_dump(front_matter(document), sort_keys=False, allow_unicode=True)
        parts.append(f"---\n{dumped}---\n")
    parts.append(f"# {document.title}\n")
    parts.append(_preamble(document))
    parts.extend(_section(section) for section in document.sections)
    return "\n".join(parts)


def _task_type(document: Document, task: str) -> str:
    kind = (document.metadata.get("signature") or {}).get("kind")
    return f"tabular-{task}" if kind == "columns" else task


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return round(float(value), 6)
    return None


def front_matter(document: Document) -> JSONDict:
    """The Hugging Face card metadata of a model card: license, tags, model-index…"""
    metadata = document.metadata
    card = metadata.get("card") or {}
    found: JSONDict = {}
    license_ = card.get("license")
    if is_filled(license_):
        text = str(license_).strip()
        found.update(
            {"license": "other", "license_name": text} if " " in text else {"license": text.lower()}
        )
    framework = (metadata.get("framework") or {}).get("name")
    if framework:
        found["library_name"] = str(framework)
    flavor = (metadata.get("flavor") or {}).get("name")
    tags = [*_TAGS, *([str(flavor)] if flavor else [])]
    tags += [str(tag) for tag in card.get("tags") or () if str(tag) not in tags]
    found["tags"] = tags
    evaluation = document.evaluation
    if evaluation is None:
        return found
    sources = [str(e.data.get("source") or e.id) for e in document.evaluations]
    found["datasets"] = list(dict.fromkeys(sources))
    found["metrics"] = [m.name for m in evaluation.overall]
    metrics = []
    groups = [("", evaluation.overall)]
    groups += [(f" ({s.column}={format_value(s.value)})", s.metrics) for s in evaluation.slices]
    for suffix, group in groups:
        for metric in group:
            value = _number(metric.value)
            if value is None:
                continue
            entry: JSONDict = {"type": metric.name, "value": value, "name": metric.name + suffix}
            lower, upper = _number(metric.lower), _number(metric.upper)
            if lower is not None and upper is not None:
                entry["args"] = {
                    "confidence": evaluation.confidence,
                    "lower": lower,
                    "upper": upper,
                }
            metrics.append(entry)
    source = str(evaluation.data.get("source") or evaluation.id)
    task = _task_type(document, evaluation.task)
    result = {
        "task": {"type": task, "name": task.replace("-", " ").capitalize()},
        "dataset": {"type": source, "name": source, "split": "test"},
        "metrics": metrics,
    }
    found["model-index"] = [{"name": document.name, "results": [result]}]
    return found


def _preamble(document: Document) -> str:
    share = f"{document.completeness:.0%}"
    filled = len(REQUIRED_FIELDS) - len(document.missing)
    lines = [f"**Completeness:** {share} of the required declared fields"]
    if document.missing:
        lines[0] += (
            f" ({filled} of {len(REQUIRED_FIELDS)}); missing: {', '.join(document.missing)}."
        )
    else:
        lines[0] += "."
    lines.append("")
    tags = [
        "`measured` (read from the package or an evaluation)",
        "`declared` (written by its authors)",
    ]
    if document.kind == "factsheet":
        tags.append("`live` (seen by the running service)")
    lines.append(f"Every fact is tagged {', '.join(tags[:-1])} or {tags[-1]}.")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    text = format_cell(value)
    return " ".join(text.split()).replace("|", "\\|")


def _table(table: Table) -> str:
    header = f"**{table.title}** `{table.source}`\n\n| " + " | ".join(table.columns) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    rows = ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in table.rows]
    return "\n".join([header, rule, *rows]) + "\n"


def _fact(fact: Fact) -> str:
    head = f"- **{fact.label}** `{fact.source}`:"
    value = fact.value
    # several items read better one per line; a metric (value and interval) stays on one
    if isinstance(value, list) and len(value) > 1:
        return "\n".join([head, *(f"  - {format_cell(item)}" for item in value)])
    if isinstance(value, dict) and len(value) > 1 and set(value) != {"value", "lower", "upper"}:
        return "\n".join([head, *(f"  - {k}: {format_cell(v)}" for k, v in value.items())])
    return f"{head} {format_value(value)}".replace("\n", "\n  ")


def _section(section: Section) -> str:
    parts = [f"## {section.title}\n"]
    if section.facts:
        parts.append("\n".join(_fact(fact) for fact in section.facts) + "\n")
    parts.extend(_table(table) for table in section.tables)
    for request in section.requests:
        note = f"\n{request.note}\n" if request.note else ""
        parts.append(
            f"**{request.protocol}** `measured`\n{note}\n```console\n{request.curl}\n```\n"
        )
    return "\n".join(parts)
