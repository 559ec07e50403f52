"""The skew guard: a featured model loads only with the feature code it was trained with.

Unit tests feed ``check_skew`` edited records in process. Integration tests save a
model, edit the feature module's file, and load the package in a fresh interpreter (the
module is not on its path, so it is imported from the file the package recorded), as a
server starting tomorrow would.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from roost.errors import FeatureSkewError
from roost.features import Featured, FeatureStore, fit
from roost.features.skew import check_skew, service_record
from roost.store import Registry
from roost.testing import FakeClock

T0_S = 1_704_067_200  # 2024-01-01T00:00:00Z: the fake clock's "now"
S = 1_000_000
T = T0_S * S
MINUTE = 60 * S

FEATURES = '''
"""Feature code for test_skew_guard (written into tmp_path by the test)."""

from __future__ import annotations

from datetime import timedelta

from roost.features import (
    Aggregate, AggregateView, Entity, Events, FeatureService, Request, StandardScaler,
    Vocabulary, transform,
)

FEE = 0.25
WINDOW = timedelta(hours=2)

customer = Entity("customer", keys={"customer_id": "int64"})
orders = Events("orders", entity=customer, columns={"amount": "float64", "channel": "string"})

spend = AggregateView(
    "spend", version=1, events=orders, window=WINDOW, ttl=timedelta(hours=1),
    aggregates=[Aggregate("amount", "sum", name="total_2h")], defaults={"total_2h": 0.0},
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

#: loads ``sys.argv[1]`` from ROOST_HOME's registry and says what happened, as JSON
LOADER = """
import json, sys
import roost
from roost.errors import FeatureSkewError
try:
    model = roost.default_registry().load(sys.argv[1])
except FeatureSkewError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
else:
    answers = model.predict(model.example)
    names = [spec.name for spec in model.signature.inputs]
    print(json.dumps({"loaded": True, "inputs": names, "answers": len(answers)}))
"""


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


@dataclass
class Saved:
    module: ModuleType
    file: Path
    registry: Registry
    ref: str


@pytest.fixture
def shop(load_features: Callable[[str], ModuleType]) -> ModuleType:
    return load_features(FEATURES)


@pytest.fixture
def saved(registry: Registry, shop: ModuleType) -> Saved:
    """A Featured LogisticRegression on ``shop_model``, saved as ``shop:1``."""
    with FeatureStore(registry.home / "features", clock=FakeClock(epoch=T0_S)) as store:
        store.ingest(
            shop.orders,
            frame_of((1, T - 30 * MINUTE, 10.0, "web"), (2, T - 20 * MINUTE, 2.0, "app")),
        )
        rows = frame_of(
            (1, T - 10 * MINUTE, 9.0, "web"),
            (2, T - 5 * MINUTE, 1.0, "app"),
            (1, T - 1, 8.0, "app"),
            (2, T, 0.5, "web"),
        )
        frame = store.training_frame(shop.shop_model, rows)
        fitted = fit(shop.shop_model, frame)
        clf = LogisticRegression().fit(fitted.vectors(frame), [1, 0, 1, 0])
        store.materialize(shop.shop_model)
        example = rows[["customer_id", "amount", "channel"]]
        version = registry.save(Featured(fitted, clf, store=store), "shop", example=example)
    return Saved(shop, Path(str(shop.__file__)), registry, str(version))


def rewrite(saved: Saved, old: str, new: str) -> None:
    """Edit the feature module's file (and drop its bytecode, which could be stale)."""
    text = saved.file.read_text(encoding="utf-8")
    assert old in text
    saved.file.write_text(text.replace(old, new, 1), encoding="utf-8")
    shutil.rmtree(saved.file.parent / "__pycache__", ignore_errors=True)


def load_in_fresh_interpreter(saved: Saved, tmp_path: Path) -> dict[str, Any]:
    """Load the model in a new Python whose path does not hold the feature module."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ROOST_REGISTRY_URL")}
    env["ROOST_HOME"] = str(saved.registry.home)
    done = subprocess.run(
        [sys.executable, "-c", LOADER, saved.ref],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------ check_skew, in process


def test_check_skew_same_code_returns_the_service(shop: ModuleType) -> None:
    record = service_record(shop.shop_model, shop.__name__, shop.__file__)
    assert check_skew(record, model="shop:1") is shop.shop_model


def test_check_skew_changed_definition_hash_names_it(shop: ModuleType) -> None:
    record = service_record(shop.shop_model, shop.__name__, shop.__file__)
    record["definitions"][1]["hash"] = "sha256:" + "0" * 64
    with pytest.raises(FeatureSkewError, match=r"shop:1: .*with_fee@1 code changed \(000000000000"):
        check_skew(record, model="shop:1")


def test_check_skew_other_version_of_a_definition_names_both(shop: ModuleType) -> None:
    record = service_record(shop.shop_model, shop.__name__, shop.__file__)
    record["definitions"][0]["ref"] = "spend@2"
    with pytest.raises(FeatureSkewError, match="spend@2 is now spend@1"):
        check_skew(record, model="shop:1")


def test_check_skew_gone_definition_is_named(shop: ModuleType) -> None:
    record = service_record(shop.shop_model, shop.__name__, shop.__file__)
    record["definitions"].append({"ref": "old_feature@3", "kind": "transform", "hash": "x"})
    with pytest.raises(FeatureSkewError, match="old_feature@3 is gone"):
        check_skew(record, model="shop:1")


def test_check_skew_service_itself_changed(shop: ModuleType) -> None:
    """Same definitions, other encoders: the service's own hash differs."""
    record = service_record(shop.shop_model, shop.__name__, shop.__file__)
    record["hash"] = "sha256:" + "1" * 64
    with pytest.raises(FeatureSkewError, match=r"shop_model@1 itself changed"):
        check_skew(record, model="shop:1")


def test_check_skew_other_service_version_says_what_module_has(shop: ModuleType) -> None:
    record = service_record(shop.shop_model, shop.__name__, shop.__file__)
    record.update(version=3, ref="shop_model@3")
    with pytest.raises(FeatureSkewError, match=r"shop_model@3; module .* now has shop_model@1"):
        check_skew(record, model="shop:1")


def test_check_skew_service_no_longer_defined(shop: ModuleType) -> None:
    record = service_record(shop.shop_model, shop.__name__, shop.__file__)
    record.update(name="gone_service", ref="gone_service@1")
    with pytest.raises(FeatureSkewError, match=r"no longer defines \(it defines: shop_model\)"):
        check_skew(record, model="shop:1")


@pytest.mark.parametrize(
    ("module", "file", "message"),
    [
        ("__main__", None, "no importable module"),
        ("roost_no_such_module_xyz", None, "cannot import the feature module"),
        ("roost_no_such_module_xyz", "/nonexistent/roost_no_such_module_xyz.py", "not there"),
    ],
    ids=["main", "unimportable", "file-gone"],
)
def test_check_skew_unimportable_module_raises(
    shop: ModuleType, module: str, file: str | None, message: str
) -> None:
    record = copy.deepcopy(service_record(shop.shop_model, shop.__name__, shop.__file__))
    record.update(module=module, file=file)
    with pytest.raises(FeatureSkewError, match=message):
        check_skew(record, model="shop:1")


def test_registry_load_in_process_with_unchanged_code(saved: Saved) -> None:
    model = saved.registry.load(saved.ref)
    assert model.model_.features.service is saved.module.shop_model


# ------------------------------------------------------------------ a fresh interpreter


@pytest.mark.integration
def test_skew_guard_unchanged_file_loads_in_fresh_interpreter(saved: Saved, tmp_path: Path) -> None:
    result = load_in_fresh_interpreter(saved, tmp_path)
    assert result == {
        "loaded": True,
        "inputs": ["customer_id", "amount", "channel"],
        "answers": 4,
    }


@pytest.mark.integration
def test_skew_guard_changed_constant_is_refused(saved: Saved, tmp_path: Path) -> None:
    rewrite(saved, "FEE = 0.25", "FEE = 0.3")
    result = load_in_fresh_interpreter(saved, tmp_path)
    assert result["error"] == "FeatureSkewError"
    assert "model shop:1: feature code differs from training" in result["message"]
    assert "with_fee@1 code changed" in result["message"]
    assert "spend@1" not in result["message"]


@pytest.mark.integration
def test_skew_guard_changed_window_is_refused(saved: Saved, tmp_path: Path) -> None:
    rewrite(saved, "WINDOW = timedelta(hours=2)", "WINDOW = timedelta(hours=3)")
    result = load_in_fresh_interpreter(saved, tmp_path)
    assert result["error"] == "FeatureSkewError"
    assert "spend@1 code changed" in result["message"]
    assert "with_fee@1" not in result["message"]


@pytest.mark.integration
def test_skew_guard_deleted_module_file_is_refused(saved: Saved, tmp_path: Path) -> None:
    saved.file.unlink()
    shutil.rmtree(saved.file.parent / "__pycache__", ignore_errors=True)
    result = load_in_fresh_interpreter(saved, tmp_path)
    assert result["error"] == "FeatureSkewError"
    assert f"cannot import the feature module {saved.module.__name__!r}" in result["message"]


@pytest.mark.integration
def test_skew_guard_bumped_service_version_is_refused(saved: Saved, tmp_path: Path) -> None:
    rewrite(saved, '"shop_model", entity=customer', '"shop_model", version=2, entity=customer')
    result = load_in_fresh_interpreter(saved, tmp_path)
    assert result["error"] == "FeatureSkewError"
    assert "trained with feature service shop_model@1" in result["message"]
    assert f"module {saved.module.__name__!r} now has shop_model@2" in result["message"]
