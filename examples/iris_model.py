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

NAME = "iris"

CARD = {
    "overview": "Tells an iris flower's species from four measurements of its petals and sepals.",
    "intended_use": "Teaching and demonstrating roost; not for botanical decisions.",
    "owners": ["roost maintainers"],
    "limitations": "150 flowers of three species from one 1936 study; any other species is "
    "classified as one of these three.",
    "training_data": "scikit-learn's bundled iris data set (Fisher, 1936), 75% for training.",
    "evaluation_data": "The remaining 25%, stratified by species.",
    "references": ["https://archive.ics.uci.edu/dataset/53/iris"],
    "tags": ["demo", "tabular", "classification"],
}


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


def register(trained: Trained) -> roost.ModelVersion:
    """Save the fitted classifier as the next version of ``iris``."""
    X_test = trained.data["test"][0]
    return roost.save(trained.model, NAME, example=X_test[:5], data=trained.data, card=CARD)


if __name__ == "__main__":
    version = register(train())
    print(f"registered {version}")
