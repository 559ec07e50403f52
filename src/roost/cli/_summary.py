"""The readable summary of one version that ``roost models show`` prints.

It reads only ``model.yaml`` (already verified by the registry) and tolerates missing
sections, so packages written by older or newer roost versions still display.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from roost.cli._output import (
    cell,
    format_time,
    format_value,
    heading,
    key_value_table,
    plain_table,
    short_hash,
)
from roost.store import ModelVersion
from roost.types import JSONDict

__all__ = ["render_summary"]

_MAX_LABELS = 10


def _print_facts(console: Console, rows: Iterable[tuple[str, str]]) -> None:
    """``key  value`` lines that never wrap, so digests and hashes stay whole for copying."""
    rows = list(rows)
    width = max((len(key) for key, _ in rows), default=0)
    for key, value in rows:
        line = Text("  ") + Text(key.ljust(width), style="dim") + Text("  ") + Text(value)
        console.print(line, soft_wrap=True)


def _section(console: Console, title: str) -> None:
    console.print()
    console.print(heading(title))


def _labels(labels: Any) -> str:
    if not labels:
        return ""
    shown = ", ".join(format_value(label) for label in labels[:_MAX_LABELS])
    more = len(labels) - _MAX_LABELS
    return f"{shown}, … ({more} more)" if more > 0 else shown


def _shape(shape: Any) -> str:
    return "×".join("N" if dim == -1 else str(dim) for dim in shape) if shape else ""


def _inputs_table(signature: Mapping[str, Any]) -> Table:
    inputs = signature.get("inputs") or []
    has_description = any(spec.get("description") for spec in inputs)
    if signature.get("kind") == "tensors":
        headers = ["name", "dtype", "shape", "NaN allowed"]
    else:
        headers = ["name", "dtype", "missing allowed"]
    table = plain_table(*headers, *(["description"] if has_description else []))
    for spec in inputs:
        row = [cell(spec.get("name"), "bold"), cell(spec.get("dtype"))]
        if signature.get("kind") == "tensors":
            row.append(cell(_shape(spec.get("shape"))))
        row.append(cell("yes" if spec.get("allow_nan") else "no"))
        if has_description:
            row.append(cell(spec.get("description")))
        table.add_row(*row)
    return table


def _outputs_table(signature: Mapping[str, Any]) -> Table:
    table = plain_table("name", "dtype", "shape", "labels")
    for spec in signature.get("outputs") or []:
        table.add_row(
            cell(spec.get("name"), "bold"),
            cell(spec.get("dtype")),
            cell(_shape(spec.get("shape"))),
            cell(_labels(spec.get("labels"))),
        )
    return table


def _code_fact(code: Mapping[str, Any] | None) -> str:
    if not code:
        return "not recorded (saved outside a git repository)"
    text = str(code.get("commit", "?"))[:12]
    if code.get("branch"):
        text += f" on {code['branch']}"
    if code.get("dirty"):
        diff = code.get("diff_sha256")
        text += " (dirty" + (f", diff sha256:{short_hash(diff)})" if diff else ")")
    return text


def _data_fact(facts: Mapping[str, Any]) -> str:
    parts = [f"{facts.get('n_rows', '?')} rows"]
    if facts.get("columns"):
        parts.append(f"{len(facts['columns'])} columns")
    if facts.get("x_sha256"):
        parts.append(f"X sha256:{short_hash(facts['x_sha256'])}")
    if facts.get("y_sha256"):
        parts.append(f"y sha256:{short_hash(facts['y_sha256'])}")
    return ", ".join(parts)


def _member_facts(pins: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """A composite's members: each pinned version with its digest, nested ones indented."""
    facts: list[tuple[str, str]] = []
    for name, pin in pins.items():
        if isinstance(pin, Mapping) and "composite" in pin:
            facts.append((f"{prefix}{name}", f"an inline {pin['composite']}"))
            facts.extend(_member_facts(pin.get("members") or {}, prefix + "  "))
        elif isinstance(pin, Mapping):
            digest = str(pin.get("digest", ""))[:19]
            facts.append((f"{prefix}{name}", f"{pin.get('name')}:{pin.get('version')}  {digest}…"))
    return facts


def _provenance_facts(provenance: Mapping[str, Any]) -> list[tuple[str, str]]:
    environment = provenance.get("environment") or {}
    rows = [("code", _code_fact(provenance.get("code")))]
    if environment:
        python = " ".join(
            str(environment[key])
            for key in ("python", "implementation", "platform")
            if environment.get(key)
        )
        rows.append(("python", python))
        frameworks = environment.get("frameworks") or {}
        if frameworks:
            rows.append(("frameworks", ", ".join(f"{n} {v}" for n, v in frameworks.items())))
    data = provenance.get("data") or []
    for facts in data:
        rows.append((f"data {facts.get('role', '?')}", _data_fact(facts)))
    if not data:
        rows.append(("data", "not recorded (pass data= to save)"))
    return rows


def _card_value(value: Any) -> str:
    if isinstance(value, list) and all(not isinstance(v, list | dict) for v in value):
        return ", ".join(format_value(v) for v in value)
    return format_value(value)


def render_summary(
    console: Console, metadata: JSONDict, found: ModelVersion, aliases: list[str]
) -> None:
    """Print a version's summary: facts, signature, provenance, params and card."""
    title = Text(str(found), style="bold")
    if aliases:
        title += Text("  " + " ".join(f"@{a}" for a in aliases), style="cyan")
    console.print(title)
    flavor = metadata.get("flavor") or {}
    framework = metadata.get("framework") or {}
    flavor_text = str(flavor.get("name", found.flavor))
    if framework.get("name"):
        flavor_text += f" ({framework['name']} {framework.get('version') or '?'})"
    training = metadata.get("training") or {}
    _print_facts(
        console,
        [
            ("digest", found.digest),
            ("flavor", flavor_text),
            ("created", format_time(metadata.get("created_at", found.created_at))),
            ("aliases", ", ".join(f"@{a}" for a in aliases) or "none"),
            ("algorithm", str(training.get("algorithm") or "unknown")),
            ("saved with", f"roost {metadata.get('roost_version', '?')}"),
        ],
    )

    signature = metadata.get("signature") or {}
    _section(console, f"Inputs ({signature.get('kind', 'unknown')})")
    console.print(_inputs_table(signature))
    _section(console, "Outputs")
    console.print(_outputs_table(signature))

    _section(console, "Provenance")
    _print_facts(console, _provenance_facts(metadata.get("provenance") or {}))

    members = (
        (flavor.get("options") or {}).get("members") if flavor.get("name") == "composite" else None
    )
    if members:
        _section(console, "Members (pinned)")
        _print_facts(console, _member_facts(members))

    params = training.get("params") or {}
    _section(console, "Params")
    console.print(key_value_table(params.items()) if params else Text("  none recorded"))

    card = metadata.get("card") or {}
    _section(console, "Card")
    if card:
        console.print(key_value_table((key, _card_value(v)) for key, v in card.items()))
    else:
        console.print(Text("  no fields declared (pass card= to save)"))
