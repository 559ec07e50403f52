"""How long saving, loading and predicting take for the two example models.

Run from the repository root: ``.venv/bin/python bench/save_load_predict.py``.
Medians of repeated runs in one process, on a fresh temporary registry; results are
recorded in docs/benchmarks.md. Not a test: timings on shared machines are noisy.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import roost
from churn_model import train as train_churn
from iris_model import train as train_iris


def median_ms(action: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    registry = roost.Registry(Path(tempfile.mkdtemp()) / "roost-home")
    print("| model | save | load (verify + read) | 1 row (dict) | 1000 rows | package |")
    print("|---|---|---|---|---|---|")
    for name, train in (("iris", train_iris), ("churn", train_churn)):
        trained = train()
        x_test = trained.data["test"][0]
        save = partial(registry.save, trained.model, name, example=x_test[:5], data=trained.data)
        save_ms = median_ms(save, 5)
        version = registry.resolve(f"{name}:latest")
        load_ms = median_ms(partial(registry.load, version), 5)
        model = registry.load(version)
        one_ms = median_ms(partial(model.predict, x_test.iloc[0].to_dict()), 200)
        many_ms = median_ms(partial(model.predict, x_test[:1000]), 20)
        size_kib = sum(p.stat().st_size for p in registry.path(version).rglob("*")) / 1024
        print(
            f"| {name} | {save_ms:.0f} ms | {load_ms:.1f} ms | {one_ms:.2f} ms "
            f"| {many_ms:.1f} ms | {size_kib:.0f} KiB |"
        )


if __name__ == "__main__":
    main()
