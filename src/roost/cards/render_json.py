"""A document as JSON: a model card in Model Card Toolkit's field names, a factsheet as sections.

A model card follows the Model Card Toolkit JSON schema v0.0.2 (``model_details``,
``model_parameters``, ``quantitative_analysis``, ``considerations``), with values as the
toolkit expects them: metric values and bounds as text, lists of ``{"description": …}``,
risks as ``{"name", "mitigation_strategy"}``. The schema has no place for where a fact
comes from, so a ``roost`` block adds the completeness, the missing fields and every fact
with its source. A factsheet has no standard JSON form: it is written as its sections.

The output is strict JSON: NaN and infinities become null.
"""

from __future__ import annotations

import json
import math
from typing import Any

from roost.cards.document import Document, format_value, is_filled
from roost.types import JSONDict, JSONValue

__all__ = ["MCT_SCHEMA_VERSION", "model_card_toolkit", "render_json"]

#: the Model Card Toolkit schema the card's fields follow
MCT_SCHEMA_VERSION = "0.0.2"


def render_json(document: Document) -> str:
    """The document as indented JSON (a model card: Model Card Toolkit's fields).

    Example:
        >>> json.loads(render_json(card))["model_details"]["name"]  # doctest: +SKIP
        'iris'
    """
    data = model_card_toolkit(document) if document.kind == "model_card" else document.to_dict()
    return json.dumps(_finite(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _items(value: Any) -> list[Any]:
    """A declared value as a list of items: a text is one item, a list its items."""
    if not is_filled(value):
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else format_value(value)


def _descriptions(*values: Any) -> list[JSONDict]:
    return [{"description": _text(item)} for value in values for item in _items(value)]


def _owners(value: Any) -> list[JSONDict]:
    owners = []
    for item in _items(value):
        if isinstance(item, dict):
            contact = item.get("contact") or item.get("email")
            owner = {"name": _text(item.get("name") or item.get("team") or "")}
            owners.append({**owner, "contact": _text(contact)} if contact else owner)
        else:
            owners.append({"name": _text(item)})
    return owners


def _licenses(value: Any) -> list[JSONDict]:
    # one word ("Apache-2.0", "MIT") is an SPDX identifier; anything longer is custom text
    return [
        {"identifier": text} if " " not in text.strip() else {"custom_text": text}
        for text in (_text(item) for item in _items(value))
    ]


def _risks(value: Any) -> list[JSONDict]:
    """Ethical considerations as MCT's risks: texts, ``{name: mitigation}`` or dicts."""
    if isinstance(value, dict):
        value = [{"name": k, "mitigation_strategy": v} for k, v in value.items()]
    risks = []
    for item in _items(value):
        if isinstance(item, dict):
            name = item.get("name") or item.get("risk") or ""
            mitigation = item.get("mitigation_strategy") or item.get("mitigation")
            risk = {"name": _text(name)}
            risks.append({**risk, "mitigation_strategy": _text(mitigation)} if mitigation else risk)
        else:
            risks.append({"name": _text(item)})
    return risks


def _metric_text(value: float | None) -> str | None:
    return None if value is None or not math.isfinite(value) else str(round(value, 6))


def _performance_metrics(document: Document) -> list[JSONDict]:
    evaluation = document.evaluation
    if evaluation is None:
        return []
    found = []
    groups = [("", evaluation.overall)]
    groups += [(f"{s.column}={format_value(s.value)}", s.metrics) for s in evaluation.slices]
    for slice_name, metrics in groups:
        for metric in metrics:
            value = _metric_text(metric.value)
            if value is None:
                continue
            entry: JSONDict = {"type": metric.name, "value": value, "slice": slice_name}
            lower, upper = _metric_text(metric.lower), _metric_text(metric.upper)
            if lower is not None and upper is not None:
                entry["confidence_interval"] = {"lower_bound": lower, "upper_bound": upper}
            found.append(entry)
    return found


def _format(specs: Any) -> tuple[str, list[JSONDict]]:
    """A signature's inputs or outputs as MCT's format text and its key-value map."""
    pairs = []
    for spec in specs or ():
        text = str(spec.get("dtype"))
        if "shape" in spec:
            text += f" {list(spec['shape'])}"
        pairs.append({"key": str(spec.get("name")), "value": text})
    return "; ".join(f"{p['key']}: {p['value']}" for p in pairs), pairs


def _data(document: Document) -> list[JSONDict]:
    metadata, card = document.metadata, document.metadata.get("card") or {}
    sensitive = card.get("sensitive_fields")
    names = sorted(sensitive) if isinstance(sensitive, dict) else _items(sensitive)
    found = []
    for item in (metadata.get("provenance") or {}).get("data") or ():
        hashes = {k: item[k] for k in ("n_rows", "x_sha256", "y_sha256") if k in item}
        entry: JSONDict = {"name": f"{item.get('role')} set", "description": format_value(hashes)}
        if names:
            entry["sensitive"] = {"sensitive_data": [str(n) for n in names]}
        found.append(entry)
    if document.evaluation is not None:
        data = document.evaluation.data
        name = f"evaluation: {data.get('source', document.evaluation.id)}"
        found.append({"name": name, "description": format_value(data)})
    return found


def model_card_toolkit(document: Document) -> JSONDict:
    """The card as Model Card Toolkit JSON (schema v0.0.2), plus a ``roost`` block.

    Empty fields are left out, as the toolkit's own ``to_json`` does; an overall metric
    has the slice ``""``.
    """
    metadata = document.metadata
    card = metadata.get("card") or {}
    signature = metadata.get("signature") or {}
    training = metadata.get("training") or {}
    framework = metadata.get("framework") or {}
    architecture = " ".join(
        str(part)
        for part in (
            training.get("algorithm"),
            f"({framework.get('name')} {framework.get('version')})" if framework else None,
        )
        if part
    )
    input_format, input_map = _format(signature.get("inputs"))
    output_format, output_map = _format(signature.get("outputs"))
    out_of_scope = [f"Out of scope: {_text(item)}" for item in _items(card.get("out_of_scope"))]
    mct: JSONDict = {
        "schema_version": MCT_SCHEMA_VERSION,
        "model_details": {
            "name": document.name,
            "overview": _text(card["overview"]) if is_filled(card.get("overview")) else None,
            "version": {"name": str(document.version), "date": metadata.get("created_at")},
            "owners": _owners(card.get("owners")),
            "licenses": _licenses(card.get("license")),
            "references": [{"reference": _text(r)} for r in _items(card.get("references"))],
            "citations": [{"citation": _text(c)} for c in _items(card.get("citation"))],
        },
        "model_parameters": {
            "model_architecture": architecture or None,
            "data": _data(document),
            "input_format": input_format or None,
            "input_format_map": input_map,
            "output_format": output_format or None,
            "output_format_map": output_map,
        },
        "quantitative_analysis": {"performance_metrics": _performance_metrics(document)},
        "considerations": {
            "users": _descriptions(card.get("users")),
            "use_cases": _descriptions(card.get("intended_use")),
            "limitations": _descriptions(
                card.get("limitations"), out_of_scope, card.get("caveats")
            ),
            "tradeoffs": _descriptions(card.get("tradeoffs")),
            "ethical_considerations": _risks(card.get("ethical_considerations")),
        },
    }
    result: JSONDict = _drop_empty(mct)
    result["roost"] = _roost_block(document)
    return result


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_drop_empty(item) for item in value]
    return value


def _roost_block(document: Document) -> JSONDict:
    facts: list[JSONValue] = [
        {"section": section.key, **fact.to_dict()} for section, fact in document.facts()
    ]
    tables: list[JSONValue] = [
        {"section": section.key, **table.to_dict()}
        for section in document.sections
        for table in section.tables
    ]
    return {
        "kind": document.kind,
        "version": document.version,
        "digest": document.digest,
        "completeness": document.completeness,
        "missing": list(document.missing),
        "evaluation": document.evaluation.id if document.evaluation else None,
        "facts": facts,
        "tables": tables,
        "requests": [r.to_dict() for s in document.sections for r in s.requests],
    }
