"""A Featured model through the registry: raw rows in, the same answers as ready vectors.

The feature module is written into tmp_path and imported under a fresh name; the model is
a scikit-learn LogisticRegression trained on the fitted vectors of a point-in-time frame,
saved with ``registry.save(Featured(...), example=raw rows)`` and loaded back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from roost.errors import ConfigError, NotLoadedError, SignatureError
from roost.features import Featured, FeatureStore, FittedFeatures, bind_store, fit
from roost.store import Registry
from roost.testing import FakeClock, check_model

T0_S = 1_704_067_200  # 2024-01-01T00:00:00Z: the fake clock's "now"
S = 1_000_000
T = T0_S * S
MINUTE = 60 * S

FEATURES = '''
"""Feature code for test_featured_model (written into tmp_path by the test)."""

from __future__ import annotations

from datetime import timedelta

from roost.features import (
    Aggregate, AggregateView, Entity, Events, FeatureService, Request, StandardScaler,
    Vocabulary, transform,
)

FEE = 0.25

customer = Entity("customer", keys={"customer_id": "int64"})
orders = Events("orders", entity=customer, columns={"amount": "float64", "channel": "string"})

spend = AggregateView(
    "spend", version=1, events=orders, window=timedelta(hours=2), ttl=timedelta(hours=1),
    aggregates=[Aggregate("amount", "sum", name="total_2h"),
                Aggregate("amount", "mean", name="avg_2h")],
    defaults={"total_2h": 0.0, "avg_2h": -1.0},
)


@transform(version=1, inputs={"amount": "float64"}, outputs={"with_fee": "float64"})
def with_fee(amount):
    return amount * (1.0 + FEE)


shop_model = FeatureService(
    "shop_model", entity=customer,
    features=[spend, with_fee, Request("channel", "string")],
    encoders=[StandardScaler("with_fee"), Vocabulary("channel")],
)
'''

RAW = ["customer_id", "amount", "channel"]
VECTOR = ["total_2h", "avg_2h", "with_fee", "channel"]


def at(t_us: int) -> pd.Timestamp:
    return pd.Timestamp(t_us, unit="us", tz="UTC")


def frame_of(*rows: tuple[int, int, float, str]) -> pd.DataFrame:
    """(customer_id, time_us, amount, channel) rows."""
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": [at(r[1]) for r in rows],
            "amount": [r[2] for r in rows],
            "channel": [r[3] for r in rows],
        }
    )


EVENTS = frame_of(
    (1, T - 30 * MINUTE, 10.0, "web"),
    (1, T - 5 * MINUTE, 30.0, "web"),
    (2, T - 20 * MINUTE, 2.0, "app"),
    (3, T - 50 * MINUTE, 1.0, "app"),
    (3, T - 10 * MINUTE, 3.0, "shop"),
    (4, T - 100 * MINUTE, 8.0, "web"),  # expired by T: defaulted
)

#: the requests the model is asked about at T (customer 5 has no history)
REQUESTS = frame_of(
    (1, T, 50.0, "web"),
    (2, T, 1.0, "app"),
    (3, T, 2.5, "shop"),
    (4, T, 9.0, "web"),
    (5, T, 4.0, "app"),
)


def close(a: Any, b: Any) -> bool:
    """Equal outputs, floats within 1e-9 (relative)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return bool(a == b)


def expected_outputs(clf: LogisticRegression, vectors: pd.DataFrame) -> list[dict[str, Any]]:
    """What the in-memory estimator answers on vectors, shaped as roost answers."""
    labels = clf.predict(vectors).tolist()
    probabilities = clf.predict_proba(vectors).tolist()
    return [{"label": y, "probabilities": p} for y, p in zip(labels, probabilities, strict=True)]


@dataclass
class Trained:
    module: ModuleType
    store: FeatureStore
    registry: Registry
    fitted: FittedFeatures
    clf: LogisticRegression
    ref: str
    raw: list[dict[str, Any]]
    vectors: pd.DataFrame


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def features_module(load_features: Callable[[str], ModuleType]) -> ModuleType:
    return load_features(FEATURES)


@pytest.fixture
def trained(registry: Registry, features_module: ModuleType) -> Iterator[Trained]:
    """A Featured LogisticRegression saved as ``shop:1``; the online store materialized at T."""
    shop = features_module
    with FeatureStore(registry.home / "features", clock=FakeClock(epoch=T0_S)) as store:
        store.ingest(shop.orders, EVENTS)
        history = frame_of(
            *[(c, T - m * MINUTE, a, ch) for c in (1, 2, 3, 4, 5) for m, a, ch in _HISTORY[c]]
        )
        history["label"] = [int(a > 5.0) for a in history["amount"]]
        frame = store.training_frame(shop.shop_model, history)
        fitted = fit(shop.shop_model, frame)
        clf = LogisticRegression(max_iter=1000).fit(fitted.vectors(frame), frame["label"])
        store.materialize(shop.shop_model)
        raw = [{str(k): v for k, v in r.items()} for r in REQUESTS[RAW].to_dict(orient="records")]
        version = registry.save(Featured(fitted, clf, store=store), "shop", example=raw)
        now_frame = store.training_frame(shop.shop_model, REQUESTS)
        vectors = fitted.vectors(now_frame)
        yield Trained(shop, store, registry, fitted, clf, str(version), raw, vectors)


_HISTORY: dict[int, list[tuple[int, float, str]]] = {
    1: [(40, 12.0, "web"), (25, 1.0, "web"), (3, 20.0, "app")],
    2: [(15, 2.0, "app"), (12, 9.0, "app")],
    3: [(45, 0.5, "shop"), (8, 7.5, "shop")],
    4: [(70, 6.0, "web"), (2, 0.8, "web")],
    5: [(1, 3.0, "app")],
}


@pytest.fixture
def loaded(trained: Trained) -> Any:
    """``shop:1`` loaded from the registry, reading the test's (fake-clock) store."""
    model = trained.registry.load(trained.ref)
    bind_store(model, trained.store)
    return model


# ------------------------------------------------------------------ predictions


def test_featured_raw_rows_predict_like_ready_vectors(trained: Trained, loaded: Any) -> None:
    """Raw rows (online features) = fitted vectors of the training path = the estimator."""
    expected = expected_outputs(trained.clf, trained.vectors)
    from_raw = loaded.predict(trained.raw)
    from_vectors = loaded.predict(trained.vectors.to_dict(orient="records"))
    assert close(from_raw, expected)
    assert close(from_vectors, expected)
    assert len({json.dumps(o["label"]) for o in expected}) == 2  # both classes answered


def test_featured_model_from_registry_model_loads_lazily(trained: Trained) -> None:
    model = trained.registry.model(trained.ref)
    with pytest.raises(NotLoadedError):
        model.predict(trained.raw)
    model.load()
    inner = model.model_
    assert isinstance(inner, Featured)
    assert inner.store is not None
    assert inner.store.home == trained.registry.home / "features"
    bind_store(model, trained.store)
    assert close(model.predict(trained.raw), expected_outputs(trained.clf, trained.vectors))


def test_featured_in_memory_predicts_like_the_package(trained: Trained, loaded: Any) -> None:
    featured = Featured(trained.fitted, trained.clf, store=trained.store)
    featured.load()
    assert close(featured.predict(trained.raw), loaded.predict(trained.raw))
    assert close(featured.predict_one(trained.raw[0]), loaded.predict(trained.raw[:1])[0])


def test_featured_signature_inputs_are_the_raw_inputs(loaded: Any) -> None:
    inputs = [(spec.name, spec.dtype) for spec in loaded.signature.inputs]
    assert inputs == [("customer_id", "int64"), ("amount", "float64"), ("channel", "string")]
    assert [spec.name for spec in loaded.signature.outputs] == ["label", "probabilities"]


def test_featured_in_memory_signature_is_the_packages(trained: Trained, loaded: Any) -> None:
    """Before saving, the outputs are measured on one probe vector: as the package's."""
    featured = Featured(trained.fitted, trained.clf, store=trained.store)
    featured.load()
    assert featured.signature.to_dict() == loaded.signature.to_dict()


def test_featured_model_yaml_flavor_options_name_the_service(trained: Trained) -> None:
    flavor = trained.registry.metadata(trained.ref)["flavor"]
    assert flavor["name"] == "features"
    assert flavor["options"]["service"] == "shop_model@1"
    assert flavor["options"]["features"] == ["spend@1", "with_fee@1", "channel@1"]
    assert flavor["options"]["estimator"]["flavor"] == "sklearn"


def test_featured_package_records_module_and_hashes(trained: Trained) -> None:
    path = trained.registry.path(trained.ref) / "artifacts" / "features.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    service = trained.module.shop_model
    record = document["service"]
    assert (record["ref"], record["module"]) == ("shop_model@1", trained.module.__name__)
    assert Path(record["file"]).resolve() == Path(str(trained.module.__file__)).resolve()
    assert record["hash"] == service.source_hash
    assert [d["hash"] for d in record["definitions"]] == [f.source_hash for f in service.features]
    assert document["states"] == {k: dict(v) for k, v in trained.fitted.states.items()}


def test_featured_vector_request_needs_no_store(trained: Trained) -> None:
    """A request naming every feature column goes straight to the estimator."""
    featured = Featured(trained.fitted, trained.clf)
    featured.load()
    rows = trained.vectors.to_dict(orient="records")
    assert featured.is_vectors(rows)
    assert not featured.is_vectors(trained.raw)
    assert close(featured.predict(rows), expected_outputs(trained.clf, trained.vectors))


def test_featured_raw_request_without_store_raises_config_error(trained: Trained) -> None:
    featured = Featured(trained.fitted, trained.clf)
    featured.load()
    with pytest.raises(ConfigError, match="no feature store"):
        featured.predict(trained.raw)


def test_featured_not_fitted_features_raises_config_error(trained: Trained) -> None:
    featured = Featured(trained.module.shop_model, trained.clf)  # the service, not fitted
    with pytest.raises(ConfigError, match="FittedFeatures"):
        featured.load()


def test_featured_predict_before_load_raises(trained: Trained) -> None:
    with pytest.raises(NotLoadedError):
        Featured(trained.fitted, trained.clf, store=trained.store).predict(trained.raw)


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ({"customer_id": 1, "amount": "lots", "channel": "web"}, "amount"),
        ({"customer_id": 1, "amount": 2.0}, "channel"),
        ({"customer_id": "one", "amount": 2.0, "channel": "web"}, "customer_id"),
    ],
    ids=["bad-type", "missing-field", "bad-key"],
)
def test_featured_bad_raw_row_raises_signature_error_naming_column(
    loaded: Any, row: dict[str, Any], column: str
) -> None:
    with pytest.raises(SignatureError, match=column):
        loaded.predict([row])


def test_bind_store_switches_the_store_features_are_read_from(
    tmp_path: Path, trained: Trained, loaded: Any
) -> None:
    shop = trained.module
    with FeatureStore(tmp_path / "other", clock=FakeClock(epoch=T0_S)) as other:
        other.ingest(shop.orders, frame_of((1, T - MINUTE, 500.0, "web")))
        other.materialize(shop.shop_model)
        bind_store(loaded, other)
        assert loaded.model_.store is other
        vectors = trained.fitted.vectors(other.training_frame(shop.shop_model, REQUESTS))
        assert vectors["total_2h"].tolist()[:2] == [500.0, 0.0]
        answers = loaded.predict(trained.raw)
        assert close(answers, expected_outputs(trained.clf, vectors))
        assert not close(answers, expected_outputs(trained.clf, trained.vectors))


def test_bind_store_leaves_other_models_alone(trained: Trained) -> None:
    plain = trained.registry.save(trained.clf, "plain", example=trained.vectors.head(2))
    model = trained.registry.load(plain)
    bind_store(model, trained.store)
    assert not hasattr(model.model_, "store")


def test_featured_loaded_model_passes_check_model(loaded: Any) -> None:
    check_model(loaded)


def test_featured_example_holds_the_raw_rows(trained: Trained, loaded: Any) -> None:
    assert [sorted(row) for row in loaded.example] == [sorted(RAW)] * len(trained.raw)
    assert close([row["amount"] for row in loaded.example], [r["amount"] for r in trained.raw])


def test_featured_vectors_equal_training_features_at_request_time(trained: Trained) -> None:
    """The frozen state: customer 4 expired (defaulted), 5 never seen, channel encoded."""
    vectors = trained.vectors
    assert list(vectors.columns) == VECTOR
    assert vectors["total_2h"].tolist() == [40.0, 2.0, 4.0, 0.0, 0.0]
    assert vectors["avg_2h"].tolist() == [20.0, 2.0, 2.0, -1.0, -1.0]
    assert str(vectors["channel"].dtype) == "int64"
