"""JSON Schemas and examples of one served model, for each protocol's requests and responses.

``openapi.py`` assembles them into the document. Everything here is a pure function of
the model's signature and its stored examples. The V2 tensors come from the V2
protocol's own codec (``_v2_codec``), so the document and the server cannot disagree
on names, datatypes or shapes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from roost.model import ColumnSpec, OutputSpec, Signature, TensorSpec
from roost.serving.protocols._v2_codec import input_metadata, output_metadata
from roost.types import JSONDict

__all__ = [
    "EXAMPLE_ROWS",
    "card_text",
    "csv_example",
    "example_rows",
    "mlflow_examples",
    "mlflow_request_schema",
    "prediction_schema",
    "row_schema",
    "tf_serving_formats",
    "v1_request_schema",
    "v2_infer_request_example",
    "v2_infer_request_schema",
    "v2_infer_response_example",
    "v2_infer_response_schema",
]

#: the most example rows shown per request (the stored example may hold 20)
EXAMPLE_ROWS = 3

#: the card fields a reader of the API wants next to the endpoints, in reading order
_CARD_SECTIONS = (
    ("overview", "Overview"),
    ("intended_use", "Intended use"),
    ("limitations", "Limitations"),
)


def _value_schema(dtype: str) -> JSONDict:
    """One output value; a float may be null, which is how JSON carries NaN."""
    if dtype == "object":
        return {}
    if dtype == "bool":
        return {"type": "boolean"}
    if dtype.startswith("float"):
        return {"type": ["number", "null"]}
    if dtype.startswith(("int", "uint")):
        return {"type": "integer"}
    return {"type": "string"}


def _nested(schema: JSONDict, dims: tuple[int, ...]) -> JSONDict:
    for size in reversed(dims):
        schema = {"type": "array", "items": schema}
        if size != -1:
            schema["minItems"] = size
            schema["maxItems"] = size
    return schema


def row_schema(signature: Signature) -> JSONDict:
    """One row of a request: an object of columns (or tensors), or, for a single tensor,
    that tensor without its batch axis (a nested list)."""
    row = signature.json_schema()
    if _is_bare(signature):
        instance: JSONDict = row["properties"][signature.inputs[0].name]
        return instance
    return row


def _output_schema(spec: OutputSpec) -> JSONDict:
    schema = _nested(_value_schema(spec.dtype), spec.shape[1:])
    notes = [spec.description] if spec.description else []
    if spec.labels is not None:
        notes.append("one value per class, in this order: " + ", ".join(map(str, spec.labels)))
    if notes:
        schema["description"] = " ".join(notes)
    return schema


def prediction_schema(signature: Signature) -> JSONDict:
    """One prediction: the value of the single output, or an object of every output."""
    outputs = {spec.name: _output_schema(spec) for spec in signature.outputs}
    if len(outputs) == 1:
        return next(iter(outputs.values()))
    return {"type": "object", "properties": outputs, "required": sorted(outputs)}


def tf_serving_formats(signature: Signature, row_ref: str) -> tuple[JSONDict, JSONDict]:
    """The values of ``instances`` (rows) and ``inputs`` (rows, or lists by name)."""
    rows = {"type": "array", "items": {"$ref": row_ref}, "description": "one row per prediction"}
    by_name = signature.json_schema()
    columns = {
        "type": "object",
        "description": "the values of each column (or tensor), one per row",
        "properties": {
            name: {"type": "array", "items": schema}
            for name, schema in by_name["properties"].items()
        },
        "required": by_name["required"],
        "additionalProperties": {"type": "array"},
    }
    return rows, {"oneOf": [rows, columns]}


def _format(key: str, value: JSONDict, description: str, with_params: bool) -> JSONDict:
    """One request format: an object holding ``key``. Other keys are ignored, as KServe and
    MLflow ignore them, so two format keys in one body match two formats: refused."""
    schema: JSONDict = {
        "type": "object",
        "title": key,
        "description": description,
        "required": [key],
        "properties": {key: value},
    }
    if with_params:
        schema["properties"]["params"] = {
            "type": ["object", "null"],
            "description": "accepted, and ignored (roost's signatures declare no params)",
        }
    return schema


def v1_request_schema(signature: Signature, row_ref: str) -> JSONDict:
    """KServe V1's body: ``instances`` (rows) or ``inputs`` (rows or columns), not both."""
    instances, inputs = tf_serving_formats(signature, row_ref)
    return {
        "oneOf": [
            _format("instances", instances, "rows (TensorFlow Serving's row format)", False),
            _format("inputs", inputs, "TensorFlow Serving's columnar format", False),
        ]
    }


def mlflow_request_schema(signature: Signature, row_ref: str) -> JSONDict:
    """MLflow's ``/invocations`` JSON body: exactly one of its formats, and ``params``."""
    instances, inputs = tf_serving_formats(signature, row_ref)
    formats = [
        _format("instances", instances, "rows (TensorFlow Serving's row format)", True),
        _format("inputs", inputs, "rows, or columns by name (TensorFlow Serving)", True),
    ]
    if signature.kind == "columns":
        split = {
            "type": "object",
            "required": ["data"],
            "properties": {
                "columns": {"type": "array", "items": {"enum": signature.input_names}},
                "data": {
                    "type": "array",
                    "items": {"type": "array"},
                    "description": "one list of values per row, in `columns` order",
                },
                "index": {"type": "array", "description": "one label per row"},
            },
            "additionalProperties": False,
        }
        records = {"type": "array", "items": {"$ref": row_ref}}
        formats[:0] = [
            _format("dataframe_split", split, "a DataFrame as columns, data and index", True),
            _format("dataframe_records", records, "a DataFrame as one object per row", True),
        ]
    return {"oneOf": formats}


def _v2_element(datatype: str, nullable: bool) -> JSONDict:
    if datatype == "BOOL":
        return {"type": "boolean"}
    if datatype.startswith("FP"):
        return {"type": ["number", "null"]} if nullable else {"type": "number"}
    if datatype == "BYTES":
        return {"type": ["string", "null"]} if nullable else {"type": "string"}
    return {"type": "integer"}


def _v2_tensor(
    tensor: JSONDict, description: str | None, nullable: bool, parameters_ref: str
) -> JSONDict:
    """A tensor of a V2 request or response, its name and datatype fixed."""
    shape = tensor["shape"]
    text = f"{tensor['datatype']} of shape {json.dumps(shape)} (-1: any size)"
    if description:
        text += f": {description}"
    return {
        "type": "object",
        "description": text,
        "required": ["data", "datatype", "name", "shape"],
        "properties": {
            "name": {"const": tensor["name"]},
            "datatype": {"const": tensor["datatype"]},
            "shape": {
                "type": "array",
                "prefixItems": [
                    {"type": "integer", "minimum": 0} if size == -1 else {"const": size}
                    for size in shape
                ],
                "items": False,
                "minItems": len(shape),
            },
            "data": {
                "type": "array",
                "description": "the elements, flat in row-major order (nested lists work too)",
                "items": {"anyOf": [_v2_element(tensor["datatype"], nullable), {"type": "array"}]},
            },
            "parameters": {"$ref": parameters_ref},
        },
    }


def v2_infer_request_schema(signature: Signature, parameters_ref: str) -> JSONDict:
    inputs = input_metadata(signature)
    specs: list[ColumnSpec | TensorSpec] = list(signature.inputs)
    tensors = [
        _v2_tensor(tensor, spec.description, spec.allow_nan, parameters_ref)
        for tensor, spec in zip(inputs, specs, strict=True)
    ]
    names = ", ".join(t["name"] for t in inputs)
    kind = "one [n] tensor per column" if signature.kind == "columns" else "one tensor per input"
    return {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string", "description": "echoed in the response"},
            "parameters": {"$ref": parameters_ref},
            "inputs": {
                "type": "array",
                "description": f"{kind}, each once: {names}",
                "items": {"oneOf": tensors},
                "minItems": len(tensors),
                "maxItems": len(tensors),
            },
            "outputs": {
                "type": "array",
                "description": "the outputs to return (default: all)",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"enum": [spec.name for spec in signature.outputs]},
                        "parameters": {"$ref": parameters_ref},
                    },
                },
            },
        },
    }


def v2_infer_response_schema(name: str, signature: Signature, parameters_ref: str) -> JSONDict:
    tensors = [
        _v2_tensor(tensor, spec.description, True, parameters_ref)
        for tensor, spec in zip(output_metadata(signature), signature.outputs, strict=True)
    ]
    return {
        "type": "object",
        "required": ["model_name", "outputs"],
        "properties": {
            "model_name": {"const": name},
            "model_version": {"type": "string"},
            "id": {"type": "string", "description": "the request's id, when it had one"},
            "parameters": {
                "$ref": parameters_ref,
                "description": "`prediction_id`: the id feedback refers to",
            },
            "outputs": {"type": "array", "items": {"oneOf": tensors}},
        },
    }


def example_rows(signature: Signature, example: Any) -> list[Any]:
    """The stored example as rows (V1 instances), at most ``EXAMPLE_ROWS`` of them."""
    if isinstance(example, Mapping):  # several tensors are stored by name: make rows
        names = list(example)
        values = zip(*(example[n] for n in names), strict=True)
        return [dict(zip(names, row, strict=True)) for row in values][:EXAMPLE_ROWS]
    return list(example)[:EXAMPLE_ROWS]


def _by_name(names: list[str], rows: list[Any], bare: bool) -> dict[str, list[Any]]:
    """Rows as lists by name; ``bare`` rows are the values of the one name themselves."""
    if bare:
        return {names[0]: rows}
    return {name: [row[name] for row in rows] for name in names}


def _is_bare(signature: Signature) -> bool:
    """Whether a row of this signature is a bare value (one tensor) rather than an object."""
    return signature.kind == "tensors" and len(signature.inputs) == 1


def _tensor_json(tensor: JSONDict, values: list[Any]) -> JSONDict:
    import numpy as np

    nested = np.array(values, dtype=object)  # rows that are lists become trailing axes
    data = nested.reshape(-1).tolist()
    if tensor["datatype"] == "BYTES":  # an object output travels as JSON text
        data = [v if v is None or isinstance(v, str) else json.dumps(v) for v in data]
    return {
        "name": tensor["name"],
        "datatype": tensor["datatype"],
        "shape": list(nested.shape),
        "data": data,
    }


def v2_infer_request_example(signature: Signature, example: Any) -> JSONDict:
    rows = example_rows(signature, example)
    values = _by_name(signature.input_names, rows, _is_bare(signature))
    return {"inputs": [_tensor_json(t, values[t["name"]]) for t in input_metadata(signature)]}


def v2_infer_response_example(
    name: str, version: int, signature: Signature, predictions: list[Any]
) -> JSONDict:
    names = [spec.name for spec in signature.outputs]
    values = _by_name(names, predictions[:EXAMPLE_ROWS], len(names) == 1)
    return {
        "model_name": name,
        "model_version": str(version),
        "parameters": {"prediction_id": "0" * 32},
        "outputs": [_tensor_json(t, values[t["name"]]) for t in output_metadata(signature)],
    }


def mlflow_examples(signature: Signature, example: Any) -> JSONDict:
    """One named example per JSON format the model accepts."""
    rows = example_rows(signature, example)
    names = signature.input_names
    examples: JSONDict = {}
    if signature.kind == "columns":
        examples["dataframe_split"] = {
            "dataframe_split": {"columns": names, "data": [[r[n] for n in names] for r in rows]}
        }
        examples["dataframe_records"] = {"dataframe_records": rows}
    examples["instances"] = {"instances": rows}
    examples["inputs"] = {"inputs": _by_name(names, rows, _is_bare(signature))}
    return {key: {"summary": key, "value": value} for key, value in examples.items()}


def csv_example(signature: Signature, example: Any) -> str:
    """The example as CSV: a header row, then one line per row (columns only)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(signature.input_names)
    for row in example_rows(signature, example):
        writer.writerow([row[name] for name in signature.input_names])
    return buffer.getvalue()


def _plain_text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return "; ".join(_plain_text(item) for item in value)
    return json.dumps(value, sort_keys=True)


def card_text(card: Mapping[str, Any]) -> str:
    """Overview, intended use and limitations from the model card, as Markdown."""
    return "\n\n".join(
        f"**{title}.** {_plain_text(card[key])}" for key, title in _CARD_SECTIONS if card.get(key)
    )
