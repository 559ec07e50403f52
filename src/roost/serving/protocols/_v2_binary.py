"""The binary tensor data extension: a JSON header, then raw tensor bytes, in one body.

``Inference-Header-Content-Length: N`` says the first N bytes of the (decompressed)
body are the JSON document; the rest are the blobs of the inputs that declare
``binary_data_size``, in the order those inputs appear. Elements are little-endian,
row-major, unpadded; BOOL is one byte each; a BYTES element is a ``uint32``
little-endian length followed by its bytes. Responses use the same framing when any
output is binary. The framing is chosen from that header alone, never from
``Content-Type`` (tritonclient's two clients disagree on it).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from roost.serving.errors import BadRequest
from roost.serving.protocols._v2_tensors import Tensor, element_count, numpy_dtype

__all__ = [
    "HEADER_LENGTH",
    "BlobReader",
    "array_from_bytes",
    "split_body",
    "tensor_bytes",
]

#: the header that gives the JSON part's length in bytes, on requests and responses
HEADER_LENGTH = "Inference-Header-Content-Length"

_LENGTH = struct.Struct("<I")


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON part and the binary part of a request body.

    Raises:
        BadRequest: the header is not a whole number, is zero (a raw binary request,
            not supported), or is longer than the body.
    """
    if header_length is None:
        return body, b""
    text = header_length.strip()
    if not text.isdigit():
        raise BadRequest(
            f"{HEADER_LENGTH}: expected a whole number of bytes, got {header_length!r}"
        )
    length = int(text)
    if length == 0:
        raise BadRequest(
            f"{HEADER_LENGTH}: 0 means a raw binary request without a JSON header, "
            "which is not supported; send the JSON header first"
        )
    if length > len(body):
        raise BadRequest(
            f"{HEADER_LENGTH}: the JSON header is {length} bytes, "
            f"but the body has only {len(body)} bytes"
        )
    return body[:length], body[length:]


class BlobReader:
    """Hands out the binary part of a request, input by input, in order."""

    def __init__(self, blob: bytes) -> None:
        self._blob = memoryview(blob)
        self._offset = 0

    def take(self, name: str, size: int) -> bytes:
        """The next ``size`` bytes, for input ``name``.

        Raises:
            BadRequest: fewer than ``size`` bytes are left.
        """
        left = len(self._blob) - self._offset
        if size > left:
            raise BadRequest(
                f"input {name!r}: binary_data_size is {size} bytes, but only {left} bytes "
                "of binary data are left in the body"
            )
        chunk = bytes(self._blob[self._offset : self._offset + size])
        self._offset += size
        return chunk

    def finish(self) -> None:
        """Check that every byte was claimed by an input.

        Raises:
            BadRequest: bytes are left over after the last declared blob.
        """
        left = len(self._blob) - self._offset
        if left:
            raise BadRequest(
                f"binary data: the inputs' binary_data_size add up to {self._offset} bytes, "
                f"but the body has {self._offset + left} bytes after the JSON header"
            )


def _bytes_elements(name: str, chunk: bytes, count: int) -> np.ndarray:
    elements: list[bytes] = []
    offset = 0
    while offset < len(chunk):
        if offset + 4 > len(chunk):
            raise BadRequest(
                f"input {name!r}: BYTES element {len(elements)} is cut off in its length prefix"
            )
        (length,) = _LENGTH.unpack_from(chunk, offset)
        offset += 4
        if offset + length > len(chunk):
            raise BadRequest(
                f"input {name!r}: BYTES element {len(elements)} declares {length} bytes, "
                f"but only {len(chunk) - offset} are left in its blob"
            )
        elements.append(chunk[offset : offset + length])
        offset += length
    if len(elements) != count:
        raise BadRequest(
            f"input {name!r}: the shape holds {count} elements, "
            f"got {len(elements)} BYTES elements in the binary data"
        )
    array = np.empty(count, dtype=object)
    array[:] = elements
    return array


def array_from_bytes(name: str, datatype: str, shape: tuple[int, ...], chunk: bytes) -> np.ndarray:
    """The array one input's blob holds.

    Raises:
        BadRequest: the blob's size does not match the shape and datatype.
    """
    count = element_count(shape)
    if datatype == "BYTES":
        return _bytes_elements(name, chunk, count).reshape(shape)
    itemsize = 2 if datatype == "BF16" else numpy_dtype(datatype).itemsize
    if len(chunk) != count * itemsize:
        raise BadRequest(
            f"input {name!r}: shape {list(shape)} of {datatype} takes {count * itemsize} bytes, "
            f"got binary_data_size {len(chunk)}"
        )
    array: np.ndarray
    if datatype == "BOOL":
        array = np.frombuffer(chunk, dtype=np.uint8) != 0
    elif datatype == "BF16":
        # a bfloat16 is the upper half of a float32: shift it back into place
        halves = np.frombuffer(chunk, dtype="<u2").astype(np.uint32)
        array = (halves << 16).view(np.float32)
    else:
        wire = numpy_dtype(datatype).newbyteorder("<")
        # a copy: frombuffer is read-only, and a model may write into its input
        array = np.frombuffer(chunk, dtype=wire).astype(wire.newbyteorder("="))
    return array.reshape(shape)


def _element_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if value is None:  # the binary layout has no null: a missing text is empty
        return b""
    return str(value).encode("utf-8")


def tensor_bytes(tensor: Tensor) -> bytes:
    """The tensor's elements in the extension's binary layout (no BF16: no output has it)."""
    flat = tensor.array.reshape(-1)
    if tensor.datatype == "BYTES":
        parts = []
        for value in flat.tolist():
            data = _element_bytes(value)
            parts.append(_LENGTH.pack(len(data)))
            parts.append(data)
        return b"".join(parts)
    if tensor.datatype == "BOOL":
        return flat.astype(np.uint8).tobytes()
    wire = numpy_dtype(tensor.datatype).newbyteorder("<")
    return np.ascontiguousarray(flat, dtype=wire).tobytes()
