"""Fraud scoring with the feature store, end to end: events → training frame → model → serving.

1. generate card payments (``generate_payments``: a few thousand cards over 90 days, with
   fraud that is larger than the card's usual payment, often at night, at a few
   merchants, and in bursts), and ingest them into the offline store;
2. apply ``fraud_features`` (examples/fraud_features.py) to the catalog;
3. build a point-in-time training frame: each labelled payment gets the card's history
   as it was just before the payment, never after;
4. fit the encoders on that frame, train a gradient-boosting classifier on the vectors,
   and register ``Featured(fitted, classifier)`` as ``fraud``;
5. materialize the views to the online store, so ``roost serve fraud`` answers raw
   requests: ``{"card_id": 7, "amount": 120.0, "currency": "USD", "hour": 3,
   "merchant": "electronics"}``.

Run it with ``ROOST_HOME=/tmp/roost-fraud .venv/bin/python examples/fraud_model.py``
(``--cards`` for a smaller run); then ``roost features check fraud_features`` and
``roost serve fraud``. docs/features.md walks through it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fraud_features, beside this file

import roost
from fraud_features import FX_TO_EUR, fraud_features, payments
from roost.config import Settings
from roost.features import Featured, FeatureStore, fit

MERCHANTS = ("grocery", "fuel", "restaurant", "travel", "electronics", "gift_cards", "online")
#: where fraudsters shop (fraud picks these far more often than cardholders do)
RISKY = ("electronics", "gift_cards", "online")
DAYS = 90


def history_start() -> pd.Timestamp:
    """90 days before the current hour: the history ends now, so served cards have one."""
    return pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(days=DAYS)


def generate_payments(cards: int, start: pd.Timestamp, seed: int = 7) -> pd.DataFrame:
    """Synthetic card payments from ``start`` on, with an ``is_fraud`` label, by time."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for card_id in range(1, cards + 1):
        usual = float(rng.lognormal(3.2, 0.6))  # the card's typical payment, in euros
        currency = str(rng.choice(list(FX_TO_EUR), p=[0.7, 0.15, 0.1, 0.05]))
        n = int(rng.poisson(35))
        times = np.sort(rng.uniform(0, DAYS * 86_400, n))
        for t in times:
            rows.append(_payment(rng, card_id, start, t, usual, currency, fraud=False))
        if rng.random() < 0.25:  # a compromised card: a burst of fraud within hours
            t0 = float(rng.uniform(30 * 86_400, DAYS * 86_400 - 86_400))
            for offset in np.sort(rng.uniform(0, 6 * 3600, int(rng.integers(1, 5)))):
                rows.append(_payment(rng, card_id, start, t0 + offset, usual, currency, fraud=True))
    frame = pd.DataFrame(rows).sort_values("ts", kind="stable").reset_index(drop=True)
    return frame


def _payment(
    rng: np.random.Generator,
    card_id: int,
    start: pd.Timestamp,
    t: float,
    usual: float,
    currency: str,
    *,
    fraud: bool,
) -> dict[str, Any]:
    if fraud:
        amount_eur = usual * float(rng.uniform(1.2, 8))
        hour = int(rng.integers(0, 6)) if rng.random() < 0.4 else int(rng.choice(24, p=_DAY_HOURS))
        merchant = str(rng.choice(RISKY)) if rng.random() < 0.5 else str(rng.choice(MERCHANTS))
    else:
        amount_eur = usual * float(rng.lognormal(0, 0.7))
        hour = int(rng.choice(24, p=_DAY_HOURS))
        merchant = str(rng.choice(MERCHANTS, p=_USUAL_MERCHANTS))
    amount = round(amount_eur / FX_TO_EUR[currency], 2)
    return {
        "card_id": card_id,
        "ts": start + pd.Timedelta(seconds=float(t)),
        "amount": amount,
        "currency": currency,
        "amount_eur": amount * FX_TO_EUR[currency],
        "hour": hour,
        "merchant": merchant,
        "is_fraud": int(fraud),
    }


_DAY_HOURS = np.array([1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 10, 9, 9, 9, 9, 9, 8, 7, 6, 4, 3, 2.0])
_DAY_HOURS = _DAY_HOURS / _DAY_HOURS.sum()
_USUAL_MERCHANTS = np.array([0.3, 0.15, 0.2, 0.05, 0.1, 0.05, 0.15])


def training_rows(history: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    """The labelled requests: payments after the first 30 days, each decided 1 ms before
    it was recorded (so its own event is not yet in the card's history, as in serving)."""
    later = history[history["ts"] >= start + pd.Timedelta(days=30)].copy()
    later["decided_at"] = later["ts"] - pd.Timedelta(milliseconds=1)
    columns = ["card_id", "decided_at", "amount", "currency", "hour", "merchant", "is_fraud"]
    return later[columns].reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000, help="how many cards (default 2000)")
    args = parser.parse_args(argv)

    settings = Settings.from_env(os.environ)
    start = history_start()
    history = generate_payments(args.cards, start)
    with FeatureStore.from_settings(settings) as store:
        store.apply(fraud_features)
        # the history is generated afresh on each run: it replaces the last run's
        store.ingest(payments, history.drop(columns=["is_fraud"]), replace=True)
        rows = training_rows(history, start)
        frame = store.training_frame(fraud_features, rows, timestamp="decided_at")
        cut = frame["decided_at"] < start + pd.Timedelta(days=75)
        train, test = frame[cut], frame[~cut]
        fitted = fit(fraud_features, train)
        classifier = HistGradientBoostingClassifier(random_state=0)
        classifier.fit(fitted.vectors(train), train["is_fraud"])
        scores = classifier.predict_proba(fitted.vectors(test))[:, 1]
        auc = roc_auc_score(test["is_fraud"], scores)

        store.materialize(fraud_features)
        raw_columns = [name for name, _ in fraud_features.raw_inputs]
        registry = roost.default_registry()
        version = registry.save(
            Featured(fitted, classifier, store=store),
            "fraud",
            example=test[raw_columns].head(5),
            card={
                "overview": "Scores card payments for fraud from the card's recent history.",
                "intended_use": "Flag payments for review; a person decides.",
                "training_data": "Synthetic payments generated by examples/fraud_model.py.",
            },
        )
    print(f"{len(history):,} payments, {int(history['is_fraud'].sum()):,} fraudulent")
    print(f"training frame: {len(train):,} rows; test: {len(test):,} rows, ROC AUC {auc:.3f}")
    print(f"registered {version}; materialized {fraud_features.ref} to the online store")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
