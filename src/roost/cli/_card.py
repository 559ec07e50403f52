"""``roost card``: a version's model card (or factsheet) as Markdown, HTML or JSON.

A card needs no model loading: it is built from the version's verified ``model.yaml``,
its stored input example and its evaluation history (``roost evaluate``). A factsheet
printed here has no live facts; ``roost serve`` adds them at ``/v1/models/{m}/factsheet``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from roost.cli._params import RefArgument
from roost.cli._session import session_of

__all__ = ["card"]


class DocumentFormat(StrEnum):
    """What ``roost card`` writes."""

    MD = "md"
    HTML = "html"
    JSON = "json"


def _example(package: Path) -> Any:
    """The stored input example, or None for a package without one."""
    try:
        return json.loads((package / "examples" / "input_example.json").read_text("utf-8"))
    except FileNotFoundError:
        return None


def card(
    ctx: typer.Context,
    ref: RefArgument,
    fmt: Annotated[
        DocumentFormat,
        typer.Option(
            "--format",
            "-f",
            help="Markdown (Hugging Face front matter), one self-contained HTML page, or "
            "JSON (Model Card Toolkit fields).",
        ),
    ] = DocumentFormat.MD,
    is_factsheet: Annotated[
        bool,
        typer.Option("--factsheet", help="Write the factsheet (IBM AI FactSheets sections)."),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="FILE", help="Write here instead of stdout.", show_default=False
        ),
    ] = None,
) -> None:
    """Write a version's model card, from its metadata, card fields and evaluations.

    Every fact is marked measured (package, evaluations) or declared (card fields);
    a declared field nobody wrote reads "[More information needed]".
    """
    # imported when the command runs: `roost --help` need not load the renderers
    from roost.cards.document import factsheet, model_card, render
    from roost.cards.history import EvaluationHistory

    registry = session_of(ctx).registry()
    found = registry.resolve(ref)
    metadata = registry.metadata(found)  # every hash verified before anything is read
    example = _example(registry.path(found))
    evaluations = EvaluationHistory(registry).list(found)
    build = factsheet if is_factsheet else model_card
    document = build(metadata, evaluations, example=example, digest=found.digest)
    text = render(document, fmt.value)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.expanduser().write_text(text, encoding="utf-8")
    what = "factsheet" if is_factsheet else "model card"
    typer.echo(f"wrote {out} ({what} of {found}, {document.completeness:.0%} complete)")
