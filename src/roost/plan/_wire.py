"""The bytes a request and its response take on the wire, per protocol ``roost serve`` speaks.

Each request is written here, as a client would write it (compact JSON), then read
back with the server's own decoder, so a request the server would refuse is never
counted. Each response is written by the server's own encoder, from the outputs the
model gave for those rows:

- ``kserve-v1``: ``{"instances": [...]}`` in, ``{"predictions", "id", "model_version"}``
  out (``serving.protocols.kserve_v1``);
- ``oip-v2-json`` and ``oip-v2-binary``: the Open Inference Protocol, one tensor per
  column (or the signature's tensors), JSON ``data`` or the binary tensor extension both
  ways (``binary_data_output``); the response is ``render_infer_response``'s body;
- ``mlflow``: ``{"dataframe_records": [...]}`` for a column model, ``instances`` (one
  tensor) or ``inputs`` (several) for a tensor model, ``{"predictions"}`` out.

Bytes are the HTTP body only: no headers, no compression (a client may gzip a request,
and the server accepts it, but does not compress its answers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import orjson

from roost.errors import Error
from roost.model import Signature
from roost.plan._model_profile import WireSize
from roost.serving._http import json_response
from roost.serving._predict import new_prediction_id
from roost.serving.protocols._tf_serving import rows_from_payload
from roost.serving.protocols._v2_binary import tensor_bytes
from roost.serving.protocols._v2_codec import (
    input_metadata,
    outputs_as_tensors,
    rows_from_tensors,
)
from roost.serving.protocols._v2_messages import parse_infer_request, render_infer_response
from roost.serving.protocols._v2_tensors import Tensor, json_data, numpy_dtype
from roost.serving.protocols.mlflow import rows_from_json
from roost.types import JSONDict, Rows

__all__ = ["wire_sizes"]

log = logging.getLogger(__name__)


def _instances(batch: Rows) -> list[Any]:
    """The batch as TensorFlow Serving's row format: one entry per row."""
    if isinstance(batch, Mapping):  # several tensors: one object per row
        count = min(len(values) for values in batch.values())
        return [{name: values[i] for name, values in batch.items()} for i in range(count)]
    return list(batch)


def _columns(signature: Signature, batch: Rows) -> dict[str, list[Any]]:
    """Each input's values over the batch, by input name."""
    if isinstance(batch, Mapping):
        return {name: list(values) for name, values in batch.items()}
    if signature.kind == "tensors":
        return {signature.inputs[0].name: list(batch)}
    names = signature.input_names
    return {
        name: [row[name] if isinstance(row, Mapping) else row[i] for row in batch]
        for i, name in enumerate(names)
    }


def _tensor(name: str, datatype: str, values: list[Any]) -> Tensor:
    array = (
        np.array(values, dtype=object)
        if datatype == "BYTES"
        else np.asarray(values, dtype=numpy_dtype(datatype))
    )
    return Tensor(name, datatype, tuple(array.shape), array)


def _v2_request(signature: Signature, batch: Rows, *, binary: bool) -> tuple[bytes, str | None]:
    """An inference request body, and its ``Inference-Header-Content-Length`` if binary."""
    datatypes = {entry["name"]: entry["datatype"] for entry in input_metadata(signature)}
    inputs: list[JSONDict] = []
    blobs: list[bytes] = []
    for name, values in _columns(signature, batch).items():
        tensor = _tensor(name, datatypes[name], values)
        entry: JSONDict = {"name": name, "shape": list(tensor.shape), "datatype": tensor.datatype}
        if binary:
            blob = tensor_bytes(tensor)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = json_data(tensor)
        inputs.append(entry)
    document: JSONDict = {"inputs": inputs}
    if binary:
        document["parameters"] = {"binary_data_output": True}
    header = orjson.dumps(document)
    if not binary:
        return header, None
    return header + b"".join(blobs), str(len(header))


def _v2(
    signature: Signature, batch: Rows, outputs: list[Any], name: str, version: str, binary: bool
) -> tuple[int, int]:
    """Request and response sizes through the server's own V2 decoder and encoder."""
    body, header_length = _v2_request(signature, batch, binary=binary)
    parsed = parse_infer_request(body, header_length)
    rows_from_tensors(signature, parsed.inputs)  # the server would accept these tensors
    names = [spec.name for spec in signature.outputs]
    response, _ = render_infer_response(
        model_name=name,
        model_version=version,
        request=parsed,
        prediction_id=new_prediction_id(),
        tensors=outputs_as_tensors(signature, outputs, names),
    )
    return len(body), len(response)


def _kserve_v1(
    signature: Signature, batch: Rows, outputs: list[Any], version: str
) -> tuple[int, int]:
    payload = {"instances": _instances(batch)}
    body = orjson.dumps(payload)
    rows_from_payload(orjson.loads(body), signature)
    # kserve_v1.answer_predict writes exactly this document with json_response's encoder
    answer = {"predictions": outputs, "id": new_prediction_id(), "model_version": version}
    return len(body), len(json_response(answer).body)


def _mlflow(signature: Signature, batch: Rows, outputs: list[Any]) -> tuple[int, int]:
    payload: JSONDict
    if signature.kind == "columns":
        payload = {"dataframe_records": _instances(batch)}
    elif isinstance(batch, Mapping):
        payload = {"inputs": _columns(signature, batch)}
    else:
        payload = {"instances": list(batch)}
    body = orjson.dumps(payload)
    rows_from_json(orjson.loads(body), signature)
    return len(body), len(json_response({"predictions": outputs}).body)


def wire_sizes(
    signature: Signature,
    batch: Rows,
    outputs: list[Any],
    *,
    batch_size: int,
    name: str,
    version: str,
) -> tuple[WireSize, ...]:
    """The request and response body sizes of ``batch`` in every protocol that can carry it.

    Args:
        signature: the model's signature.
        batch: the rows, as JSON-ready values: records for a column model, a list of
            rows (one tensor) or a mapping of tensor name to rows (several).
        outputs: what the model answered for ``batch``, one per row.
        batch_size: how many rows ``batch`` holds.
        name: the model's name, as the server writes it in V2 responses.
        version: its version, as the server writes it.

    Returns:
        One entry per protocol of ``PROTOCOLS`` that carries these rows; a protocol
        whose codec refuses them (a value it cannot encode) is left out, and logged.
    """
    measures: dict[str, Callable[[], tuple[int, int]]] = {
        "kserve-v1": lambda: _kserve_v1(signature, batch, outputs, version),
        "oip-v2-json": lambda: _v2(signature, batch, outputs, name, version, binary=False),
        "oip-v2-binary": lambda: _v2(signature, batch, outputs, name, version, binary=True),
        "mlflow": lambda: _mlflow(signature, batch, outputs),
    }
    sizes: list[WireSize] = []
    for protocol, measure in measures.items():
        try:
            request_bytes, response_bytes = measure()
        except (Error, TypeError, ValueError) as exc:  # numpy refusing a value is a ValueError
            log.warning("%s cannot carry %d rows of %s: %s", protocol, batch_size, name, exc)
            continue
        sizes.append(WireSize(protocol, batch_size, request_bytes, response_bytes))
    return tuple(sizes)
