"""The composite flavor: a composite saved as one package that pins its members.

``registry.save(cascade, "fraud-cascade", example=...)`` writes
``artifacts/composite.json``:

```json
{"spec": {"kind": "cascade", "threshold": 0.85, ...},
 "members": {"fast": {"name": "fraud-fast", "version": 3, "digest": "sha256:..."},
             "slow": {"name": "fraud-slow", "version": 1, "digest": "sha256:..."}}}
```

A member is pinned by name, version and package digest, never copied: loading the
composite loads each pinned version from the same registry and refuses it if its
digest differs. A member that is itself an unregistered composite is stored inline
(``{"composite": {...}}``), its own members pinned the same way. Files a composite
owns (a stacking metamodel, a custom aggregation function) go under
``artifacts/composite/``. The pins are also recorded as the flavor's options in
``model.yaml``, so ``roost models show`` lists them.

The flavor is registered under the ``roost.flavors`` entry point (pyproject.toml), so
the model room finds it without importing this room.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roost.compose._base import Composite
from roost.errors import ConfigError, IntegrityError, ModelNotFound
from roost.model import Model, OutputSpec, Signature
from roost.model.flavors._base import jsonable_params
from roost.store import PackagedModel
from roost.types import JSONDict, JSONValue

__all__ = ["COMPOSITE_KINDS", "CompositeFlavor", "composite_from_package"]

#: every kind of composite a package may hold, and the class that rebuilds it
COMPOSITE_KINDS = {
    "pipeline": "roost.compose.pipeline:Pipeline",
    "ensemble": "roost.compose.ensemble:Ensemble",
    "stack": "roost.compose.stack:Stack",
    "cascade": "roost.compose.cascade:Cascade",
    "guarded": "roost.compose.guardrails:Guarded",
}

_ARTIFACT = "composite.json"
_OWNED = "composite"


class CompositeFlavor:
    """Saves, loads and runs a ``roost.compose`` composite (see the module docstring)."""

    name = "composite"
    framework = "roost"
    #: requests are checked by the composite itself (guardrails may reject one)
    validates_requests = True

    def matches(self, obj: object) -> bool:
        return isinstance(obj, Composite)

    def options(self, obj: Any, proba: bool | None) -> JSONDict:
        obj.load()  # members' signatures are needed to check they fit together
        return {"kind": obj.kind, "members": _pins(obj)}

    def dependencies(self, obj: Any) -> list[JSONDict]:
        """Every registered version the composite pins, nested composites' included."""
        return _flat_pins(_pins(obj))

    def input_specs(self, obj: Any) -> Any:
        return obj.signature.inputs

    def output_specs(self, obj: Any) -> tuple[OutputSpec, ...]:
        outputs: tuple[OutputSpec, ...] = obj.signature.outputs
        return outputs

    def save(self, obj: Any, directory: Path) -> str:
        document = _document(obj, directory / _OWNED)
        (directory / _ARTIFACT).write_text(
            json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        return _ARTIFACT

    def load(self, path: Path, options: JSONDict) -> Any:
        return composite_from_package(path)

    def predict(self, obj: Any, batch: Any, options: JSONDict) -> dict[str, Any]:
        obj.load()
        outputs: dict[str, Any] = obj.predict_outputs(batch)
        return outputs

    def params(self, obj: Any) -> JSONDict:
        return jsonable_params(_flat(obj.to_spec()))

    def labels(self, obj: Any, options: JSONDict) -> dict[str, list[JSONValue]]:
        signature: Signature = obj.signature
        return {s.name: list(s.labels) for s in signature.outputs if s.labels is not None}


def composite_from_package(artifact: Path) -> Composite:
    """Rebuild and load the composite stored in a package's ``composite.json``.

    Raises:
        IntegrityError: the file is malformed, or a member's digest differs from its pin.
        ModelNotFound: a pinned member is not in the registry the composite is in.
    """
    try:
        document = json.loads(artifact.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"{artifact}: unreadable composite ({exc})") from exc
    # the package sits at <registry root>/<name>/<version>/artifacts/composite.json
    root = artifact.parents[3]
    composite = _rebuild(document, root, artifact.parent / _OWNED, where="composite")
    composite.load()
    return composite


# ------------------------------------------------------------------- saving


def _pins(composite: Composite) -> dict[str, JSONValue]:
    pins: dict[str, JSONValue] = {}
    for name, member in composite.members.items():
        if isinstance(member, PackagedModel):
            pins[name] = _pin(member)
        elif isinstance(member, Composite):
            pins[name] = {"composite": member.kind, "members": _pins(member)}
        else:
            raise ConfigError(
                f"{composite.kind} member {name!r}: only registered models and composites can "
                f"be saved in a composite, got a {type(member).__name__}; register it first "
                f"(roost.save(obj, {name!r}, example=...)) and use registry.model('{name}:1')"
            )
    return pins


def _flat_pins(pins: Mapping[str, Any]) -> list[JSONDict]:
    flat: list[JSONDict] = []
    for pin in pins.values():
        if "composite" in pin:
            flat.extend(p for p in _flat_pins(pin["members"]) if p not in flat)
        elif pin not in flat:
            flat.append(pin)
    return flat


def _pin(member: PackagedModel) -> JSONDict:
    return {
        "name": member.path.parent.name,
        "version": int(member.path.name),
        "digest": member.digest,
    }


def _document(composite: Composite, owned: Path) -> JSONDict:
    """``composite.json``'s content; owned files are written under ``owned``."""
    owned.mkdir(parents=True, exist_ok=True)
    spec = {**composite.to_spec(), **composite.save_owned(owned)}
    members: dict[str, JSONValue] = {}
    for name, member in composite.members.items():
        if isinstance(member, PackagedModel):
            members[name] = _pin(member)
        elif isinstance(member, Composite):
            members[name] = {"composite": _document(member, owned / "members" / name)}
        else:  # _pins refused it already, in options()
            raise ConfigError(f"{composite.kind} member {name!r}: not registered")
    return {"spec": spec, "members": members}


def _flat(spec: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A spec's settings as flat ``params`` (``rules.0.name``), for model.yaml's training."""
    flat: dict[str, Any] = {}
    for key, value in spec.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# ------------------------------------------------------------------- loading


def _rebuild(document: Any, root: Path, owned: Path, *, where: str) -> Composite:
    if not isinstance(document, dict) or not isinstance(document.get("spec"), dict):
        raise IntegrityError(f"{where}: expected {{'spec': ..., 'members': ...}} in {_ARTIFACT}")
    spec: JSONDict = document["spec"]
    kind = spec.get("kind")
    if kind not in COMPOSITE_KINDS:
        raise IntegrityError(
            f"{where}: unknown composite kind {kind!r} (known: {', '.join(COMPOSITE_KINDS)})"
        )
    pins = document.get("members") or {}
    # composite.json is written with sorted keys; the spec's list keeps the members' order
    # (a pipeline's steps, an ensemble's tie-break)
    listed = spec.get("members")
    order: list[str] = listed if isinstance(listed, list) else list(pins)
    if sorted(order) != sorted(pins):
        raise IntegrityError(f"{where}: members {order} do not match the pins {sorted(pins)}")
    members: dict[str, Model] = {}
    for name in order:
        pin = pins[name]
        if isinstance(pin, dict) and "composite" in pin:
            members[name] = _rebuild(
                pin["composite"], root, owned / "members" / name, where=f"{where} member {name!r}"
            )
        else:
            members[name] = _pinned(pin, root, where=f"{where} member {name!r}")
    module, _, attribute = COMPOSITE_KINDS[kind].partition(":")
    cls: type[Composite] = getattr(importlib.import_module(module), attribute)
    return cls.from_spec(spec, members, owned)


def _pinned(pin: Any, root: Path, *, where: str) -> PackagedModel:
    try:
        name, version, digest = str(pin["name"]), int(pin["version"]), str(pin["digest"])
    except (TypeError, KeyError, ValueError) as exc:
        raise IntegrityError(f"{where}: malformed pin {pin!r}") from exc
    path = root / name / str(version)
    if not (path / "model.yaml").is_file():
        raise ModelNotFound(
            f"{where} is {name}:{version}, which is not in this registry (deleted, or the "
            f"composite was imported without it; import {name}:{version} first)"
        )
    # the member's load() verifies its files against the pinned digest
    return PackagedModel(path, digest, f"{name}:{version}")
