"""``EvaluationHistory``: every evaluation of a version, kept beside the registry.

A package is immutable (its files are hashed), so evaluations live outside it, one JSON
file each::

    <registry home>/evaluations/<name>/<version>/<id>.json

A file is written to a temporary name in the same folder and renamed into place, so a
reader never sees half a file. Each records the package digest it measured: a file whose
digest is not the version's (left over from a deleted version whose number was reused)
is skipped, as is a file that is not an evaluation; both with a warning, so one bad file
never hides the others.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
from pathlib import Path

from roost.cards.evaluation import Evaluation
from roost.errors import ConfigError, IntegrityError
from roost.store import ModelVersion, Registry, VersionLike

__all__ = ["EvaluationHistory"]

log = logging.getLogger(__name__)

#: what an evaluation id may hold: it becomes a file name
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class EvaluationHistory:
    """The evaluations of the registry's versions, oldest first.

    Args:
        registry: the registry whose versions were evaluated; the files live in its home.

    Example:
        >>> history = EvaluationHistory(registry)  # doctest: +SKIP
        >>> history.save(evaluate(model, frame, "species"))  # doctest: +SKIP
        PosixPath('/home/me/.roost/evaluations/iris/1/20261128T081500Z-3f9a.json')
        >>> history.latest("iris@production").metric("accuracy")  # doctest: +SKIP
        MetricValue(name='accuracy', value=0.96, lower=0.92, upper=0.99)
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @property
    def root(self) -> Path:
        return self.registry.home / "evaluations"

    def _folder(self, found: ModelVersion) -> Path:
        return self.root / found.name / str(found.version)

    def save(self, evaluation: Evaluation) -> Path:
        """Store an evaluation with its version; return the file it is in.

        Raises:
            ModelNotFound: the registry has no such version.
            IntegrityError: the evaluation measured another package than the version's.
            ConfigError: the evaluation's id cannot be a file name.
        """
        found = self.registry.resolve(evaluation.ref)
        if evaluation.digest != found.digest:
            raise IntegrityError(
                f"evaluation {evaluation.id}: measured package {evaluation.digest}, but "
                f"{found} is {found.digest}"
            )
        if not _ID.fullmatch(evaluation.id):
            raise ConfigError(
                f"evaluation id: expected letters, digits, '_', '.' or '-', got {evaluation.id!r}"
            )
        folder = self._folder(found)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{evaluation.id}.json"
        text = json.dumps(evaluation.to_dict(), indent=2, sort_keys=True, allow_nan=False)
        # the dot and the suffix keep a half-written file out of list()'s *.json
        scratch = folder / f".{evaluation.id}.{secrets.token_hex(4)}.tmp"
        try:
            scratch.write_text(text + "\n", encoding="utf-8")
            os.replace(scratch, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                scratch.unlink()
        log.info("saved evaluation %s of %s to %s", evaluation.id, found, path)
        return path

    def list(self, ref: VersionLike) -> list[Evaluation]:
        """Every evaluation of the version ``ref`` names, oldest first.

        Raises:
            ModelNotFound: the registry has no such version.
        """
        found = self.registry.resolve(ref)
        folder = self._folder(found)
        if not folder.is_dir():
            return []
        evaluations = []
        for path in sorted(folder.glob("*.json")):
            evaluation = self._read(path)
            if evaluation is None:
                continue
            if (evaluation.model, evaluation.version, evaluation.digest) != (
                found.name,
                found.version,
                found.digest,
            ):
                log.warning(
                    "skipping %s: an evaluation of %s (%s), not of %s (%s)",
                    path,
                    evaluation.ref,
                    evaluation.digest,
                    found,
                    found.digest,
                )
                continue
            evaluations.append(evaluation)
        return sorted(evaluations, key=lambda e: (e.created_at, e.id))

    def latest(self, ref: VersionLike) -> Evaluation | None:
        """The newest evaluation of the version ``ref`` names; None if it has none.

        Raises:
            ModelNotFound: the registry has no such version.
        """
        evaluations = self.list(ref)
        return evaluations[-1] if evaluations else None

    @staticmethod
    def _read(path: Path) -> Evaluation | None:
        """The evaluation in a file; None, with a warning, if it holds none."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ConfigError(f"expected a JSON object, got {type(data).__name__}")
            return Evaluation.from_dict(data)
        except (OSError, ValueError) as exc:
            # ValueError: bad JSON, undecodable bytes, or from_dict's ConfigError
            log.warning("skipping %s: not an evaluation (%s)", path, exc)
            return None
