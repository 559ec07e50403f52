"""The feature store: events offline, latest values online, and the catalog of definitions.

One ``FeatureStore`` per ROOST_HOME holds, under ``<home>/features/``:

- ``offline.db``: the event tables aggregate views read (``ingest``);
- the online store, ``online.db`` (SQLite) by default or Redis by URL, holding each
  entity's latest view values (``materialize``), read by serving (``online_features``);
- ``catalog.db``: every applied ``name@version`` and its code hash (``apply``), so that
  changed code under an old version is refused.

Training frames and online reads go through the same ``FeatureService.compute`` and the
same ``AggregateView.as_of``; only where the views' values come from differs (events
as of each row's time, or the online store). See docs/features.md.

Example:
    >>> store = FeatureStore(Path("~/.roost/features").expanduser())  # doctest: +SKIP
    >>> store.ingest(payments, payments_df)  # doctest: +SKIP
    >>> frame = store.training_frame(fraud_features, labels_df)  # doctest: +SKIP
    >>> store.materialize(fraud_features)  # doctest: +SKIP
    >>> store.online_features(fraud_features, [{"card_id": 42, ...}])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roost.clock import Clock, SystemClock
from roost.config import Settings
from roost.errors import ConfigError, FeatureError
from roost.features._discover import defining_module
from roost.features._frames import view_values
from roost.features._lookup import lookup
from roost.features._time import now_us, to_time_us
from roost.features.cache import FeatureCache
from roost.features.catalog import FeatureCatalog
from roost.features.entities import Events
from roost.features.fitted import plain_value, typed_frame
from roost.features.offline import OfflineStore
from roost.features.online import OnlineRecord, OnlineStore, open_online_store
from roost.features.service import FeatureRow, FeatureService
from roost.features.transforms import Request

__all__ = ["FeatureStore", "Materialized"]

log = logging.getLogger(__name__)

#: called as materialization goes: (view ref, entities done, entities in all)
Progress = Callable[[str, int, int], None]
_WRITE_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Materialized:
    """What ``materialize`` wrote for one view.

    Attributes:
        view: the view's ``name@version``.
        entities: how many entities had events by the materialization time.
        written: how many records were written (a newer stored record is kept).
        at_us: the materialization time (UTC µs).
        seconds: how long it took.
    """

    view: str
    entities: int
    written: int
    at_us: int
    seconds: float


class FeatureStore:
    """Offline events, online values and the definitions catalog (see the module docstring).

    Args:
        home: the folder holding the store's files (``<ROOST_HOME>/features``).
        online_url: ``redis://…`` or ``sqlite:///…``; None means ``<home>/online.db``.
        cache: the in-process cache in front of the online store; None for a default one
            (10,000 entries, 5 s), ``FeatureCache(max_entries=0)`` for none.
        clock: time for online reads and materialization.
    """

    def __init__(
        self,
        home: Path,
        *,
        online_url: str | None = None,
        cache: FeatureCache | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.home = Path(home)
        self.online_url = online_url
        self.cache = cache if cache is not None else FeatureCache(max_entries=10_000, max_age_s=5.0)
        self.clock = clock or SystemClock()
        self._offline: OfflineStore | None = None
        self._online: OnlineStore | None = None
        self._catalog: FeatureCatalog | None = None
        # serving reads from several worker threads: the parts must be opened once
        self._opening = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> FeatureStore:
        """The store of ``ROOST_HOME``, online values where ``ROOST_FEATURES_URL`` says."""
        return cls(settings.store.home / "features", online_url=settings.features_url, clock=clock)

    # ------------------------------------------------------------------ parts, opened lazily

    @property
    def offline(self) -> OfflineStore:
        with self._opening:
            if self._offline is None:
                self._offline = OfflineStore(self.home / "offline.db")
            return self._offline

    @property
    def online(self) -> OnlineStore:
        with self._opening:
            if self._online is None:
                self._online = open_online_store(
                    self.online_url, default_path=self.home / "online.db"
                )
            return self._online

    @property
    def catalog(self) -> FeatureCatalog:
        with self._opening:
            if self._catalog is None:
                self._catalog = FeatureCatalog(self.home / "catalog.db")
            return self._catalog

    def close(self) -> None:
        with self._opening:
            parts = (self._offline, self._online, self._catalog)
            self._offline = self._online = self._catalog = None
        for part in parts:
            if part is not None:
                part.close()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ definitions, events

    def apply(
        self, *services: FeatureService, module: str | None = None, file: str | None = None
    ) -> list[str]:
        """Record each service and its features in the catalog; return the new refs.

        The services' module (and its file) is recorded with them: found by looking for
        the module that defines them when not given.

        Raises:
            FeatureVersionError: a ``name@version`` already recorded has other code now.
        """
        if module is None and services:
            try:  # recorded so that `roost features` commands can import the service again
                module, file = defining_module(services[0])
            except ConfigError:
                module, file = None, None
        definitions: list[Any] = []
        for service in services:
            definitions.extend(f for f in service.features if f not in definitions)
            definitions.append(service)
        return self.catalog.apply(definitions, module=module, file=file, now_us=now_us(self.clock))

    def ingest(self, events: Events, frame: Any, *, replace: bool = False) -> int:
        """Append events to the offline store (checked, all or nothing); return the row count.

        With ``replace=True`` the table's rows are replaced by ``frame``'s, atomically.
        """
        return self.offline.ingest(events, frame, replace=replace)

    # ------------------------------------------------------------------ training

    def training_frame(
        self,
        service: FeatureService,
        entity_df: Any,
        *,
        timestamp: str = "ts",
        statuses: bool = False,
    ) -> Any:
        """The entity rows with their features, each as of the row's own timestamp.

        Args:
            service: the features to add.
            entity_df: one row per training example: the entity keys, ``timestamp``, the
                request fields the service reads, and anything else (labels) kept as is.
            timestamp: the column holding each row's time.
            statuses: also add a ``<column>__status`` column per feature.

        Returns:
            a new DataFrame: ``entity_df``'s columns, then the feature columns.

        Raises:
            FeatureError: a needed column is missing, or a feature column already exists.
            FeatureVersionError: a definition changed without a version bump.
        """
        self.apply(service)
        frame = entity_df.reset_index(drop=True)
        needed = [timestamp, *(name for name, _ in service.raw_inputs)]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise FeatureError(
                f"training frame for {service.ref}: entity_df lacks columns {missing} "
                f"(it needs {needed})"
            )
        passed = {f.name for f in service.row_features if isinstance(f, Request)}
        clash = sorted(set(service.column_names) & set(frame.columns) - passed)
        if clash:
            raise FeatureError(
                f"training frame for {service.ref}: entity_df already has feature columns {clash}"
            )
        times = [
            int(t) for t in to_time_us(frame[timestamp], where=f"entity_df column {timestamp!r}")
        ]
        records = [
            {k: plain_value(v) for k, v in r.items()} for r in frame.to_dict(orient="records")
        ]
        keys = [service.entity.key_of(r) for r in records]
        tables = self.read_events(service, keys=sorted(set(keys)), until_us=max(times, default=0))
        by_view = {
            view.name: view_values(view, tables[view.events.name], keys, times)
            for view in service.views
        }
        rows = [
            service.compute(record, {name: values[i] for name, values in by_view.items()})
            for i, record in enumerate(records)
        ]
        return _with_features(frame, service, rows, statuses)

    # ------------------------------------------------------------------ online

    def materialize(
        self,
        service: FeatureService,
        *,
        at_us: int | None = None,
        keys: Sequence[str] | None = None,
        progress: Progress | None = None,
    ) -> list[Materialized]:
        """Write each view's values as of ``at_us`` (now) to the online store.

        Every entity with events by then is written (or only ``keys``), with the time of
        its newest event; a record the store holds for a newer event is kept.
        """
        self.apply(service)
        at = at_us if at_us is not None else now_us(self.clock)
        tables = self.read_events(service, keys=keys, until_us=at)
        reports = []
        for view in service.views:
            started = time.perf_counter()
            events = tables[view.events.name]
            with_events = set(events["_key"])  # only they have a value to write
            targets = sorted(with_events) if keys is None else [k for k in keys if k in with_events]
            written = 0
            if progress is not None:
                progress(view.ref, 0, len(targets))
            for first in range(0, len(targets), _WRITE_CHUNK):
                chunk = targets[first : first + _WRITE_CHUNK]
                raws = view_values(view, events, chunk, [at] * len(chunk), raw=True)
                records = [
                    OnlineRecord(key, raw.values, raw.event_time_us, at)
                    for key, raw in zip(chunk, raws, strict=True)
                    if raw.event_time_us is not None
                ]
                written += self.online.write(view, records)
                for key in chunk:
                    self.cache.invalidate(view.ref, key)
                if progress is not None:
                    progress(view.ref, first + len(chunk), len(targets))
            seconds = time.perf_counter() - started
            log.info(
                "materialized %s: %d entities, %d written in %.2fs",
                view.ref,
                len(targets),
                written,
                seconds,
            )
            reports.append(Materialized(view.ref, len(targets), written, at, seconds))
        return reports

    def read_events(
        self, service: FeatureService, *, keys: Sequence[str] | None, until_us: int
    ) -> dict[str, Any]:
        """Each event table the service's views read, by name, read once (views may share one).

        Args:
            service: whose views' tables to read.
            keys: only these canonical entity keys (all when None).
            until_us: only events at or before this time (UTC epoch µs).
        """
        tables: dict[str, Any] = {}
        for view in service.views:
            if view.events.name not in tables:
                tables[view.events.name] = self.offline.read(
                    view.events, keys=keys, until_us=until_us
                )
        return tables

    def online_features(
        self, service: FeatureService, rows: Sequence[Any], *, at_us: int | None = None
    ) -> list[FeatureRow]:
        """Each row's features from the online store (the serving path).

        Args:
            service: the features to compute.
            rows: mappings holding the entity keys and the request fields.
            at_us: the time to judge expiry at (now).

        Raises:
            FeatureError: a key or request field is missing or malformed (naming it).
        """
        now = at_us if at_us is not None else now_us(self.clock)
        keys = [service.entity.key_of(row) for row in rows]
        unique = sorted(set(keys))
        by_view = {
            view.name: lookup(view, unique, now, self.cache, self.online, self.offline)
            for view in service.views
        }
        result = []
        for row, key in zip(rows, keys, strict=True):
            computed = service.compute(
                row, {name: found[key][0] for name, found in by_view.items()}
            )
            origins = {name: found[key][1] for name, found in by_view.items()}
            result.append(FeatureRow(computed.values, computed.statuses, origins))
        return result


def _with_features(
    frame: Any, service: FeatureService, rows: list[FeatureRow], statuses: bool
) -> Any:
    import pandas as pd

    names = service.column_names
    features = typed_frame(
        pd.DataFrame.from_records([r.values for r in rows], columns=names, index=frame.index),
        service.columns,
    )
    kept = frame.drop(columns=[c for c in names if c in frame.columns])
    parts = [kept, features]
    if statuses:
        parts.append(
            pd.DataFrame(
                {f"{n}__status": [r.statuses[n] for r in rows] for n in names}, index=frame.index
            )
        )
    return pd.concat(parts, axis=1)
