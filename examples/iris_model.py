"""The iris classifier: the smallest model worth registering.

A LogisticRegression on scikit-learn's bundled iris data (no download), fitted on
a DataFrame with readable column names and the species as text, so predictions
come back as ``{"label": "setosa", "probabilities": [...]}``.

Run it alone with ``python examples/iris_model.py`` to register one version.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import roost
from roost.cards.evaluate import evaluate
from roost.cards.history import EvaluationHistory

NAME = "iris"

CARD = {
    "overview": "Tells an iris flower's species from four measurements of its petals and sepals.",
    "intended_use": "Teaching and demonstrating roost; not for botanical decisions.",
    "out_of_scope": [
        "any species other than setosa, versicolor and virginica",
        "botanical, agricultural or any other real-world decision",
        "measurements in other units than centimetres",
    ],
    "users": "People learning roost, and roost's own demo and tests.",
    "owners": ["roost maintainers"],
    "license": "Apache-2.0, as roost; the iris data is CC BY 4.0 (UCI Machine Learning "
    "Repository).",
    "factors": "Species, and petal size: setosa's small petals set it apart, while versicolor "
    "and virginica overlap among medium and large petals. The evaluation reports each "
    "petal-length band of the test flowers.",
    "limitations": "150 flowers of three species from one 1936 study; any other species is "
    "classified as one of these three.",
    "tradeoffs": "A linear model (logistic regression): small, fast and readable. Versicolor "
    "and virginica overlap, so a few flowers near their boundary are confused (about 4% of the "
    "training flowers).",
    "ethical_considerations": "The data describes flowers, not people: no personal data is "
    "used, and no decision about a person is made with it.",
    "caveats": "The test split holds 38 flowers: a score near 1 on it does not mean the model "
    "never errs, and bootstrap intervals drawn from so few rows are rough (a perfect score "
    "gives an interval of width 0). Measurements must be in centimetres.",
    "training_data": "scikit-learn's bundled iris data set (Fisher, 1936), 75% for training.",
    "evaluation_data": "The remaining 25%, stratified by species, also sliced by petal-length "
    "band (small under 2.5 cm, medium 2.5 to 5 cm, large 5 cm and over).",
    "monitoring": "Served with `roost serve --telemetry`: requests are logged, feedback gives "
    "the production accuracy and drift is measured against the training data; the served "
    "factsheet (/v1/models/iris/factsheet) shows them with latency and errors.",
    "references": ["https://archive.ics.uci.edu/dataset/53/iris"],
    "tags": ["demo", "tabular", "classification"],
}
#: the petal-length bands the evaluation is sliced by, in centimetres
PETAL_BANDS = ((2.5, "small"), (5.0, "medium"), (float("inf"), "large"))


@dataclass(frozen=True, slots=True)
class Trained:
    """A fitted model with the data it saw, ready for ``roost.save``."""

    model: LogisticRegression
    data: dict[str, tuple[pd.DataFrame, pd.Series]]
    accuracy: float


def load_table() -> tuple[pd.DataFrame, pd.Series]:
    """The iris measurements (``sepal_length``, …) and the species names."""
    iris = load_iris(as_frame=True)
    X = iris.data.rename(columns=lambda c: c.removesuffix(" (cm)").replace(" ", "_"))
    y = pd.Series(iris.target_names[iris.target], name="species")
    return X, y


def train() -> Trained:
    X, y = load_table()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    model = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    return Trained(
        model=model,
        data={"train": (X_train, y_train), "test": (X_test, y_test)},
        accuracy=float(model.score(X_test, y_test)),
    )


def petal_size(X: pd.DataFrame) -> pd.Series:
    """Each flower's petal-length band (``PETAL_BANDS``): the slice the evaluation reports."""
    bands = pd.cut(
        X["petal_length"],
        [0.0, *(upper for upper, _ in PETAL_BANDS)],
        labels=[name for _, name in PETAL_BANDS],
        right=False,
    )
    return bands.astype(str).rename("petal_size")


def register(trained: Trained) -> roost.ModelVersion:
    """Save the fitted classifier as the next version of ``iris``, evaluated on its test split."""
    X_test, y_test = trained.data["test"]
    version = roost.save(trained.model, NAME, example=X_test[:5], data=trained.data, card=CARD)
    evaluation = evaluate(
        roost.load(str(version)),
        X_test,
        y_test,
        slice_by=("petal_size",),
        slices_frame=petal_size(X_test).to_frame(),
        source="iris test split (25%, stratified)",
    )
    EvaluationHistory(roost.default_registry()).save(evaluation)
    return version


if __name__ == "__main__":
    version = register(train())
    print(f"registered {version}")
