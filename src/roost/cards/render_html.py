"""A document as one self-contained HTML page: inline CSS and SVG, no script, no URL.

The page opens with the document's completeness as a badge, lists the sections, and
shows each fact with a tag saying where it comes from. Where a section has plots and the
evaluation has their data, they are drawn inline (``_plots``): the headline metric per
slice with its intervals, the confusion matrix, the calibration curve, the residuals.
The page fetches nothing, so it can be mailed, archived or opened offline; every text
that goes into a tag is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from roost.cards._plots import calibration_chart, confusion_chart, residual_chart, slice_chart
from roost.cards.document import (
    HEADLINE,
    MISSING,
    REQUIRED_FIELDS,
    Document,
    Fact,
    Section,
    Table,
    format_cell,
    format_value,
)
from roost.cards.evaluation import Evaluation, MetricValue

__all__ = ["STYLESHEET", "render_html"]

STYLESHEET = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; color: #1a1a1a; background: #fff; max-width: 920px; margin: 24px auto;
  padding: 0 16px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05em; margin: 20px 0 6px; }
p.meta, p.explain, figcaption { color: #555; }
table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
caption { text-align: left; caption-side: top; padding: 4px 0; font-weight: 600; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
th { font-weight: 600; }
table.facts th { width: 13em; }
td.value { white-space: pre-line; overflow-wrap: anywhere; }
td.value ul { margin: 0; padding-left: 1.1em; white-space: normal; }
.missing { color: #a33; font-style: italic; }
.src { display: inline-block; font-size: 0.75em; padding: 0 6px; border-radius: 8px;
  border: 1px solid; white-space: nowrap; }
.src-measured { color: #005a8c; border-color: #0072B2; }
.src-declared { color: #8a4b00; border-color: #E69F00; }
.src-live { color: #00674c; border-color: #009E73; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff;
  font-weight: 600; }
.badge-complete { background: #007a5a; }
.badge-partial { background: #b06f00; }
.badge-low { background: #b8420a; }
nav ol { columns: 2; padding-left: 1.4em; }
figure { margin: 8px 0 16px; }
svg { display: block; max-width: 100%; height: auto; }
pre { background: #f6f8fa; padding: 10px 12px; overflow-x: auto; border-radius: 6px; }
@page { margin: 14mm; }
@media print { figure, pre, table { break-inside: avoid; } }
"""


def render_html(document: Document) -> str:
    """The document as one HTML page that needs nothing else.

    Example:
        >>> page = render_html(card)  # doctest: +SKIP
        >>> page.startswith("<!DOCTYPE html>")  # doctest: +SKIP
        True
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(document.title)}</title>",
        f"<style>{STYLESHEET}</style>",
        "</head>",
        "<body>",
        _header(document),
        _contents(document),
        *(_section(document, section) for section in document.sections),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _badge(document: Document) -> str:
    share = document.completeness
    level = "complete" if share >= 1 else "partial" if share >= 0.5 else "low"
    filled = len(REQUIRED_FIELDS) - len(document.missing)
    text = f"completeness {share:.0%} ({filled} of {len(REQUIRED_FIELDS)} declared fields)"
    return f'<span class="badge badge-{level}">{escape(text)}</span>'


def _tag(source: str) -> str:
    return f'<span class="src src-{escape(source)}">{escape(source)}</span>'


def _header(document: Document) -> str:
    metadata = document.metadata
    flavor = (metadata.get("flavor") or {}).get("name")
    details = [f"version {document.version}"]
    details += [str(flavor)] if flavor else []
    details += [f"created {metadata['created_at']}"] if metadata.get("created_at") else []
    details += [f"digest {document.digest}"] if document.digest else []
    lines = [
        "<header>",
        f"<h1>{escape(document.title)}</h1>",
        f'<p class="meta">{escape(" · ".join(details))}</p>',
        f"<p>{_badge(document)}</p>",
    ]
    if document.missing:
        missing = ", ".join(document.missing)
        lines.append(f'<p class="explain">Missing declared fields: {escape(missing)}.</p>')
    tags = [
        f"{_tag('measured')} (read from the package or an evaluation)",
        f"{_tag('declared')} (written by its authors)",
    ]
    if document.kind == "factsheet":
        tags.append(f"{_tag('live')} (seen by the running service)")
    sources = f"{', '.join(tags[:-1])} or {tags[-1]}"
    lines.append(f'<p class="explain">Every fact is tagged {sources}.</p>')
    lines.append("</header>")
    return "\n".join(lines)


def _contents(document: Document) -> str:
    items = "".join(
        f'<li><a href="#{escape(s.key)}">{escape(s.title)}</a></li>' for s in document.sections
    )
    return f"<nav><ol>{items}</ol></nav>"


def _value(value: Any) -> str:
    if value is None:
        return f'<span class="missing">{escape(MISSING)}</span>'
    if isinstance(value, list) and len(value) > 1:
        return "<ul>" + "".join(f"<li>{escape(format_cell(v))}</li>" for v in value) + "</ul>"
    if isinstance(value, dict) and len(value) > 1 and set(value) != {"value", "lower", "upper"}:
        items = "".join(
            f"<li>{escape(str(k))}: {escape(format_cell(v))}</li>" for k, v in value.items()
        )
        return f"<ul>{items}</ul>"
    return escape(format_value(value))


def _facts(facts: tuple[Fact, ...]) -> str:
    rows = "".join(
        f'<tr><th scope="row">{escape(f.label)}</th><td class="value">{_value(f.value)}</td>'
        f"<td>{_tag(f.source)}</td></tr>"
        for f in facts
    )
    return f'<table class="facts">{rows}</table>'


def _table(table: Table) -> str:
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(format_cell(c))}</td>" for c in row) + "</tr>"
        for row in table.rows
    )
    caption = f"<caption>{escape(table.title)} {_tag(table.source)}</caption>"
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _point(metric: MetricValue | None) -> tuple[float | None, float | None, float | None]:
    return (metric.value, metric.lower, metric.upper) if metric else (None, None, None)


def _slice_figure(evaluation: Evaluation) -> str:
    metric = HEADLINE[evaluation.task]
    n_rows = evaluation.data.get("n_rows")
    overall = f"all rows ({n_rows})" if n_rows is not None else "all rows"
    rows = [(overall, *_point(evaluation.metric(metric)))]
    for result in evaluation.slices:
        found = next((m for m in result.metrics if m.name == metric), None)
        label = f"{result.column}={format_value(result.value)} ({result.n_rows})"
        rows.append((label, *_point(found)))
    caption = (
        f"{metric} overall and per slice (rows in brackets), "
        f"with {evaluation.confidence:.0%} confidence intervals"
    )
    return _figure(slice_chart(rows, metric=metric), caption)


def _figures(document: Document, section: Section) -> list[str]:
    """The plots a section asks for, drawn from the latest evaluation when it has their data."""
    evaluation = document.evaluation
    if evaluation is None:
        return []
    drawn = []
    for name in section.figures:
        if name == "slices" and evaluation.slices:
            drawn.append(_slice_figure(evaluation))
        elif name == "confusion" and evaluation.confusion:
            confusion = evaluation.confusion
            svg = confusion_chart(confusion["labels"], confusion["matrix"])
            drawn.append(_figure(svg, "Confusion matrix, shaded by the share of each true class"))
        elif name == "calibration" and evaluation.calibration:
            svg = calibration_chart(evaluation.calibration)
            drawn.append(_figure(svg, "Calibration: accuracy against confidence (dashed: perfect)"))
        elif name == "residuals" and evaluation.residuals:
            residuals = evaluation.residuals
            svg = residual_chart(residuals["edges"], residuals["counts"])
            drawn.append(_figure(svg, "Residuals: truth − prediction"))
    return drawn


def _section(document: Document, section: Section) -> str:
    parts = [f'<section id="{escape(section.key)}">', f"<h2>{escape(section.title)}</h2>"]
    if section.facts:
        parts.append(_facts(section.facts))
    parts.extend(_figures(document, section))
    parts.extend(_table(table) for table in section.tables)
    for request in section.requests:
        parts.append(f"<h3>{escape(request.protocol)} {_tag('measured')}</h3>")
        if request.note:
            parts.append(f'<p class="explain">{escape(request.note)}</p>')
        parts.append(f"<pre><code>{escape(request.curl)}</code></pre>")
    parts.append("</section>")
    return "\n".join(parts)
