"""What computing a request's features costs in the server: cache, SQLite, Redis, on a miss.

Run from the repository root: ``.venv/bin/python bench/features_online.py [--redis URL]``.
It generates the fraud example's payments (``examples/fraud_model.py``, 500 cards) into a
temporary feature store, materializes them, then times ``FeatureStore.online_features``
for one-row requests (what ``Featured.validate`` calls per request) in four set-ups,
side by side in one process:

- ``cache``: every entity's answer already in the in-process cache;
- ``sqlite``: the cache off, both views read from the SQLite online store (compute-on-miss
  switched off, so a card without a payment in 24 hours is not computed);
- ``redis``: the same, reading Redis (with ``--redis``);
- ``miss``: the cache off and the online store empty: ``velocity_24h`` is computed from
  the offline events on each request (compute-on-miss), ``spend_30d`` is missing.

Besides the store read, each request runs the transforms and builds the feature row.

Each set-up runs ``--rounds`` times over the same 2,000 requests, interleaved; the median
µs per request is printed. Results are recorded in docs/benchmarks.md. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

REQUESTS = 2_000


def build(home: Path, redis_url: str | None) -> dict[str, Any]:
    """The stores of each set-up, sharing one offline store's events."""
    import fraud_model
    from fraud_features import fraud_features, payments
    from roost.features import FeatureCache, FeatureStore

    start = fraud_model.history_start()
    history = fraud_model.generate_payments(500, start)
    no_cache = FeatureCache(max_entries=0)
    stores = {
        "cache": FeatureStore(home, cache=FeatureCache(max_entries=100_000, max_age_s=3600)),
        "sqlite": FeatureStore(home, cache=no_cache),
    }
    stores["cache"].ingest(payments, history.drop(columns=["is_fraud"]), replace=True)
    stores["cache"].materialize(fraud_features)
    if redis_url is not None:
        separator = "&" if "?" in redis_url else "?"
        url = f"{redis_url}{separator}prefix=roost-bench-{uuid.uuid4().hex[:8]}"
        stores["redis"] = FeatureStore(home, online_url=url, cache=no_cache)
        stores["redis"].materialize(fraud_features)
    empty = f"sqlite:///{home / 'empty-online.db'}"
    stores["miss"] = FeatureStore(home, online_url=empty, cache=no_cache)
    return stores


def requests_of(cards: int) -> list[dict[str, Any]]:
    return [
        {
            "card_id": 1 + i % cards,
            "amount": 42.0,
            "currency": "USD",
            "hour": i % 24,
            "merchant": "grocery",
        }
        for i in range(REQUESTS)
    ]


def reads_only(service: Any) -> Any:
    """The service with compute-on-miss switched off: every value comes from the store."""
    import dataclasses

    from roost.features import AggregateView, FeatureService

    features = [
        dataclasses.replace(f, compute_on_miss=False) if isinstance(f, AggregateView) else f
        for f in service.features
    ]
    return FeatureService(
        service.name, entity=service.entity, features=features, encoders=service.encoders
    )


def time_per_request(store: Any, service: Any, rows: list[dict[str, Any]], *, miss: bool) -> float:
    """µs per one-row request over ``rows`` (emptying the store between calls not counted)."""
    spent = 0.0
    for row in rows:
        started = time.perf_counter()
        store.online_features(service, [row])
        spent += time.perf_counter() - started
        if miss:  # keep the online store empty: every request computes on a miss again
            store.online.delete_expired(service.views[1], 2**62)
    return spent / len(rows) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis", metavar="URL", help="also time a Redis online store")
    args = parser.parse_args(argv)
    from fraud_features import fraud_features

    with tempfile.TemporaryDirectory() as folder:
        stores = build(Path(folder), args.redis)
        rows = requests_of(500)
        for store in stores.values():  # warm: connections opened, cache filled
            time_per_request(store, fraud_features, rows[:500], miss=False)
        stores["miss"].online.delete_expired(fraud_features.views[1], 2**62)
        services = {name: reads_only(fraud_features) for name in ("sqlite", "redis")}
        results: dict[str, list[float]] = {name: [] for name in stores}
        for _ in range(args.rounds):
            for name, store in stores.items():
                service = services.get(name, fraud_features)
                results[name].append(time_per_request(store, service, rows, miss=name == "miss"))
        for store in stores.values():
            if args.redis and store.online_url:
                store.online.delete_expired(fraud_features.views[0], 2**62)
                store.online.delete_expired(fraud_features.views[1], 2**62)
            store.close()
    print(f"µs per one-row request, median of {args.rounds} rounds of {REQUESTS:,}:")
    for name, values in results.items():
        print(
            f"  {name:<7} {statistics.median(values):8.1f}   (rounds: "
            f"{', '.join(f'{v:.0f}' for v in values)})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
