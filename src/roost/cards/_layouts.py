"""Which facts go where: the sections of a model card and of a factsheet.

- the model card follows Mitchell et al., *Model Cards for Model Reporting* (2019), and
  adds the interface (signature and requests);
- the factsheet follows IBM's AI FactSheets 360 sections, and adds what only a factsheet
  says: the best and worst slices, the gaps between slices, and the live facts of the
  running service.
"""

from __future__ import annotations

from typing import Any

from roost.cards._facts import FactBuilder, slice_name
from roost.cards.document import Document, Fact, Section, Table, format_value
from roost.cards.evaluation import SliceResult
from roost.cards.live import LiveFacts
from roost.telemetry.drift import MAJOR, MAJOR_PSI, MODERATE, MODERATE_PSI, STABLE
from roost.types import JSONValue

__all__ = ["card_document", "factsheet_document", "psi_level"]

_Ranked = tuple[float, SliceResult, JSONValue]
_PERCENTILES = ("p50", "p95", "p99")


def psi_level(value: float) -> str:
    """The drift level of a PSI, in roost.telemetry.drift's words."""
    return STABLE if value < MODERATE_PSI else MODERATE if value < MAJOR_PSI else MAJOR


def card_document(facts: FactBuilder) -> Document:
    """The model card: Mitchell et al.'s nine sections, then the interface."""
    d = facts.declared
    details = (
        *facts.identity(),
        d("overview"),
        *facts.technique(),
        facts.commit(),
        d("owners"),
        d("license"),
        *facts.optional("references", "citation", "tags"),
    )
    evaluation_data = (d("evaluation_data"), facts.evaluation_data(), *facts.data_sets())
    results = (*facts.metric_facts(), facts.slice_columns())
    tables = (*facts.slice_table(), *facts.confusion_table(), *facts.history_table())
    figures = facts.figures()
    ethics = (d("ethical_considerations"), *facts.optional("sensitive_fields"))
    caveats = (d("caveats"), d("limitations"), d("tradeoffs"), d("monitoring"))
    sections = [
        Section("model_details", "Model Details", details),
        Section("intended_use", "Intended Use", (d("intended_use"), d("users"), d("out_of_scope"))),
        Section("factors", "Factors", (d("factors"), facts.slice_columns())),
        Section("metrics", "Metrics", tuple(facts.methodology())),
        Section("evaluation_data", "Evaluation Data", evaluation_data),
        Section("training_data", "Training Data", (d("training_data"), *facts.data_sets(True))),
        Section("quantitative_analyses", "Quantitative Analyses", results, tables, (), figures),
        Section("ethical_considerations", "Ethical Considerations", ethics),
        Section("caveats", "Caveats and Recommendations", caveats),
        facts.interface("interface", "Interface"),
    ]  # fmt: skip
    return facts.document("model_card", sections)


def factsheet_document(facts: FactBuilder, live: LiveFacts | None) -> Document:
    """The factsheet: AI FactSheets sections, then the live facts when served."""
    d = facts.declared
    domain = (d("users"), d("out_of_scope"), d("factors"))
    identity = (*facts.identity(), *facts.technique(), d("owners"), d("license"))
    test_data = (d("evaluation_data"), facts.evaluation_data(), *facts.data_sets())
    performance = (*facts.methodology(), *facts.metric_facts())
    results = (*facts.slice_table(), *facts.confusion_table())
    conditions = (*_conditions(facts), d("limitations"), d("tradeoffs"), d("caveats"))
    fairness = (*_gaps(facts), d("ethical_considerations"), *facts.optional("sensitive_fields"))
    baseline = facts.measured("Training baseline", bool(facts.meta.get("baseline")), "baseline")
    drift = [baseline, d("monitoring")]
    if live is not None:
        drift.append(Fact("Live drift", _drift_summary(live), "live", "live.drift"))
    environment = (facts.meta.get("provenance") or {}).get("environment")
    lineage = (
        facts.commit(),
        facts.measured("Environment", environment, "provenance.environment"),
        facts.measured("roost version", facts.meta.get("roost_version"), "roost_version"),
        *facts.data_sets(True),
        *facts.data_sets(),
    )
    evolution = (
        facts.measured("Version", facts.version, "version"),
        facts.measured("Created", facts.meta.get("created_at"), "created_at"),
        facts.measured("Evaluations", len(facts.history), "evaluations"),
    )
    contact = (d("owners"), d("license"), *facts.optional("references", "citation"))
    sections = [
        Section("purpose", "Purpose", (d("overview"), d("intended_use"))),
        Section("intended_domain", "Intended domain", domain),
        Section("model_information", "Model information", identity),
        facts.interface("inputs_outputs", "Inputs and outputs"),
        Section("training_data", "Training data", (d("training_data"), *facts.data_sets(True))),
        Section("test_data", "Test data", test_data),
        Section("performance", "Performance", performance, results, (), facts.figures()),
        Section("conditions", "Optimal and poor conditions", conditions),
        Section("fairness", "Bias and fairness", fairness),
        Section("drift", "Domain shift and drift", tuple(drift)),
        Section("lineage", "Lineage and provenance", lineage),
        Section("evolution", "Evolution", evolution, tuple(facts.history_table())),
        Section("contact", "Contact and governance", contact),
    ]  # fmt: skip
    if live is not None:
        sections.append(_live_section(live))
    return facts.document("factsheet", sections, live)


def _describe(facts: FactBuilder, item: _Ranked) -> str:
    _, result, value = item
    return f"{slice_name(result)}: {facts.headline} {format_value(value)}, {result.n_rows} rows"


def _conditions(facts: FactBuilder) -> list[Fact]:
    """The best and the worst slice by the headline metric, over every slice column."""
    ranked = facts.ranked()
    if not ranked:
        return [facts.measured("Best and worst slices", None, "evaluation.slices")]
    return [
        facts.measured("Best slice", _describe(facts, ranked[0]), "evaluation.slices"),
        facts.measured("Worst slice", _describe(facts, ranked[-1]), "evaluation.slices"),
    ]


def _gaps(facts: FactBuilder) -> list[Fact]:
    """Per slice column: how far apart its best and worst slice are on the headline metric."""
    by_column: dict[str, list[_Ranked]] = {}
    for item in facts.ranked():
        by_column.setdefault(item[1].column, []).append(item)
    if not by_column:
        return [facts.measured("Gaps between slices", None, "evaluation.slices")]
    found = []
    for column, items in by_column.items():
        (best, best_slice, best_cell), (worst, worst_slice, worst_cell) = items[0], items[-1]
        text = (
            f"{format_value(abs(best - worst))} "
            f"(best {slice_name(best_slice)} {format_value(best_cell)}, "
            f"worst {slice_name(worst_slice)} {format_value(worst_cell)})"
        )
        label = f"{facts.headline} gap across {column}"
        found.append(facts.measured(label, text, f"gaps.{column}"))
    return found


def _drift_summary(live: LiveFacts) -> str | None:
    """``4 features: 1 major, 3 stable``; None without drift."""
    if not live.drift:
        return None
    levels = [psi_level(value) for value in live.drift.values()]
    counts = ", ".join(
        f"{levels.count(lv)} {lv}" for lv in (MAJOR, MODERATE, STABLE) if lv in levels
    )
    return f"{len(levels)} features: {counts}"


def _live_section(live: LiveFacts) -> Section:
    """What the running service saw: traffic, latency, errors, production quality, drift."""

    def fact(label: str, value: Any, key: str) -> Fact:
        return Fact(label, value, "live", f"live.{key}")

    found = [
        fact("Serving since", live.serving_since, "serving_since"),
        fact("Requests", live.requests, "requests"),
        fact("Errors", live.errors, "errors"),
        fact("Error rate", live.error_rate, "error_rate"),
        fact("Throughput (requests/s)", live.throughput_rps, "throughput_rps"),
        *(
            fact(f"Latency {p} (ms)", live.latency_ms.get(p), f"latency_ms.{p}")
            for p in _PERCENTILES
        ),
        fact("Telemetry", live.telemetry, "telemetry"),
    ]
    production = live.production or {}
    quality = [name for name in ("accuracy", "mae") if name in production]
    found += [fact(f"Production {q}", production[q], f"production.{q}") for q in quality]
    if quality:
        found.append(fact("Scored rows", production.get("scored_rows"), "production.scored_rows"))
    else:
        found.append(fact("Production quality", None, "production"))
    found.append(fact("Drift", _drift_summary(live), "drift"))
    tables = []
    if live.drift:
        ordered = sorted(live.drift.items(), key=lambda item: -item[1])
        rows = tuple((name, psi, psi_level(psi)) for name, psi in ordered)
        title = "Drift against the training baseline (PSI)"
        tables.append(Table(title, ("feature", "PSI", "level"), rows, "live", "live.drift"))
    return Section("live", "Live", tuple(found), tuple(tables))
