"""The parity check: the training path and the online path give the same features.

``check_parity(store, service, sample=1000)``:

1. draws up to ``sample`` entities that have events (seeded, so a rerun draws the same);
2. takes each one's request fields from its newest event (the event tables hold what
   requests carried), or from ``requests`` when given;
3. materializes those entities as of ``at`` (now) into the online store;
4. builds their training frame at ``at`` (the offline path, from events);
5. reads their features online at ``at`` (the serving path: store, cache, transforms);
6. compares every column: exactly for whole numbers, text and booleans, within a
   relative 1e-9 for floats; statuses must match too.

``roost features check SERVICE --sample 1000`` runs it and exits 1 on any difference.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from roost.errors import FeatureError
from roost.features._time import from_time_us, iso_of, now_us
from roost.features.fitted import plain_value
from roost.features.service import FeatureService
from roost.features.store import FeatureStore

__all__ = ["ColumnParity", "ParityReport", "check_parity"]

#: floats agree when within this relative tolerance (summation order may differ)
RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class ColumnParity:
    """How one feature column compared.

    Attributes:
        column: the feature column.
        compared: rows compared.
        mismatched: rows whose value or status differs.
        max_abs_diff: the largest absolute difference between two floats (0 otherwise).
        example: the first difference, as text, or None.
    """

    column: str
    compared: int
    mismatched: int
    max_abs_diff: float
    example: str | None = None


@dataclass(frozen=True, slots=True)
class ParityReport:
    """The outcome of ``check_parity``.

    Attributes:
        service: the service's ``name@version``.
        at: when both paths were computed (ISO 8601, UTC).
        entities: how many entities were compared.
        columns: one entry per feature column.
        statuses: how many values of each status the training path gave.
    """

    service: str
    at: str
    entities: int
    columns: list[ColumnParity]
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.mismatched == 0 for c in self.columns)


def check_parity(
    store: FeatureStore,
    service: FeatureService,
    *,
    sample: int = 1000,
    at_us: int | None = None,
    seed: int = 0,
    requests: Any = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ParityReport:
    """Compare the training and online paths on a sample of entities (module docstring).

    Args:
        store: the feature store (its online store receives the sample's values).
        service: the service to check.
        sample: the most entities to compare.
        at_us: the time both paths compute at (now).
        seed: the seed of the draw.
        requests: a DataFrame of request rows (entity keys and request fields) to use
            instead of the events' newest rows.
        progress: called as materialization goes (see ``FeatureStore.materialize``).

    Raises:
        FeatureError: nothing to sample, or a request field is in no event table.
    """
    if sample < 1:
        raise FeatureError(f"--sample: expected at least 1 entity, got {sample}")
    at = at_us if at_us is not None else now_us(store.clock)
    rows = _request_rows(store, service, at, requests)
    if not rows:
        raise FeatureError(
            f"parity check of {service.ref}: no entity has events by {iso_of(at)}; ingest "
            "events (roost features ingest) or pass request rows"
        )
    keys = sorted(rows)
    chosen = sorted(random.Random(seed).sample(keys, min(sample, len(keys))))
    picked = [rows[key] for key in chosen]
    store.materialize(service, at_us=at, keys=chosen, progress=progress)
    import pandas as pd

    entity_df = pd.DataFrame.from_records(picked)
    entity_df["_parity_ts"] = [from_time_us(at)] * len(entity_df)
    frame = store.training_frame(service, entity_df, timestamp="_parity_ts", statuses=True)
    online = store.online_features(service, picked, at_us=at)
    columns = []
    statuses: dict[str, int] = {}
    for name, dtype in service.columns:
        offline_values = frame[name].tolist()
        offline_statuses = frame[f"{name}__status"].tolist()
        for status in offline_statuses:
            statuses[status] = statuses.get(status, 0) + 1
        columns.append(_compare(name, dtype, chosen, offline_values, offline_statuses, online))
    return ParityReport(service.ref, iso_of(at), len(chosen), columns, statuses)


def _request_rows(
    store: FeatureStore, service: FeatureService, at: int, requests: Any
) -> dict[str, dict[str, Any]]:
    """Each entity's raw inputs: its keys and its request fields, by canonical key."""
    entity = service.entity
    fields = [name for name, _ in service.raw_inputs if name not in entity.key_names]
    if requests is not None:
        records = requests.to_dict(orient="records")
        return {entity.key_of(r): {n: r.get(n) for n, _ in service.raw_inputs} for r in records}
    sources = store.read_events(service, keys=None, until_us=at)
    missing = [f for f in fields if not any(f in frame.columns for frame in sources.values())]
    if missing:
        raise FeatureError(
            f"parity check of {service.ref}: request fields {missing} are in no event table; "
            "pass request rows (roost features check --requests FILE)"
        )
    rows: dict[str, dict[str, Any]] = {}
    for frame in sources.values():
        if frame.empty:
            continue
        newest = frame.groupby("_key", sort=False).tail(1)  # read() sorts by key, then time
        for record in newest.to_dict(orient="records"):
            row = rows.setdefault(
                record["_key"], dict(zip(entity.key_names, json.loads(record["_key"]), strict=True))
            )
            for name in fields:
                if name in record and name not in row:
                    row[name] = plain_value(record[name])
    return {key: row for key, row in rows.items() if all(f in row for f in fields)}


def _compare(
    name: str,
    dtype: str,
    keys: list[str],
    offline: list[Any],
    offline_statuses: list[str],
    online: list[Any],
) -> ColumnParity:
    mismatched = 0
    largest = 0.0
    example = None
    for key, value, status, row in zip(keys, offline, offline_statuses, online, strict=True):
        served, served_status = row.values[name], row.statuses[name]
        same, difference = _same(plain_value(value), served, dtype)
        largest = max(largest, difference)
        if not same or status != served_status:
            mismatched += 1
            if example is None:
                example = (
                    f"entity {key}: training {plain_value(value)!r} ({status}), "
                    f"online {served!r} ({served_status})"
                )
    return ColumnParity(name, len(keys), mismatched, largest, example)


def _same(offline: Any, online: Any, dtype: str) -> tuple[bool, float]:
    if offline is None or online is None:
        return offline is None and online is None, 0.0
    if dtype == "float64":
        difference = abs(float(offline) - float(online))
        return math.isclose(offline, online, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0), difference
    return offline == online, 0.0
