"""The two benchmark models, trained once and registered, plus pickles for the baseline apps.

- ``small``: scikit-learn LogisticRegression on iris (4 float features).
- ``forest``: RandomForestClassifier, 100 trees, max_depth 10, on 20 generated features.

Both are registered with ``proba=False`` so that every server does the same work per
row: one ``model.predict`` call, which is what the baseline apps do.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import roost

FOREST_FEATURES = [f"f{i}" for i in range(20)]
IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@dataclass(frozen=True)
class BenchModel:
    name: str
    columns: list[str]
    row: dict[str, float]
    pickle_path: Path


def build(workdir: Path) -> dict[str, BenchModel]:
    """Train, register (ROOST_HOME=workdir/home) and pickle both models; return how to call them."""
    from sklearn.datasets import load_iris, make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    registry = roost.Registry(workdir / "home")
    models = {}

    iris = load_iris()
    x_small = np.asarray(iris.data, dtype=np.float64)
    small = LogisticRegression(max_iter=1000).fit(x_small, iris.target)
    x_forest, y_forest = make_classification(
        n_samples=5000, n_features=20, n_informative=10, random_state=0
    )
    forest = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0).fit(
        x_forest, y_forest
    )
    for name, model, x, columns in (
        ("small", small, x_small, IRIS_FEATURES),
        ("forest", forest, x_forest, FOREST_FEATURES),
    ):
        import pandas as pd

        frame = pd.DataFrame(x, columns=columns)
        registry.save(model, name, example=frame[:5], proba=False)
        path = workdir / f"{name}.pkl"
        path.write_bytes(pickle.dumps(model))
        row = {c: round(float(v), 4) for c, v in zip(columns, x[0], strict=True)}
        models[name] = BenchModel(name, columns, row, path)
    (workdir / "models.json").write_text(
        json.dumps(
            {m.name: {"columns": m.columns, "pickle": str(m.pickle_path)} for m in models.values()}
        )
    )
    return models
