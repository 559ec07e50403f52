"""The cards room: what a model's users need to know about it, measured where possible.

- ``evaluate`` measures a version on labelled rows, overall and per slice, with bootstrap
  intervals; ``EvaluationHistory`` keeps every evaluation beside the registry.
- ``model_card`` (Mitchell et al. sections) and ``factsheet`` (IBM FactSheets sections)
  build a ``Document`` from the package, its declared fields and its evaluations, every
  fact marked measured, declared or live; ``render`` writes JSON (Model Card Toolkit
  fields), Markdown (Hugging Face front matter) or self-contained HTML with plots.
- ``LiveFacts``: what a running server adds to a factsheet.

docs/cards.md has the long form.
"""

from __future__ import annotations

from roost.cards.document import (
    REQUIRED_FIELDS,
    Document,
    Fact,
    Section,
    factsheet,
    model_card,
    render,
)
from roost.cards.evaluate import evaluate
from roost.cards.evaluation import Evaluation, MetricValue, SliceResult
from roost.cards.history import EvaluationHistory
from roost.cards.live import LiveFacts

__all__ = [
    "REQUIRED_FIELDS",
    "Document",
    "Evaluation",
    "EvaluationHistory",
    "Fact",
    "LiveFacts",
    "MetricValue",
    "Section",
    "SliceResult",
    "evaluate",
    "factsheet",
    "model_card",
    "render",
]
