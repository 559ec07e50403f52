"""The skew guard: serve a model only with the feature code it was trained with.

A featured model's package records its feature service: module, ``name@version`` and the
hash of every definition, as they were when the model was saved. Loading the model
imports that module again and compares. Any difference (an edited transform, another
exchange-rate table, a view's new window, a service now at another version) raises
``FeatureSkewError``, and the server keeps the model out of service: not ready, with this
message on ``/health/ready``.
"""

from __future__ import annotations

from typing import Any

from roost.errors import FeatureError, FeatureSkewError
from roost.features._discover import import_feature_module, objects_of
from roost.features.service import FeatureService
from roost.types import JSONDict

__all__ = ["check_skew", "service_record"]


def service_record(service: FeatureService, module: str, file: str | None) -> JSONDict:
    """What a package records about its service, for ``check_skew`` and for audit."""
    return {
        "ref": service.ref,
        "name": service.name,
        "version": service.version,
        "hash": service.source_hash,
        "module": module,
        "file": file,
        "definitions": [
            {"ref": f.ref, "kind": f.kind, "hash": f.source_hash, "source": f.source}
            for f in service.features
        ],
        "raw_inputs": [list(pair) for pair in service.raw_inputs],
        "columns": [list(pair) for pair in service.columns],
    }


def check_skew(record: JSONDict, *, model: str) -> FeatureService:
    """Import the recorded service and check it is the code ``model`` was trained with.

    Args:
        record: ``service_record``'s output, from the package.
        model: the model's reference, for messages.

    Returns:
        the imported service, identical to the recorded one.

    Raises:
        FeatureSkewError: the module cannot be imported, no longer defines the service at
            that version, or any definition's hash differs (each difference named).
    """
    module_name, file = record.get("module"), record.get("file")
    try:
        module = import_feature_module(str(module_name), file)
    except FeatureError as exc:
        raise FeatureSkewError(f"model {model}: {exc}") from exc
    services = {s.name: s for s in objects_of(module, FeatureService)}
    service: Any = services.get(record["name"])
    if service is None:
        raise FeatureSkewError(
            f"model {model} was trained with feature service {record['ref']}, which module "
            f"{module_name!r} no longer defines (it defines: {', '.join(services) or 'none'})"
        )
    if service.version != record["version"]:
        raise FeatureSkewError(
            f"model {model} was trained with feature service {record['ref']}; module "
            f"{module_name!r} now has {service.ref}: retrain the model, or serve a version "
            "trained with it"
        )
    current = {f.name: f for f in service.features}
    differences = []
    for recorded in record["definitions"]:
        name = recorded["ref"].split("@", 1)[0]
        found = current.get(name)
        if found is None:
            differences.append(f"{recorded['ref']} is gone")
        elif found.ref != recorded["ref"]:
            differences.append(f"{recorded['ref']} is now {found.ref}")
        elif found.source_hash != recorded["hash"]:
            differences.append(
                f"{found.ref} code changed ({_short(recorded['hash'])} at training, "
                f"{_short(found.source_hash)} now)"
            )
    if not differences and service.source_hash != record["hash"]:
        differences.append(f"{service.ref} itself changed (its features' list or encoders)")
    if differences:
        raise FeatureSkewError(
            f"model {model}: feature code differs from training, refusing to serve it: "
            + "; ".join(differences)
        )
    return service  # type: ignore[no-any-return]


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]
