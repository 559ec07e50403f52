"""The Model contract that serving, batch scoring and composition all rely on.

It follows scikit-learn's: ``__init__`` only stores arguments, I/O happens in
``load()``, and ``predict(batch)`` returns exactly one output per input row.
Anything that has these members is a Model; nothing needs to inherit.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from roost.model._signature import Signature
from roost.types import Rows

__all__ = ["Model"]


@runtime_checkable
class Model(Protocol):
    """What every roost model, packaged or composite, provides.

    Example:
        >>> model = roost.load("iris@production")  # doctest: +SKIP
        >>> model.predict([{"sepal_length": 5.1, ...}])  # doctest: +SKIP
        ['setosa']
    """

    @property
    def signature(self) -> Signature:
        """The typed inputs and outputs."""
        ...

    @property
    def is_loaded(self) -> bool:
        """Whether ``load()`` has run, so ``predict`` may be called."""
        ...

    def load(self) -> None:
        """Read and check what the model needs; idempotent."""
        ...

    def predict(self, batch: Rows) -> list[Any]:
        """Validate ``batch`` and return exactly one output per input row.

        Raises:
            NotLoadedError: ``load()`` has not run.
            SignatureError: the rows do not match the signature.
        """
        ...
