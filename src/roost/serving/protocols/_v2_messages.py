"""The inference request and response documents of the Open Inference Protocol.

A request is ``{"id"?, "parameters"?, "inputs": [...], "outputs"?: [...]}``; each input
carries its ``data`` as JSON or declares ``binary_data_size`` and has its bytes after
the JSON header (``_v2_binary``). Each output is sent as JSON ``data`` or as binary,
chosen per output by ``binary_data``, else by the request's ``binary_data_output``.
Parameters this server does not know are ignored, as the protocol asks; extensions it
does not implement (shared memory, classification) are refused with a 400.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from roost.serving._http import parse_json
from roost.serving.errors import BadRequest
from roost.serving.protocols._v2_binary import (
    BlobReader,
    array_from_bytes,
    split_body,
    tensor_bytes,
)
from roost.serving.protocols._v2_tensors import DATATYPES, Tensor, array_from_json, json_data

__all__ = ["InferRequest", "RequestedOutput", "parse_infer_request", "render_infer_response"]

#: the most elements a shape may describe (its non-zero dimensions multiplied): far beyond any
#: body this server accepts, and far below what makes numpy refuse to shape even an empty array
_MAX_ELEMENTS = 2**40
_SHARED_MEMORY = ("shared_memory_region", "shared_memory_byte_size", "shared_memory_offset")


@dataclass(frozen=True, slots=True)
class RequestedOutput:
    """One entry of the request's ``outputs``.

    Attributes:
        name: the output wanted.
        binary: its ``binary_data`` parameter; None follows the request-wide flag.
    """

    name: str
    binary: bool | None = None


@dataclass(frozen=True, slots=True)
class InferRequest:
    """An inference request, its tensors decoded.

    Attributes:
        id: the client's id, echoed in the response; None when it sent none.
        inputs: the input tensors, in request order.
        outputs: the outputs asked for, in order; empty means every output.
        binary_output: the request's ``binary_data_output`` parameter.
    """

    id: str | None
    inputs: tuple[Tensor, ...]
    outputs: tuple[RequestedOutput, ...]
    binary_output: bool = False

    def is_binary(self, name: str) -> bool:
        """Whether output ``name`` is sent as binary data rather than JSON."""
        for output in self.outputs:
            if output.name == name and output.binary is not None:
                return output.binary
        return self.binary_output


def _parameters(where: str, raw: Any) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise BadRequest(f"{where}: expected 'parameters' to be an object, got {_kind(raw)}")
    return raw


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _flag(where: str, parameters: Mapping[str, Any], key: str) -> bool | None:
    value = parameters.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"{where}: expected parameter {key!r} to be true or false, got {value!r}")
    return value


def _refuse_shared_memory(where: str, parameters: Mapping[str, Any]) -> None:
    used = [key for key in _SHARED_MEMORY if key in parameters]
    if used:
        raise BadRequest(
            f"{where}: shared memory ({used[0]}) is not supported by this server; "
            "send the tensor in the request body"
        )


def _shape(where: str, raw: Any) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in raw
    ):
        raise BadRequest(f"{where}: expected 'shape' to be a list of sizes >= 0, got {raw!r}")
    if math.prod(d for d in raw if d) >= _MAX_ELEMENTS:  # even an empty tensor: numpy refuses
        raise BadRequest(f"{where}: shape {raw} is too large (at most 2**40 elements)")
    return tuple(raw)


def _named(field: str, index: int, raw: Any) -> str:
    """The name of ``inputs[i]`` or ``outputs[i]``, once it is known to be a named object."""
    if not isinstance(raw, Mapping):
        raise BadRequest(f"{field}[{index}]: expected an object, got {_kind(raw)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{field}[{index}]: expected a 'name' string, got {name!r}")
    return name


def _input(index: int, raw: Any, blobs: BlobReader) -> Tensor:
    name = _named("inputs", index, raw)
    where = f"input {name!r}"
    datatype = raw.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:  # {} or [] is unhashable
        raise BadRequest(
            f"{where}: expected 'datatype' to be one of {', '.join(DATATYPES)}, got {datatype!r}"
        )
    shape = _shape(where, raw.get("shape"))
    parameters = _parameters(where, raw.get("parameters"))
    _refuse_shared_memory(where, parameters)
    size = parameters.get("binary_data_size")
    if size is None:
        if "data" not in raw:
            raise BadRequest(f"{where}: expected 'data', or binary data with 'binary_data_size'")
        array = array_from_json(name, datatype, shape, raw["data"])
    else:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadRequest(f"{where}: expected 'binary_data_size' >= 0, got {size!r}")
        if "data" in raw:
            raise BadRequest(f"{where}: expected either 'data' or 'binary_data_size', got both")
        array = array_from_bytes(name, datatype, shape, blobs.take(name, size))
    return Tensor(name, datatype, shape, array)


def _output(index: int, raw: Any) -> RequestedOutput:
    name = _named("outputs", index, raw)
    where = f"output {name!r}"
    parameters = _parameters(where, raw.get("parameters"))
    _refuse_shared_memory(where, parameters)
    if "classification" in parameters:
        raise BadRequest(f"{where}: the classification extension is not supported by this server")
    return RequestedOutput(name, _flag(where, parameters, "binary_data"))


def _list(document: Mapping[str, Any], key: str, required: bool) -> list[Any]:
    value = document.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise BadRequest(f"request: expected {key!r} to be a non-empty list, got {value!r}")
    return value


def parse_infer_request(body: bytes, header_length: str | None) -> InferRequest:
    """Decode a request body, binary part included.

    Args:
        body: the decompressed body.
        header_length: the ``Inference-Header-Content-Length`` header, if sent.

    Raises:
        BadRequest: naming the part of the request at fault.
    """
    header, blob = split_body(body, header_length)
    what = "request body" if header_length is None else "request JSON header"
    document = parse_json(header, what)
    if not isinstance(document, Mapping):
        raise BadRequest(
            f'{what}: expected an object such as {{"inputs": [...]}}, got {_kind(document)}'
        )
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest(f"request: expected 'id' to be a string, got {request_id!r}")
    parameters = _parameters("request", document.get("parameters"))
    blobs = BlobReader(blob)
    inputs = tuple(_input(i, raw, blobs) for i, raw in enumerate(_list(document, "inputs", True)))
    blobs.finish()
    names = [tensor.name for tensor in inputs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BadRequest(f"inputs: each input may be sent once, got {repeated} more than once")
    outputs = tuple(_output(i, raw) for i, raw in enumerate(_list(document, "outputs", False)))
    return InferRequest(
        id=request_id,
        inputs=inputs,
        outputs=outputs,
        binary_output=bool(_flag("request", parameters, "binary_data_output")),
    )


def render_infer_response(
    *,
    model_name: str,
    model_version: str,
    request: InferRequest,
    prediction_id: str,
    tensors: Sequence[Tensor],
) -> tuple[bytes, int | None]:
    """The response body, and the length of its JSON header when any output is binary.

    Returns:
        (body, header length): the length is None for a pure JSON body.
    """
    outputs = []
    blobs = []
    for tensor in tensors:
        entry: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
        }
        if request.is_binary(tensor.name):
            blob = tensor_bytes(tensor)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = json_data(tensor)
        outputs.append(entry)
    document: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if request.id is not None:
        document["id"] = request.id
    document["parameters"] = {"prediction_id": prediction_id}
    document["outputs"] = outputs
    header = orjson.dumps(document)
    if not blobs:  # an empty binary output still has its (empty) blob in the list
        return header, None
    return header + b"".join(blobs), len(header)
