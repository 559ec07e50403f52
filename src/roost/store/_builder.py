"""Build a package folder from a live model: the save side of the registry.

The builder measures everything it can (signature from the model's real output,
data hashes, environment, git state, training baseline) and writes the files into
a staging folder. The registry then assigns the version, writes ``model.yaml``
and the checksums, and moves the folder into place.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from roost._version import __version__
from roost.errors import ConfigError, ModelError
from roost.model import (
    OutputSpec,
    Signature,
    detect_flavor,
    infer_inputs,
    infer_outputs,
    rows_from_outputs,
)
from roost.model.baseline import profile_column, profile_frame
from roost.store._card_fields import check_card
from roost.store._provenance import data_facts, environment_lock, git_facts, runtime_facts
from roost.types import JSONDict, Rows

__all__ = ["PackageDraft", "build_package"]

log = logging.getLogger(__name__)

_MAX_EXAMPLE_ROWS = 20
_MAX_BASELINE_OUTPUT_ROWS = 10_000
# outputs are not known before the model has run; validating the example reads only inputs
_PLACEHOLDER = (OutputSpec("prediction", "object"),)
_RECORDED_DISTRIBUTIONS = ("numpy", "pandas", "scikit-learn", "onnxruntime", "xgboost", "lightgbm")


@dataclass(frozen=True, slots=True)
class PackageDraft:
    """A staged package waiting for its version: the folder and the metadata to write."""

    directory: Path
    metadata: JSONDict


# a framework may be installed under another distribution name (xgboost-cpu builds `xgboost`)
_DISTRIBUTION_ALIASES = {"xgboost": ("xgboost", "xgboost-cpu")}


def _version_of(distribution: str) -> str | None:
    for name in _DISTRIBUTION_ALIASES.get(distribution, (distribution,)):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _plain_example(batch: Any) -> Any:
    """A validated batch as JSON-ready data: records for a table, lists for tensors."""
    import pandas as pd

    if isinstance(batch, pd.DataFrame):
        records: list[dict[str, Any]] = json.loads(
            batch.to_json(orient="records", date_format="iso")
        )
        return records
    if isinstance(batch, dict):
        return {name: array.tolist() for name, array in batch.items()}
    return batch.tolist()


def _training_x(data: Mapping[str, Any] | None) -> Any:
    if not data or "train" not in data:
        return None
    train = data["train"]
    return train[0] if isinstance(train, tuple) else train


def _nan_columns(train_x: Any) -> frozenset[str]:
    import numpy as np
    import pandas as pd

    if train_x is None:
        return frozenset()
    if isinstance(train_x, pd.DataFrame):
        return frozenset(str(c) for c in train_x.columns[train_x.isna().any()])
    array = np.asarray(train_x)
    return (
        frozenset({"input"}) if array.dtype.kind == "f" and np.isnan(array).any() else frozenset()
    )


def _feature_table(signature: Signature, batch: Any) -> Any:
    """The validated training batch as named 1-d columns, for profiling."""
    import pandas as pd

    if isinstance(batch, pd.DataFrame):
        return batch
    arrays = batch if isinstance(batch, dict) else {signature.inputs[0].name: batch}
    table: dict[str, Any] = {}
    for name, array in arrays.items():
        if array.ndim == 1:
            table[name] = array
        elif array.ndim == 2:
            for j in range(array.shape[1]):
                table[f"{name}[{j}]"] = array[:, j]
    return table


def _example_for(obj: Any, example: Rows) -> Rows:
    """Name an array example's columns when the estimator knows its feature names."""
    import numpy as np
    import pandas as pd

    names = getattr(obj, "feature_names_in_", None)
    if names is not None and isinstance(example, np.ndarray) and example.ndim == 2:
        return pd.DataFrame(example, columns=[str(n) for n in names])
    return example


def build_package(
    obj: Any,
    staging: Path,
    *,
    example: Rows,
    data: Mapping[str, Any] | None = None,
    card: Mapping[str, Any] | None = None,
    signature: Signature | None = None,
    proba: bool | None = None,
    source_dir: Path | None = None,
) -> PackageDraft:
    """Write a model's package files into ``staging`` and return what ``model.yaml`` will hold.

    Raises:
        ConfigError: a bad argument (example, data, card).
        FlavorError: no flavor knows the object.
        ModelError: the model fails on its own example, or returns the wrong number of rows.
    """
    if example is None:
        raise ConfigError("example: required, a few input rows such as X[:5]")
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError(
            f"data: expected a mapping such as {{'train': (X, y)}}, got {type(data).__name__}"
        )
    card_fields = check_card(card)
    flavor = detect_flavor(obj)
    options = flavor.options(obj, proba)
    train_x = _training_x(data)
    example = _example_for(obj, example)
    train_x = _example_for(obj, train_x) if train_x is not None else None

    if signature is None:
        spec_override = getattr(flavor, "input_specs", None)
        inputs = (
            spec_override(obj) if spec_override else infer_inputs(example, _nan_columns(train_x))
        )
    else:
        inputs = signature.inputs
    # a provisional signature validates the example exactly as predictions will be validated
    draft = Signature(inputs=inputs, outputs=signature.outputs if signature else _PLACEHOLDER)
    batch = draft.validate(example)
    n_rows = len(batch) if not isinstance(batch, dict) else len(next(iter(batch.values())))
    if n_rows > _MAX_EXAMPLE_ROWS:
        batch = draft.validate(_head(example, _MAX_EXAMPLE_ROWS))
        n_rows = _MAX_EXAMPLE_ROWS
    try:
        outputs = flavor.predict(obj, batch, options)
    except Exception as exc:  # the user's model failing is a user error: report, don't crash
        raise ModelError(
            f"the model failed on its own example: {type(exc).__name__}: {exc}"
        ) from exc
    output_rows = rows_from_outputs(outputs, n_rows)
    # a flavor that knows its outputs better than a look at them (a composite's route
    # outputs carry descriptions) says so, as ONNX does for its inputs
    output_override = getattr(flavor, "output_specs", None)
    if signature:
        output_specs = signature.outputs
    elif output_override:
        output_specs = output_override(obj)
    else:
        output_specs = infer_outputs(outputs, flavor.labels(obj, options))
    final = Signature(inputs=inputs, outputs=output_specs)

    for folder in ("artifacts", "examples", "eval", "env"):
        (staging / folder).mkdir(parents=True, exist_ok=True)
    artifact = flavor.save(obj, staging / "artifacts")
    _write_json(staging / "examples" / "input_example.json", _plain_example(batch))
    _write_json(staging / "examples" / "output_example.json", output_rows)
    lock = environment_lock()
    (staging / "env" / "requirements.lock").write_text(lock, encoding="utf-8")
    runtime = runtime_facts()
    _write_json(staging / "env" / "runtime.json", runtime)
    baseline = _baseline(final, flavor, obj, options, train_x)
    if baseline is not None:
        _write_json(staging / "eval" / "baseline.json", baseline)

    frameworks = {d: v for d in _RECORDED_DISTRIBUTIONS if (v := _version_of(d))}
    meta: JSONDict = {
        "flavor": {"name": flavor.name, "artifact": f"artifacts/{artifact}", "options": options},
        "framework": {"name": flavor.framework, "version": _version_of(flavor.framework)},
        "roost_version": __version__,
        "signature": final.to_dict(),
        "training": {
            "algorithm": f"{type(obj).__module__}.{type(obj).__qualname__}",
            "params": flavor.params(obj),
        },
        "provenance": {
            "code": git_facts(source_dir) if source_dir else None,
            "environment": {**runtime, "frameworks": frameworks, "lock": "env/requirements.lock"},
            "data": [data_facts(str(role), value) for role, value in (data or {}).items()],
        },
        "baseline": "eval/baseline.json" if baseline is not None else None,
        "card": card_fields,
    }
    # packages this one needs (a composite's members): deleting one of them is refused
    dependencies = getattr(flavor, "dependencies", None)
    if dependencies is not None:
        meta["depends_on"] = dependencies(obj)
    return PackageDraft(directory=staging, metadata=meta)


def _head(rows: Rows, n: int) -> Rows:
    if isinstance(rows, dict):
        return {k: v[:n] for k, v in rows.items()}
    return rows.iloc[:n] if hasattr(rows, "iloc") else rows[:n]


def _baseline(
    signature: Signature, flavor: Any, obj: Any, options: JSONDict, train_x: Any
) -> JSONDict | None:
    if train_x is None:
        return None
    batch = signature.validate(train_x)
    features = profile_frame(_feature_table(signature, batch))
    sample = _head(batch, _MAX_BASELINE_OUTPUT_ROWS)
    outputs = flavor.predict(obj, sample, options)
    predictions = {
        name: profile_column(values)
        for name, values in outputs.items()
        if getattr(values, "ndim", 0) == 1
    }
    return {"features": features, "outputs": predictions}


def _write_json(path: Path, value: Any) -> None:
    path.write_text(
        json.dumps(value, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
