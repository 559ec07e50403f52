"""The interface section of a card: the signature as a table, and a request per protocol.

Both come from the package alone: the signature recorded in ``model.yaml`` and the input
example stored beside it (``examples/input_example.json``), so every request shown is one
the model is known to accept. ``roost serve`` answers all three protocols on one port:

- KServe V1: ``POST /v1/models/{name}:predict`` with ``{"instances": [...]}``;
- Open Inference Protocol V2: ``POST /v2/models/{name}/infer`` with one tensor per column
  (MLServer's pandas codec, see docs/protocol-v2.md) or the signature's own tensors;
- MLflow: ``POST /invocations`` with ``{"dataframe_records": [...]}`` (tensors:
  ``instances`` or ``inputs``); it answers for the server's default model only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from roost.types import JSONDict, JSONValue

__all__ = [
    "DEFAULT_BASE_URL",
    "SIGNATURE_COLUMNS",
    "V2_DATATYPES",
    "Request",
    "requests",
    "signature_rows",
]

#: where ``roost serve`` listens by default
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
#: the columns of the signature tables
SIGNATURE_COLUMNS = ("name", "type", "shape / labels", "allows missing", "description")
#: signature dtype → Open Inference Protocol datatype (docs/protocol-v2.md)
V2_DATATYPES = {
    "bool": "BOOL",
    **{f"int{b}": f"INT{b}" for b in (8, 16, 32, 64)},
    **{f"uint{b}": f"UINT{b}" for b in (8, 16, 32, 64)},
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "string": "BYTES",
    "datetime": "BYTES",
}
#: rows of the stored example a request carries, so that a request stays readable
_MAX_ROWS = 5


@dataclass(frozen=True, slots=True)
class Request:
    """One ready-to-run request to a served model.

    Attributes:
        protocol: ``KServe V1``, ``Open Inference Protocol V2`` or ``MLflow``.
        method: the HTTP method (``POST``).
        path: the path on the server, e.g. ``/v1/models/iris:predict``.
        body: the JSON body.
        base_url: the server, e.g. ``http://127.0.0.1:8000``.
        note: what to know before sending it, if anything.
    """

    protocol: str
    method: str
    path: str
    body: JSONDict
    base_url: str = DEFAULT_BASE_URL
    note: str | None = None

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + self.path

    @property
    def curl(self) -> str:
        """The request as a curl command line, its body quoted for a POSIX shell."""
        body = json.dumps(self.body, ensure_ascii=False).replace("'", "'\\''")
        return (
            f"curl -s -X {self.method} {self.url} \\\n"
            f"  -H 'Content-Type: application/json' \\\n"
            f"  -d '{body}'"
        )

    def to_dict(self) -> JSONDict:
        return {
            "protocol": self.protocol,
            "method": self.method,
            "url": self.url,
            "body": self.body,
            "curl": self.curl,
            "note": self.note,
        }


def _shape_text(spec: Mapping[str, Any]) -> str | None:
    parts = []
    if "shape" in spec:
        parts.append("[" + ", ".join(str(d) for d in spec["shape"]) + "]")
    if spec.get("labels") is not None:
        parts.append("labels " + ", ".join(str(label) for label in spec["labels"]))
    return "; ".join(parts) or None


def signature_rows(signature: Mapping[str, Any]) -> tuple[list[list[JSONValue]], ...]:
    """The signature's inputs and outputs as table rows (see ``SIGNATURE_COLUMNS``).

    A column input has no shape (one value per row); an output does not say whether it
    may be missing (None in that cell).

    Returns:
        (input rows, output rows).

    Example:
        >>> inputs, outputs = signature_rows({"kind": "columns",
        ...     "inputs": [{"name": "x", "dtype": "float64", "allow_nan": False}],
        ...     "outputs": [{"name": "prediction", "dtype": "float64", "shape": [-1]}]})
        >>> inputs
        [['x', 'float64', None, False, None]]
    """
    inputs: list[list[JSONValue]] = [
        [
            spec["name"],
            spec["dtype"],
            _shape_text(spec),
            bool(spec.get("allow_nan", False)),
            spec.get("description"),
        ]
        for spec in signature.get("inputs") or ()
    ]
    outputs: list[list[JSONValue]] = [
        [spec["name"], spec["dtype"], _shape_text(spec), None, spec.get("description")]
        for spec in signature.get("outputs") or ()
    ]
    return inputs, outputs


def _nested_shape(value: Any) -> list[JSONValue]:
    """The shape of a nested list (row-major), from its first element at each depth."""
    shape: list[JSONValue] = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape


_MLFLOW_NOTE = "/invocations answers for the server's default model: the first one served."


def _three(
    name: str, base_url: str, v1: JSONDict, v2_inputs: list[JSONValue], mlflow: JSONDict
) -> tuple[Request, ...]:
    return (
        Request("KServe V1", "POST", f"/v1/models/{name}:predict", v1, base_url),
        Request(
            "Open Inference Protocol V2",
            "POST",
            f"/v2/models/{name}/infer",
            {"inputs": v2_inputs},
            base_url,
        ),
        Request("MLflow", "POST", "/invocations", mlflow, base_url, note=_MLFLOW_NOTE),
    )


def _column_requests(
    name: str, inputs: Sequence[Mapping[str, Any]], rows: list[Any], base_url: str
) -> tuple[Request, ...]:
    columns = [str(spec["name"]) for spec in inputs]
    records: list[JSONValue] = [
        {column: row.get(column) for column in columns} if isinstance(row, dict) else row
        for row in rows
    ]
    tensors: list[JSONValue] = []
    for i, spec in enumerate(inputs):
        data = [row.get(spec["name"]) if isinstance(row, dict) else row[i] for row in rows]
        datatype = V2_DATATYPES.get(str(spec["dtype"]), "BYTES")
        tensors.append(
            {"name": spec["name"], "shape": [len(data)], "datatype": datatype, "data": data}
        )
    return _three(name, base_url, {"instances": records}, tensors, {"dataframe_records": records})


def _tensor_requests(
    name: str, inputs: Sequence[Mapping[str, Any]], example: Any, base_url: str
) -> tuple[Request, ...]:
    # one tensor: the example is its batch; several: a mapping of name to batch
    batches: dict[str, list[Any]] = (
        {str(k): list(v)[:_MAX_ROWS] for k, v in example.items()}
        if isinstance(example, dict)
        else {str(inputs[0]["name"]): list(example)[:_MAX_ROWS]}
    )
    dtypes = {str(spec["name"]): str(spec["dtype"]) for spec in inputs}
    tensors: list[JSONValue] = [
        {
            "name": tensor,
            "shape": _nested_shape(batch),
            "datatype": V2_DATATYPES.get(dtypes.get(tensor, ""), "BYTES"),
            "data": batch,
        }
        for tensor, batch in batches.items()
    ]
    if len(batches) == 1:
        instances: list[Any] = next(iter(batches.values()))
        mlflow: JSONDict = {"instances": instances}
    else:
        n_rows = min(len(batch) for batch in batches.values())
        instances = [{k: v[i] for k, v in batches.items()} for i in range(n_rows)]
        mlflow = {"inputs": batches}
    return _three(name, base_url, {"instances": instances}, tensors, mlflow)


def requests(
    name: str,
    signature: Mapping[str, Any],
    example: Any,
    *,
    base_url: str = DEFAULT_BASE_URL,
) -> tuple[Request, ...]:
    """A request for each protocol ``roost serve`` speaks, carrying the stored example.

    Args:
        name: the model's name, as served.
        signature: the ``signature`` mapping of ``model.yaml``.
        example: the stored input example (records for columns; a batch, or a mapping of
            tensor name to batch, for tensors). None gives no request.
        base_url: where the server listens.

    Returns:
        KServe V1, Open Inference Protocol V2 and MLflow requests, in that order; none
        without an example.

    Example:
        >>> sig = {"kind": "columns", "inputs": [{"name": "x", "dtype": "float64"}],
        ...        "outputs": [{"name": "prediction", "dtype": "float64"}]}
        >>> [r.path for r in requests("double", sig, [{"x": 1.0}])]
        ['/v1/models/double:predict', '/v2/models/double/infer', '/invocations']
    """
    inputs = list(signature.get("inputs") or ())
    if example is None or not inputs:
        return ()
    if signature.get("kind") == "tensors":
        return _tensor_requests(name, inputs, example, base_url)
    rows = example if isinstance(example, list) else [example]
    return _column_requests(name, inputs, rows[:_MAX_ROWS], base_url)
