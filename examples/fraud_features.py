"""The fraud example's feature code: written once, used by training and by the server.

A payment is judged by what it is (its amount in euros, the hour, the merchant) and by
the card's recent history (what it spent in the last 30 days and the last 24 hours).
``fraud_model.py`` trains on these features; ``roost serve fraud`` imports this module
again to compute them for each request, and refuses to serve if it changed since.
"""

from __future__ import annotations

from datetime import timedelta

from roost.features import (
    Aggregate,
    AggregateView,
    Entity,
    Events,
    FeatureService,
    Request,
    StandardScaler,
    Vocabulary,
    transform,
)

#: euros per unit of each currency (a versioned constant: part of amount_eur's hash)
FX_TO_EUR = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17, "CHF": 1.05}

card = Entity("card", keys={"card_id": "int64"}, description="a payment card")

payments = Events(
    "payments",
    entity=card,
    columns={
        "amount": "float64",
        "currency": "string",
        "amount_eur": "float64",
        "hour": "int64",
        "merchant": "string",
    },
    description="one card payment, recorded once processed",
)

spend_30d = AggregateView(
    "spend_30d",
    version=1,
    events=payments,
    window=timedelta(days=30),
    aggregates=[
        Aggregate("amount_eur", "sum", name="spend_30d"),
        Aggregate("amount_eur", "count", name="payments_30d"),
        Aggregate("amount_eur", "mean", name="avg_payment_30d"),
    ],
    defaults={"spend_30d": 0.0, "payments_30d": 0, "avg_payment_30d": 0.0},
    description="the card's spending over the last 30 days",
)

velocity_24h = AggregateView(
    "velocity_24h",
    version=1,
    events=payments,
    window=timedelta(hours=24),
    aggregates=[
        Aggregate("amount_eur", "count", name="payments_24h"),
        Aggregate("amount_eur", "max", name="max_payment_24h"),
    ],
    defaults={"payments_24h": 0, "max_payment_24h": 0.0},
    compute_on_miss=True,
    description="bursts: payments in the last 24 hours (computed on a miss)",
)


@transform(
    version=1, inputs={"amount": "float64", "currency": "string"}, outputs={"amount_eur": "float64"}
)
def amount_eur(amount, currency):
    """The payment's amount in euros."""
    return amount * FX_TO_EUR[currency]


@transform(
    version=1,
    inputs={"amount_eur": "float64", "avg_payment_30d": "float64"},
    outputs={"amount_vs_usual": "float64"},
)
def amount_vs_usual(amount_eur, avg_payment_30d):
    """How many times the card's usual payment this one is."""
    return amount_eur / (avg_payment_30d + 1.0)


@transform(version=1, inputs={"hour": "int64"}, outputs={"at_night": "int64"})
def at_night(hour):
    """1 between midnight and 6 a.m., when fraud is likelier."""
    return int(hour < 6)


fraud_features = FeatureService(
    "fraud_features",
    version=1,
    entity=card,
    features=[
        spend_30d,
        velocity_24h,
        amount_eur,
        amount_vs_usual,
        at_night,
        Request("merchant", "string"),
    ],
    encoders=[
        StandardScaler("amount_eur"),
        StandardScaler("spend_30d"),
        Vocabulary("merchant"),
    ],
    description="what the fraud model knows about a payment",
)
