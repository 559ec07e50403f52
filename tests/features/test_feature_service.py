"""Feature services: raw inputs and columns derived, bad lists refused, one row computed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from roost.errors import ConfigError, FeatureError
from roost.features.aggregates import Aggregate, AggregateView, ViewValue
from roost.features.encoders import QuantileBins, StandardScaler, Vocabulary
from roost.features.entities import Entity, Events
from roost.features.service import FeatureRow, FeatureService
from roost.features.transforms import Request, Transform, transform

T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z

CARD = Entity("card", keys={"card_id": "int64"})
CUSTOMER = Entity("customer", keys={"customer_id": "string"})
PAYMENTS = Events("payments", entity=CARD, columns={"amount": "float64"})
ORDERS = Events("orders", entity=CUSTOMER, columns={"total": "float64"})
FX_TO_EUR = {"EUR": 1.0, "USD": 0.5}


def spend_view(version: int = 1, name: str = "spend_30d") -> AggregateView:
    return AggregateView(
        name,
        version=version,
        events=PAYMENTS,
        window=timedelta(days=30),
        aggregates=(
            Aggregate("amount", "sum", name="spend"),
            Aggregate("amount", "count", name="n"),
        ),
        defaults={"spend": 0.0, "n": 0},
    )


SPEND = spend_view()
ORDERS_VIEW = AggregateView(
    "orders_7d",
    version=1,
    events=ORDERS,
    window=timedelta(days=7),
    aggregates=(Aggregate("total", "sum", name="ordered"),),
)
HOUR = Request("hour", "int64")


@transform(
    version=1, inputs={"amount": "float64", "currency": "string"}, outputs={"eur": "float64"}
)
def amount_eur(amount: float, currency: str) -> float:
    return amount * FX_TO_EUR[currency]


@transform(version=1, inputs={"eur": "float64", "spend": "float64"}, outputs={"share": "float64"})
def share(eur: float, spend: float) -> float:
    """Reads another transform's output and a view's output: neither is a request field."""
    return eur / (spend + eur)


@transform(
    version=1,
    inputs={"hour": "int64", "channel": "string"},
    outputs={"is_night": "bool", "is_web": "bool"},
)
def context(hour: int, channel: str) -> dict[str, bool]:
    return {"is_night": hour < 6, "is_web": channel == "web"}


def service(**changes: Any) -> FeatureService:
    settings: dict[str, Any] = {
        "entity": CARD,
        "features": [SPEND, amount_eur, share, HOUR, context],
    }
    settings.update(changes)
    return FeatureService("fraud_features", **settings)


def declare(name: str, inputs: dict[str, str], outputs: dict[str, str]) -> Transform:
    def identity(**values: Any) -> Any:
        return values

    return transform(version=1, inputs=inputs, outputs=outputs, name=name)(identity)


# ------------------------------------------------------------------ derived lists


def test_raw_inputs_entity_keys_first_then_request_fields_by_first_use() -> None:
    assert service().raw_inputs == (
        ("card_id", "int64"),
        ("amount", "float64"),
        ("currency", "string"),
        ("hour", "int64"),
        ("channel", "string"),
    )


def test_raw_inputs_leave_out_view_outputs_and_earlier_transform_outputs() -> None:
    names = [name for name, _ in service().raw_inputs]
    assert "spend" not in names
    assert "eur" not in names


def test_raw_inputs_field_read_before_the_transform_producing_it_is_a_request_field() -> None:
    reads_eur = declare("reads_eur", {"eur": "float64"}, {"eur_copy": "float64"})
    raw = service(features=[reads_eur, amount_eur]).raw_inputs
    assert raw == (
        ("card_id", "int64"),
        ("eur", "float64"),
        ("amount", "float64"),
        ("currency", "string"),
    )


def test_raw_inputs_entity_key_read_by_a_transform_is_listed_once() -> None:
    by_card = declare("by_card", {"card_id": "int64"}, {"card_parity": "int64"})
    assert service(features=[by_card]).raw_inputs == (("card_id", "int64"),)


def test_columns_follow_feature_order_with_dtypes() -> None:
    s = service()
    assert s.columns == [
        ("spend", "float64"),
        ("n", "int64"),
        ("eur", "float64"),
        ("share", "float64"),
        ("hour", "int64"),
        ("is_night", "bool"),
        ("is_web", "bool"),
    ]
    assert s.column_names == ["spend", "n", "eur", "share", "hour", "is_night", "is_web"]


def test_views_and_row_features_split_the_features_in_order() -> None:
    s = service()
    assert s.views == [SPEND]
    assert s.row_features == [amount_eur, share, HOUR, context]


def test_request_field_of_an_entity_key_is_a_column() -> None:
    s = service(features=[Request("card_id", "int64"), HOUR])
    assert s.column_names == ["card_id", "hour"]
    assert s.raw_inputs == (("card_id", "int64"), ("hour", "int64"))


def test_identity_spec_and_source() -> None:
    s = FeatureService(
        "fraud_features",
        version=3,
        entity=CARD,
        features=[SPEND, HOUR],
        encoders=[StandardScaler("spend")],
        description="what the fraud model reads",
    )
    assert s.ref == "fraud_features@3"
    assert s.kind == "service"
    assert repr(s) == "<FeatureService fraud_features@3: 2 features>"
    assert s.source == (
        "FeatureService('fraud_features', version=3, features=[spend_30d@1, hour@1], "
        "encoders=[standard_scaler(spend)])"
    )
    assert s.to_spec() == {
        "kind": "service",
        "name": "fraud_features",
        "version": 3,
        "entity": CARD.to_spec(),
        "features": [["spend_30d@1", SPEND.source_hash], ["hour@1", HOUR.source_hash]],
        "encoders": [{"kind": "standard_scaler", "column": "spend"}],
    }
    assert s.source_hash.startswith("sha256:")


# ------------------------------------------------------------------ refused lists


def test_duplicate_column_from_two_transforms_raises_config_error_naming_it() -> None:
    also_eur = declare("also_eur", {"amount": "float64"}, {"eur": "float64"})
    with pytest.raises(ConfigError) as caught:
        service(features=[amount_eur, also_eur])
    message = str(caught.value)
    assert "feature service 'fraud_features': column 'eur' of also_eur@1" in message
    assert "already an entity key or another feature's column" in message


def test_transform_output_named_like_a_view_output_raises_config_error() -> None:
    spend_again = declare("spend_again", {"amount": "float64"}, {"spend": "float64"})
    with pytest.raises(ConfigError, match="column 'spend' of spend_again@1 is already"):
        service(features=[SPEND, spend_again])


def test_transform_output_named_like_an_entity_key_raises_config_error() -> None:
    rekey = declare("rekey", {"amount": "float64"}, {"card_id": "int64"})
    with pytest.raises(ConfigError, match="column 'card_id' of rekey@1 is already an entity key"):
        service(features=[rekey])


def test_view_output_named_like_an_entity_key_raises_config_error() -> None:
    view = AggregateView(
        "ids",
        version=1,
        events=PAYMENTS,
        window=timedelta(days=1),
        aggregates=(Aggregate("amount", "count", name="card_id"),),
    )
    with pytest.raises(ConfigError, match="column 'card_id' of ids@1 is already"):
        service(features=[view])


@pytest.mark.parametrize(
    "features",
    [[amount_eur, Request("eur", "float64")], [SPEND, Request("spend", "float64")]],
    ids=["after-transform", "after-view"],
)
def test_request_field_named_like_another_features_column_raises_config_error(
    features: list[Any],
) -> None:
    with pytest.raises(ConfigError):
        service(features=features)


def test_request_field_before_a_transform_giving_its_column_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="column 'eur' of amount_eur@1 is already"):
        service(features=[Request("eur", "float64"), amount_eur])


def test_duplicate_feature_raises_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="feature service 'fraud_features': 'hour' listed twice"):
        service(features=[HOUR, Request("hour", "int64", version=2)])


def test_same_view_listed_twice_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="'spend_30d' listed twice"):
        service(features=[SPEND, spend_view(version=2)])


def test_view_of_another_entity_raises_config_error_naming_both() -> None:
    with pytest.raises(ConfigError) as caught:
        service(features=[SPEND, ORDERS_VIEW])
    assert str(caught.value) == (
        "feature service 'fraud_features': view orders_7d@1 is about entity 'customer', "
        "the service about 'card'"
    )


def test_view_of_an_equal_entity_with_another_description_is_accepted() -> None:
    described = Entity("card", keys={"card_id": "int64"}, description="a payment card")
    assert service(entity=described, features=[SPEND]).views == [SPEND]


def test_encoder_on_unknown_column_raises_config_error_listing_columns() -> None:
    with pytest.raises(ConfigError) as caught:
        service(features=[SPEND, HOUR], encoders=[Vocabulary("currency")])
    assert str(caught.value) == (
        "feature service 'fraud_features': encoder vocabulary names column 'currency', "
        "which no feature gives (columns: spend, n, hour)"
    )


def test_two_encoders_on_one_column_raise_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="column 'spend' has two encoders"):
        service(encoders=[StandardScaler("spend"), QuantileBins("spend")])


def test_input_read_with_two_dtypes_raises_config_error_naming_both() -> None:
    hour_as_float = declare("hour_float", {"hour": "float64"}, {"half_day": "float64"})
    with pytest.raises(ConfigError) as caught:
        service(features=[HOUR, hour_as_float])
    assert str(caught.value) == (
        "feature service 'fraud_features': request field 'hour' is read as int64 and as "
        "float64 (hour_float@1)"
    )


@pytest.mark.parametrize(
    "features",
    [
        [declare("card_text", {"card_id": "string"}, {"card_text": "string"})],
        [SPEND, declare("spend_int", {"spend": "int64"}, {"spend_int": "int64"})],
    ],
    ids=["entity-key", "view-output"],
)
def test_key_or_produced_column_read_with_another_dtype_raises_config_error(
    features: list[Any],
) -> None:
    with pytest.raises(ConfigError):
        service(features=features)


def test_no_features_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="expected at least one feature"):
        service(features=[])


def test_something_else_than_a_definition_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="expected aggregate views, transforms and request"):
        service(features=[HOUR, "spend"])


@pytest.mark.parametrize("version", [0, True, "2"])
def test_bad_version_raises_config_error(version: Any) -> None:
    with pytest.raises(ConfigError, match="'fraud_features': version must be a whole number"):
        service(version=version)


def test_bad_name_or_entity_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="feature service name"):
        FeatureService("fraud features", entity=CARD, features=[HOUR])
    with pytest.raises(ConfigError, match="entity must be an Entity"):
        service(entity="card")


# ------------------------------------------------------------------ compute


def present(spend: float, n: int) -> ViewValue:
    return ViewValue({"spend": spend, "n": n}, "present", T0)


RAW = {"card_id": 42, "amount": 30, "currency": "USD", "hour": 3.0, "channel": "web"}


def test_compute_merges_view_values_and_transform_outputs_in_column_order() -> None:
    row = service().compute(RAW, {"spend_30d": present(45.0, 3)})
    assert isinstance(row, FeatureRow)
    assert row.values == {
        "spend": 45.0,
        "n": 3,
        "eur": 15.0,
        "share": 0.25,
        "hour": 3,
        "is_night": True,
        "is_web": True,
    }
    assert list(row.values) == service().column_names
    assert type(row.values["hour"]) is int  # request fields are coerced
    assert row.origins == {}


def test_compute_view_status_applies_to_its_columns_others_are_present() -> None:
    defaulted = ViewValue({"spend": 0.0, "n": 0}, "defaulted", None)
    row = service().compute(RAW, {"spend_30d": defaulted})
    assert row.statuses == {
        "spend": "defaulted",
        "n": "defaulted",
        "eur": "present",
        "share": "present",
        "hour": "present",
        "is_night": "present",
        "is_web": "present",
    }
    assert row.values["share"] == 1.0


def test_compute_missing_view_value_passes_none_through() -> None:
    missing = ViewValue({"spend": None, "n": None}, "missing", None)
    row = service(features=[SPEND, HOUR]).compute(RAW, {"spend_30d": missing})
    assert row.values == {"spend": None, "n": None, "hour": 3}
    assert row.statuses == {"spend": "missing", "n": "missing", "hour": "present"}


def test_compute_ignores_extra_raw_fields_and_extra_views() -> None:
    row = service(features=[HOUR]).compute(
        {"card_id": 1, "hour": 23, "other": "x"}, {"spend_30d": present(1.0, 1)}
    )
    assert row.values == {"hour": 23}


def test_compute_missing_request_field_raises_feature_error_naming_it() -> None:
    raw = {k: v for k, v in RAW.items() if k != "channel"}
    with pytest.raises(FeatureError, match="transform context@1: input 'channel' is missing"):
        service().compute(raw, {"spend_30d": present(1.0, 1)})


def test_compute_failing_transform_raises_feature_error_naming_it() -> None:
    with pytest.raises(FeatureError, match="transform amount_eur@1 failed on"):
        service().compute({**RAW, "currency": "JPY"}, {"spend_30d": present(1.0, 1)})


def test_compute_transform_reading_view_output_sees_the_view_value_not_the_raw_one() -> None:
    row = service().compute({**RAW, "spend": 1000.0}, {"spend_30d": present(15.0, 1)})
    assert row.values["share"] == 0.5


# ------------------------------------------------------------------ source hash


def test_source_hash_same_definition_is_equal() -> None:
    assert service().source_hash == service().source_hash


def test_source_hash_ignores_the_description() -> None:
    assert service(description="x").source_hash == service().source_hash


@pytest.mark.parametrize(
    "changes",
    [
        {"version": 2},
        {"encoders": [StandardScaler("spend")]},
        {"features": [SPEND, share, amount_eur, HOUR, context]},
        {"features": [spend_view(version=2), amount_eur, share, HOUR, context]},
        {"features": [SPEND, amount_eur, share, Request("hour", "int64", version=2), context]},
    ],
    ids=["version", "encoder-added", "feature-order", "view-version", "request-version"],
)
def test_source_hash_changes_with_the_definition(changes: dict[str, Any]) -> None:
    assert service(**changes).source_hash != service().source_hash


def test_source_hash_changes_with_encoder_settings() -> None:
    a = service(encoders=[Vocabulary("is_web")])
    b = service(encoders=[Vocabulary("is_web", max_size=10)])
    c = service(encoders=[QuantileBins("spend", bins=4)])
    d = service(encoders=[QuantileBins("spend", bins=5)])
    assert a.source_hash != b.source_hash
    assert c.source_hash != d.source_hash


def test_source_hash_changes_with_a_transform_version() -> None:
    bumped = transform(
        version=2,
        inputs={"amount": "float64", "currency": "string"},
        outputs={"eur": "float64"},
    )(amount_eur.fn)
    changed = service(features=[SPEND, bumped, share, HOUR, context])
    assert changed.source_hash != service().source_hash
