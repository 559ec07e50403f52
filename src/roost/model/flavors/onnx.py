"""ONNX: a ``onnx.ModelProto``, run with onnxruntime on the CPU.

The input signature comes from the graph itself (names, element types, shapes),
so a float64 example is checked and cast to the float32 the graph declares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roost.model._signature import TensorSpec
from roost.model.flavors._base import import_framework, module_roots
from roost.types import JSONDict, JSONValue

__all__ = ["OnnxFlavor"]

# onnx.TensorProto element types roost can feed, by their numeric code
_ELEM_TYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
}


def _session(obj: Any) -> Any:
    if "onnxruntime" in module_roots(obj):
        return obj
    ort = import_framework("onnxruntime", "onnx")
    return ort.InferenceSession(obj.SerializeToString(), providers=["CPUExecutionProvider"])


class OnnxFlavor:
    name = "onnx"
    framework = "onnxruntime"

    def matches(self, obj: object) -> bool:
        return "onnx" in module_roots(obj) and type(obj).__name__ == "ModelProto"

    def options(self, obj: Any, proba: bool | None) -> JSONDict:
        return {}

    def input_specs(self, obj: Any) -> tuple[TensorSpec, ...]:
        specs = []
        for value in obj.graph.input:
            tensor = value.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
            shape = tuple(dims) if dims else (-1,)
            shape = (-1, *shape[1:])  # the first axis is the batch
            specs.append(
                TensorSpec(value.name, _ELEM_TYPES.get(tensor.elem_type, "float32"), shape)
            )
        return tuple(specs)

    def save(self, obj: Any, directory: Path) -> str:
        (directory / "model.onnx").write_bytes(obj.SerializeToString())
        return "model.onnx"

    def load(self, path: Path, options: JSONDict) -> Any:
        ort = import_framework("onnxruntime", "onnx")
        return ort.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])

    def predict(self, obj: Any, batch: Any, options: JSONDict) -> dict[str, Any]:
        session = _session(obj)
        names = [i.name for i in session.get_inputs()]
        feed = batch if isinstance(batch, dict) else {names[0]: batch}
        results = session.run(None, feed)
        return {o.name: r for o, r in zip(session.get_outputs(), results, strict=True)}

    def params(self, obj: Any) -> JSONDict:
        return {
            "producer_name": obj.producer_name,
            "producer_version": obj.producer_version,
            "ir_version": int(obj.ir_version),
            "opset": {imp.domain or "ai.onnx": int(imp.version) for imp in obj.opset_import},
        }

    def labels(self, obj: Any, options: JSONDict) -> dict[str, list[JSONValue]]:
        return {}
