"""Stack: a metamodel answers from the base models' outputs.

Each base answers every row; its outputs become the metamodel's columns, named
``"<base>.<output>"`` (a vector output split as ``"<base>.<output>[j]"``). The
metamodel is a fitted estimator the stack owns: it is saved with the stack, through
the same flavor machinery as a registered model, and answers like one (``label`` and
``probabilities`` for a classifier, ``prediction`` for a regressor). ``fit_stack``
fits one on out-of-fold predictions, so it learns how far to trust each base on rows
that base never saw.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roost.compose._aggregate import sample_outputs
from roost.compose._base import Composite, check_member_name, member_outputs, merged_inputs
from roost.compose._live import live
from roost.compose.pipeline import in_spec_order
from roost.errors import ConfigError, Error, ModelError
from roost.model import Model, Signature, detect_flavor, flavor_named, infer_outputs
from roost.types import JSONDict, Rows

__all__ = ["Stack", "fit_stack"]

_FEATURES = ("probabilities", "prediction", "label")


class Stack(Composite):
    """A fitted metamodel over the outputs of base models.

    Args:
        base: the base models, by name.
        meta: the fitted metamodel (a scikit-learn, XGBoost or LightGBM estimator, or
            any object a flavor runs), trained on columns named ``"<base>.<output>"``,
            ``"<base>.probabilities[j]"`` for the j-th class of a probability output.
        features: which output of every base feeds the metamodel: ``probabilities``,
            ``prediction`` or ``label``.

    Raises:
        ConfigError: a bad argument, naming it.

    Example:
        >>> stack = fit_stack({"tree": DecisionTreeClassifier(), "knn": KNeighborsClassifier()},
        ...                   LogisticRegression(), X, y)  # doctest: +SKIP
        >>> stack.load()  # doctest: +SKIP
        >>> stack.predict(X[:1])  # doctest: +SKIP
        [{'label': 1, 'probabilities': [0.1, 0.9]}]
    """

    kind = "stack"

    def __init__(
        self, base: Mapping[str, Model], meta: Any, *, features: str = "probabilities"
    ) -> None:
        super().__init__(base)
        if features not in _FEATURES:
            raise ConfigError(f"features: expected one of {', '.join(_FEATURES)}, got {features!r}")
        if meta is None or isinstance(meta, type) or not callable(getattr(meta, "predict", meta)):
            raise ConfigError(
                f"meta: expected a fitted estimator with predict, got {type(meta).__name__}"
            )
        self.meta = meta
        self.features = features

    # ------------------------------------------------------------ signature

    def _build_signature(self) -> Signature:
        """Check the bases give the feature, then measure the metamodel's outputs.

        Raises:
            ConfigError: a base lacks the feature output, or the metamodel was fitted
                on other columns.
            ModelError: the metamodel fails on the bases' outputs for their examples.
        """
        self.columns_ = [c for name in self.members for c in self._columns_of(name)]
        fitted = getattr(self.meta, "feature_names_in_", None)
        if fitted is not None and sorted(map(str, fitted)) != sorted(self.columns_):
            raise ConfigError(
                f"meta: fitted on columns {[str(c) for c in fitted]}, but the bases give "
                f"{self.columns_}"
            )
        width = getattr(self.meta, "n_features_in_", None)
        if isinstance(width, int) and width != len(self.columns_):
            raise ConfigError(
                f"meta: fitted on {width} columns, but the bases give {len(self.columns_)}: "
                f"{self.columns_}"
            )
        self.flavor_ = detect_flavor(self.meta)
        self.options_: JSONDict = self.flavor_.options(self.meta, None)
        samples = sample_outputs(self.kind, self.members, "the metamodel's outputs")
        outputs = self._run_meta(self._feature_frame(samples))
        return Signature(
            inputs=merged_inputs(self.kind, self.members),
            outputs=infer_outputs(outputs, self.flavor_.labels(self.meta, self.options_)),
        )

    def _columns_of(self, name: str) -> list[str]:
        outputs = {spec.name: spec for spec in self.members[name].signature.outputs}
        spec = outputs.get(self.features)
        if spec is None:
            raise ConfigError(
                f"stack base {name!r}: has no output {self.features!r} to feed the metamodel "
                f"(outputs: {', '.join(outputs)}); choose features= among them"
            )
        if spec.shape == (-1,):
            return [f"{name}.{spec.name}"]
        width = len(spec.labels) if spec.labels else spec.shape[-1]
        if len(spec.shape) != 2 or width < 1:
            raise ConfigError(
                f"stack base {name!r}: output {spec.name!r} has shape {list(spec.shape)}; "
                "expected one value or one fixed-length vector per row"
            )
        return [f"{name}.{spec.name}[{j}]" for j in range(width)]

    # ------------------------------------------------------------ predicting

    def predict_outputs(self, frame: Any) -> dict[str, Any]:
        answers = {}
        for name, member in self.members.items():
            try:
                answers[name] = member_outputs(member, frame)
            except Exception as exc:  # name the base: the member's own message may not
                raise ModelError(
                    f"stack base {name!r} failed: {type(exc).__name__}: {exc}"
                ) from exc
        return self._run_meta(self._feature_frame(answers))

    def _feature_frame(self, answers: Mapping[str, Mapping[str, list[Any]]]) -> Any:
        import numpy as np
        import pandas as pd

        columns: dict[str, Any] = {}
        for name, outputs in answers.items():
            values = outputs[self.features]
            array = np.asarray(values)
            if array.ndim == 2:  # a vector per row: one column per position
                for j in range(array.shape[1]):
                    columns[f"{name}.{self.features}[{j}]"] = array[:, j]
            else:
                columns[f"{name}.{self.features}"] = values
        return pd.DataFrame(columns, columns=self.columns_)

    def _run_meta(self, features: Any) -> dict[str, Any]:
        try:
            return self.flavor_.predict(self.meta, features, self.options_)
        except Error:
            raise
        except Exception as exc:  # the metamodel's own failure, with context
            raise ModelError(f"stack metamodel failed: {type(exc).__name__}: {exc}") from exc

    # ------------------------------------------------------------ spec

    def to_spec(self) -> JSONDict:
        return {"kind": self.kind, "members": list(self.members), "features": self.features}

    def save_owned(self, directory: Path) -> JSONDict:
        """Write the metamodel into ``directory/meta`` with its flavor, as a package would."""
        flavor = detect_flavor(self.meta)
        (directory / "meta").mkdir(parents=True, exist_ok=True)
        artifact = flavor.save(self.meta, directory / "meta")
        options = flavor.options(self.meta, None)
        return {"meta": {"flavor": flavor.name, "artifact": f"meta/{artifact}", "options": options}}

    @classmethod
    def from_spec(cls, spec: JSONDict, members: Mapping[str, Model], directory: Path) -> Stack:
        info = spec.get("meta")
        if not isinstance(info, Mapping) or not isinstance(info.get("artifact"), str):
            raise ConfigError(f"stack spec 'meta': expected what save_owned returned, got {info!r}")
        flavor = flavor_named(str(info.get("flavor")))
        meta = flavor.load(directory / info["artifact"], info.get("options") or {})
        members = in_spec_order(cls.kind, spec, members)
        return cls(members, meta, features=spec.get("features", "probabilities"))


def fit_stack(
    base: Mapping[str, Any],
    meta: Any,
    X: Any,
    y: Any,
    *,
    cv: Any = 5,
    example: Rows | None = None,
    random_state: int = 0,
) -> Stack:
    """Fit a stack: the metamodel on out-of-fold predictions, the bases on all the data.

    Each base is cloned and scored by ``cross_val_predict`` (``predict_proba`` when every
    base is a classifier, ``predict`` when none is), so the metamodel learns from
    predictions on rows each base did not see; then each base is refitted on all of
    ``X, y``. The objects passed in are cloned, never fitted themselves.

    Args:
        base: unfitted scikit-learn estimators, by name.
        meta: the unfitted metamodel.
        X: the training rows: a DataFrame (the bases take its named columns) or an array
            (the bases all take it as one tensor).
        y: the training target.
        cv: the number of folds (shuffled, stratified for classifiers), or a splitter.
        example: the bases' example rows (default: the first five rows of ``X``).
        random_state: the seed of the folds' shuffle.

    Returns:
        a Stack whose bases are ``live`` models; ``load()`` it before predicting.

    Raises:
        ConfigError: no bases, a bad name, or classifiers and regressors mixed among
            the bases.

    Example:
        >>> stack = fit_stack({"tree": DecisionTreeClassifier(), "knn": KNeighborsClassifier()},
        ...                   LogisticRegression(), X, y, cv=5)  # doctest: +SKIP
    """
    import pandas as pd
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

    if not base:
        raise ConfigError("base: expected at least one estimator, got none")
    for name in base:
        check_member_name(name)
    kinds = {name: is_classifier(e) and hasattr(e, "predict_proba") for name, e in base.items()}
    if len(set(kinds.values())) > 1:
        classifiers = [name for name, is_cls in kinds.items() if is_cls]
        raise ConfigError(
            f"base: mixes classifiers ({', '.join(classifiers)}) and regressors "
            f"({', '.join(n for n in base if n not in classifiers)}); stack one kind"
        )
    proba = next(iter(kinds.values()))
    if isinstance(cv, int):
        folds = StratifiedKFold if proba else KFold
        cv = folds(n_splits=cv, shuffle=True, random_state=random_state)
    columns: dict[str, Any] = {}
    fitted = {}
    for name, estimator in base.items():
        method = "predict_proba" if proba else "predict"
        oof = cross_val_predict(clone(estimator), X, y, cv=cv, method=method)
        if proba:
            columns.update({f"{name}.probabilities[{j}]": oof[:, j] for j in range(oof.shape[1])})
        else:
            columns[f"{name}.prediction"] = oof
        fitted[name] = clone(estimator).fit(X, y)
    meta_fitted = clone(meta).fit(pd.DataFrame(columns, index=getattr(X, "index", None)), y)
    rows = example if example is not None else X[:5]
    members = {name: live(model, example=rows, name=name) for name, model in fitted.items()}
    return Stack(members, meta_fitted, features="probabilities" if proba else "prediction")
