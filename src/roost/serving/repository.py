"""The models one server serves: loaded from the registry, found by name, hot-swapped.

Each served model has its own batcher. A model that fails to load is recorded as
failed and keeps the server unready, but never stops the other models from serving;
asking for it raises ``ModelNotReady`` (503), not ``ModelNotFound`` (404).

Hot swap: references that can move (``iris@production``, ``iris``/``iris:latest``) are
resolved again every ``poll_interval_s``. When one names a new version, the new version
is loaded in a worker thread while the old one keeps serving; then one dict assignment
makes new requests go to it. Requests already queued on the old version finish there.
A swap that fails is logged once per (reference, version, reason), not on every poll,
and once more when the reference serves its target again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from roost.clock import Clock, SystemClock
from roost.config import ServingConfig
from roost.errors import Error, ModelNotFound, ModelNotReady
from roost.serving.batcher import Batcher, BatchObserver
from roost.store import ModelRef, PackagedModel, Registry

__all__ = ["ModelRepository", "ServedModel"]

log = logging.getLogger(__name__)

#: makes the observer for one model version's batcher (metrics); None means no observer
ObserverFactory = Callable[[str, int], BatchObserver | None]
#: readies a freshly loaded model before it serves (points featured models at the
#: process's feature store)
OnLoad = Callable[[PackagedModel], None]
#: the last failed hot swap of one reference: (the version it tried, or None when the
#: reference did not resolve; the reason); an equal failure on the next poll is not logged
_SwapFailure = tuple[int | None, str]


@dataclass(frozen=True, slots=True)
class ServedModel:
    """One model version being served.

    Attributes:
        name: the name clients use in URLs (the model's registry name).
        ref: the reference it is served under (``iris@production``).
        version: the registry version currently served.
        model: the loaded model.
        batcher: merges its requests.
        serving_since: when this process loaded it, ready to serve (seconds since the
            epoch, on the repository's clock); a factsheet's throughput counts from here.
    """

    name: str
    ref: str
    version: int
    model: PackagedModel
    batcher: Batcher
    serving_since: float = 0.0


class ModelRepository:
    """Load, find and hot-swap the models of one server.

    Args:
        registry: where the models come from.
        refs: what to serve, e.g. ``["iris@production", "churn:3"]``; the first is the
            default model (MLflow's ``/invocations``).
        config: batching and the hot-swap poll interval.
        clock: time, injectable for tests.
        observer_factory: metrics for each model version's batcher.
        on_load: called with each model once loaded, before it serves.
    """

    def __init__(
        self,
        registry: Registry,
        refs: list[str],
        config: ServingConfig,
        *,
        clock: Clock | None = None,
        observer_factory: ObserverFactory | None = None,
        on_load: OnLoad | None = None,
    ) -> None:
        parsed = [ModelRef.parse(ref) for ref in refs]
        names = [p.name for p in parsed]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ModelNotFound(f"serve: each model name may be served once, got {duplicates}")
        if not parsed:
            raise ModelNotFound("serve: expected at least one model reference")
        self.registry = registry
        self.refs = parsed
        self.config = config
        self.clock = clock or SystemClock()
        self.observer_factory = observer_factory
        self.on_load = on_load
        self._served: dict[str, ServedModel] = {}
        self._failed: dict[str, str] = {}
        self._swap_failures: dict[str, _SwapFailure] = {}

    @property
    def default_name(self) -> str:
        """The model ``/invocations`` and other single-model endpoints use."""
        return self.refs[0].name

    @property
    def is_ready(self) -> bool:
        """Every model is loaded."""
        return len(self._served) == len(self.refs)

    @property
    def failures(self) -> dict[str, str]:
        """Models that could not be loaded, with the reason."""
        return dict(self._failed)

    def served(self) -> list[ServedModel]:
        return [self._served[r.name] for r in self.refs if r.name in self._served]

    def get(self, name: str, version: str | None = None) -> ServedModel:
        """The served model called ``name`` (at ``version``, when given).

        Raises:
            ModelNotFound: not served here, or another version is served.
            ModelNotReady: served here, but it failed to load or is still loading.
        """
        served = self._served.get(name)
        if served is None:
            if name in self._failed:
                raise ModelNotReady(f"model {name!r} failed to load: {self._failed[name]}")
            if any(ref.name == name for ref in self.refs):
                raise ModelNotReady(f"model {name!r} is still loading")
            known = ", ".join(r.name for r in self.refs)
            raise ModelNotFound(f"model {name!r} is not served here (served: {known})")
        if version is not None and version != str(served.version):
            raise ModelNotFound(
                f"model {name!r} version {version!r} is not served here "
                f"(served: version {served.version})"
            )
        return served

    def _load(self, ref: ModelRef) -> ServedModel:
        """Resolve and load one reference (blocking: run it in a thread)."""
        found = self.registry.resolve(ref)
        model = self.registry.model(found)
        model.load()
        if self.on_load is not None:
            self.on_load(model)
        observer = (
            self.observer_factory(found.name, found.version) if self.observer_factory else None
        )
        batcher = Batcher(
            model.predict_validated,
            self.config.batching_for(found.name),
            clock=self.clock,
            observer=observer,
            name=str(found),
        )
        return ServedModel(
            found.name, str(ref), found.version, model, batcher, serving_since=self.clock.time()
        )

    async def load_all(self) -> None:
        """Load every model in worker threads; record, log and survive failures."""
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(
            *(loop.run_in_executor(None, self._load, ref) for ref in self.refs),
            return_exceptions=True,
        )
        for ref, result in zip(self.refs, results, strict=True):
            if isinstance(result, ServedModel):
                self._served[ref.name] = result
                log.info("serving %s as version %s", ref, result.version)
            elif isinstance(result, Error | OSError):
                self._failed[ref.name] = str(result)
                log.error("could not load %s: %s", ref, result)
            elif isinstance(result, BaseException):
                raise result

    async def refresh(self) -> list[tuple[str, int, int]]:
        """Load the new version of every moving reference whose target changed.

        Returns:
            (name, old version, new version) for each model swapped.
        """
        loop = asyncio.get_running_loop()
        swapped = []
        for ref in self.refs:
            if ref.kind == "version":
                continue  # a pinned version never moves
            target: int | None = None
            try:
                found = await loop.run_in_executor(None, self.registry.resolve, ref)
                target = found.version
                current = self._served.get(ref.name)
                if current is not None and current.version == found.version:
                    self._note_recovered(ref, found.version)
                    continue
                fresh = await loop.run_in_executor(None, self._load, ref)
            except (Error, OSError) as exc:
                self._note_failure(ref, target, str(exc))
                continue
            self._served[ref.name] = fresh  # one assignment: new requests see the new version
            self._failed.pop(ref.name, None)
            old = current.version if current is not None else 0
            swapped.append((ref.name, old, fresh.version))
            log.info("hot swap: %s now serves version %s (was %s)", ref, fresh.version, old)
            self._note_recovered(ref, fresh.version)
        return swapped

    def _note_failure(self, ref: ModelRef, target: int | None, reason: str) -> None:
        """Log a failed swap once: every poll retries it, and would repeat the warning."""
        if ref.name not in self._served:
            self._failed[ref.name] = reason  # never loaded: readiness shows the latest reason
        failure = (target, reason)
        if self._swap_failures.get(ref.name) == failure:
            log.debug("hot swap of %s still failing: %s", ref, reason)
            return
        self._swap_failures[ref.name] = failure
        what = f"version {target}" if target is not None else "its target"
        log.warning("hot swap of %s to %s failed (retried every poll): %s", ref, what, reason)

    def _note_recovered(self, ref: ModelRef, version: int) -> None:
        """Log that a reference whose swap failed serves its target again."""
        if self._swap_failures.pop(ref.name, None) is not None:
            log.info("hot swap of %s recovered: version %s is served", ref, version)

    async def watch(self) -> None:
        """Refresh forever, every ``poll_interval_s`` (cancel the task to stop)."""
        while True:
            await self.clock.sleep(self.config.poll_interval_s)
            await self.refresh()

    async def close(self) -> None:
        for served in self._served.values():
            await served.batcher.close()
