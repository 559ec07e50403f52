"""The Signature: what a model takes and what it gives back, typed.

A signature is *measured*: it is inferred from the example rows passed to
``roost.save`` and from the model's real output on them, then stored in
``model.yaml``. Two kinds exist, as in MLflow:

- **columns**: named, typed columns (a table); rows are dicts or DataFrame rows.
- **tensors**: named numpy arrays whose first dimension is the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from roost.errors import ConfigError
from roost.types import JSONDict, JSONValue, Rows

__all__ = ["COLUMN_DTYPES", "ColumnSpec", "OutputSpec", "Signature", "TensorSpec"]

#: The column types a signature knows, and how they read in messages.
COLUMN_DTYPES = ("bool", "int64", "float32", "float64", "string", "datetime")
_TENSOR_DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "string",
)
_OUTPUT_DTYPES = (*_TENSOR_DTYPES, "object")


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{kind} name: expected a non-empty string, got {name!r}")


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One input column.

    Attributes:
        name: the column's name.
        dtype: one of ``COLUMN_DTYPES``.
        allow_nan: whether a missing value (None, NaN) is acceptable.
        description: what the column means, for documentation.
    """

    name: str
    dtype: str
    allow_nan: bool = False
    description: str | None = None

    def __post_init__(self) -> None:
        _check_name("column", self.name)
        if self.dtype not in COLUMN_DTYPES:
            raise ConfigError(
                f"column {self.name!r}: dtype must be one of {', '.join(COLUMN_DTYPES)}, "
                f"got {self.dtype!r}"
            )

    def to_dict(self) -> JSONDict:
        data: JSONDict = {"name": self.name, "dtype": self.dtype, "allow_nan": self.allow_nan}
        if self.description is not None:  # even "", so from_dict gives back an equal spec
            data["description"] = self.description
        return data


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input tensor; ``-1`` in ``shape`` marks a variable dimension (the batch first).

    Attributes:
        name: the tensor's name (``input`` when the model has a single unnamed input).
        dtype: a numpy dtype name, or ``string``.
        shape: the dimensions, batch included.
        allow_nan: whether NaN is acceptable in a float tensor.
        description: what the tensor holds, for documentation.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    allow_nan: bool = False
    description: str | None = None

    def __post_init__(self) -> None:
        _check_name("tensor", self.name)
        if self.dtype not in _TENSOR_DTYPES:
            raise ConfigError(
                f"tensor {self.name!r}: dtype must be one of {', '.join(_TENSOR_DTYPES)}, "
                f"got {self.dtype!r}"
            )
        if not self.shape or any(not isinstance(d, int) or d < -1 or d == 0 for d in self.shape):
            raise ConfigError(
                f"tensor {self.name!r}: shape must be positive sizes or -1, got {self.shape!r}"
            )

    def to_dict(self) -> JSONDict:
        data: JSONDict = {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "allow_nan": self.allow_nan,
        }
        if self.description is not None:
            data["description"] = self.description
        return data


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """One output of the model, per row.

    Attributes:
        name: ``prediction`` for a single output; ``label`` and ``probabilities``
            for a classifier; the graph's names for ONNX.
        dtype: a numpy dtype name, ``string``, or ``object`` (e.g. a dict per row).
        shape: the dimensions, batch first (``-1``).
        labels: for a probability output, the class of each position.
        description: what the output means, for documentation.
    """

    name: str
    dtype: str
    shape: tuple[int, ...] = (-1,)
    labels: tuple[JSONValue, ...] | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        _check_name("output", self.name)
        if self.dtype not in _OUTPUT_DTYPES:
            raise ConfigError(
                f"output {self.name!r}: dtype must be one of {', '.join(_OUTPUT_DTYPES)}, "
                f"got {self.dtype!r}"
            )

    def to_dict(self) -> JSONDict:
        data: JSONDict = {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}
        if self.labels is not None:
            data["labels"] = list(self.labels)
        if self.description is not None:
            data["description"] = self.description
        return data


InputSpec = ColumnSpec | TensorSpec


@dataclass(frozen=True, slots=True)
class Signature:
    """Typed inputs and outputs of a model.

    Example:
        >>> sig = Signature(
        ...     inputs=(ColumnSpec("x", "float64"),), outputs=(OutputSpec("prediction", "float64"),)
        ... )
        >>> sig.kind
        'columns'
        >>> sig.validate([{"x": 1}])["x"].tolist()
        [1.0]
    """

    inputs: tuple[ColumnSpec, ...] | tuple[TensorSpec, ...]
    outputs: tuple[OutputSpec, ...]

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ConfigError("signature: expected at least one input, got none")
        if not self.outputs:
            raise ConfigError("signature: expected at least one output, got none")
        kinds = {type(spec) for spec in self.inputs}
        if len(kinds) != 1 or not kinds <= {ColumnSpec, TensorSpec}:
            raise ConfigError("signature: inputs must be all ColumnSpec or all TensorSpec")
        for specs in (self.inputs, self.outputs):
            names = [spec.name for spec in specs]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ConfigError(f"signature: duplicate names {duplicates}")

    @property
    def kind(self) -> Literal["columns", "tensors"]:
        """``columns`` for a table of named columns, ``tensors`` for named arrays."""
        return "columns" if isinstance(self.inputs[0], ColumnSpec) else "tensors"

    @property
    def input_names(self) -> list[str]:
        return [spec.name for spec in self.inputs]

    def validate(self, rows: Rows) -> Any:
        """Check rows against the inputs and return the batch the model receives.

        Returns:
            a pandas DataFrame with exactly the signature's columns, in order and with
            their dtypes (columns); a numpy array (one tensor); or a dict of name to
            array (several tensors).

        Raises:
            SignatureError: naming the column, the expected type and the received value.
        """
        if self.kind == "columns":
            from roost.model._columns import validate_columns

            return validate_columns(self.inputs, rows)  # type: ignore[arg-type]
        from roost.model._tensors import validate_tensors

        return validate_tensors(self.inputs, rows)  # type: ignore[arg-type]

    def validate_batch(self, rows: Rows) -> Any:
        """As ``validate``, but rows of float columns stay one array (a ``RowBlock``).

        Serving validates each request alone and merges many one-row requests into a
        batch; a DataFrame per request would cost more than the model's share of the
        work, so such rows stay an array until the merged batch becomes one DataFrame
        (``as_frame``). Models hand this to ``predict_validated``.
        """
        if self.kind == "columns":
            from roost.model._columns import float_row_block

            block = float_row_block(self.inputs, rows)  # type: ignore[arg-type]
            if block is not None:
                return block
        return self.validate(rows)

    def to_dict(self) -> JSONDict:
        return {
            "kind": self.kind,
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": [spec.to_dict() for spec in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Signature:
        """Rebuild a signature from ``to_dict``'s output (as read from ``model.yaml``).

        Raises:
            ConfigError: the data is not a signature.
        """
        try:
            kind = data["kind"]
            if kind == "columns":
                inputs: tuple[ColumnSpec, ...] | tuple[TensorSpec, ...] = tuple(
                    ColumnSpec(
                        name=d["name"],
                        dtype=d["dtype"],
                        allow_nan=bool(d.get("allow_nan", False)),
                        description=d.get("description"),
                    )
                    for d in data["inputs"]
                )
            elif kind == "tensors":
                inputs = tuple(
                    TensorSpec(
                        name=d["name"],
                        dtype=d["dtype"],
                        shape=tuple(int(x) for x in d["shape"]),
                        allow_nan=bool(d.get("allow_nan", False)),
                        description=d.get("description"),
                    )
                    for d in data["inputs"]
                )
            else:
                raise ConfigError(f"signature kind: expected columns or tensors, got {kind!r}")
            outputs = tuple(
                OutputSpec(
                    name=d["name"],
                    dtype=d["dtype"],
                    shape=tuple(int(x) for x in d.get("shape", [-1])),
                    labels=tuple(d["labels"]) if d.get("labels") is not None else None,
                    description=d.get("description"),
                )
                for d in data["outputs"]
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"signature: malformed data ({exc!r})") from exc
        return cls(inputs=inputs, outputs=outputs)

    def json_schema(self) -> JSONDict:
        """A JSON Schema for one input row (columns) or one input instance (tensors)."""
        from roost.model._schema import input_row_schema

        return input_row_schema(self)
