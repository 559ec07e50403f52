"""The feature catalog: ``name@version → hash``, and code changed without a bump refused."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from roost.errors import ConfigError, FeatureError, FeatureVersionError
from roost.features.aggregates import Aggregate, AggregateView
from roost.features.catalog import CatalogEntry, Definition, FeatureCatalog
from roost.features.entities import Entity, Events
from roost.features.transforms import Request, Transform, transform
from roost.types import JSONDict

T0 = 1_700_000_000_000_000  # UTC µs
TIMEOUT_S = 120

CARD = Entity("card", keys={"card_id": "int64"})
PAYMENTS = Events("payments", entity=CARD, columns={"amount": "float64"})
HOUR = Request("hour", "int64")


def _old_code() -> Callable[..., Any]:
    def double(x: float) -> float:
        return 2 * x

    return double


def _new_code() -> Callable[..., Any]:
    def double(x: float) -> float:  # same name, same result: other code
        return x + x

    return double


CODES = {"old": _old_code, "new": _new_code}


def double(code: str = "old", version: int = 1) -> Transform:
    """``double@version`` built from one of two functions that are both named ``double``."""
    declare = transform(version=version, inputs={"x": "float64"}, outputs={"double": "float64"})
    return declare(CODES[code]())


def spend(version: int = 1, days: int = 30) -> AggregateView:
    return AggregateView(
        "spend",
        version=version,
        events=PAYMENTS,
        window=timedelta(days=days),
        aggregates=(Aggregate("amount", "sum", name="spend"),),
        defaults={"spend": 0.0},
    )


def short(digest: str) -> str:
    return digest[: len("sha256:") + 8] + "…"


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[FeatureCatalog]:
    with FeatureCatalog(tmp_path / "catalog.sqlite3") as opened:
        yield opened


# ------------------------------------------------------------------ apply


def test_apply_new_definitions_records_them_and_returns_refs(catalog: FeatureCatalog) -> None:
    definitions: list[Definition] = [double(), HOUR, spend()]
    refs = catalog.apply(definitions, module="fraud.features", file="/src/f.py", now_us=T0)
    assert refs == ["double@1", "hour@1", "spend@1"]
    entries = {entry.ref: entry for entry in catalog.entries()}
    assert set(entries) == set(refs)
    for definition in definitions:
        entry = entries[definition.ref]
        assert (entry.kind, entry.source_hash) == (definition.kind, definition.source_hash)
        assert entry.spec == json.loads(json.dumps(definition.to_spec()))
        assert entry.source == definition.source
        assert (entry.module, entry.file, entry.applied_at_us) == (
            "fraud.features",
            "/src/f.py",
            T0,
        )
    assert "return 2 * x" in entries["double@1"].source


def test_apply_same_definitions_again_records_nothing_and_keeps_first_time(
    catalog: FeatureCatalog,
) -> None:
    catalog.apply([double(), spend()], now_us=T0)
    assert catalog.apply([double(), spend()], now_us=T0 + 5) == []
    assert [entry.applied_at_us for entry in catalog.entries()] == [T0, T0]


def test_apply_unchanged_definition_updates_module_and_file_only_when_given(
    catalog: FeatureCatalog,
) -> None:
    catalog.apply([double()], module="old.place", file="/old.py", now_us=T0)
    catalog.apply([double()], module="new.place", now_us=T0 + 1)
    entry = catalog.get("double")
    assert (entry.module, entry.file) == ("new.place", "/old.py")
    catalog.apply([double()], file="/new.py", now_us=T0 + 2)
    entry = catalog.get("double")
    assert (entry.module, entry.file, entry.applied_at_us) == ("new.place", "/new.py", T0)


def test_apply_changed_code_same_version_raises_naming_hashes_and_next_version(
    catalog: FeatureCatalog,
) -> None:
    old, new = double("old"), double("new")
    assert old.source_hash != new.source_hash
    catalog.apply([old], now_us=T0)
    with pytest.raises(FeatureVersionError) as caught:
        catalog.apply([new], now_us=T0 + 1)
    assert str(caught.value) == (
        f"feature 'double@1' changed since it was applied ({short(old.source_hash)} → "
        f"{short(new.source_hash)}); give the new code version 2"
    )
    assert catalog.get("double").source_hash == old.source_hash


def test_apply_changed_code_suggests_the_version_after_the_highest_known(
    catalog: FeatureCatalog,
) -> None:
    catalog.apply([double("old", 1), double("old", 2), double("old", 3)], now_us=T0)
    with pytest.raises(FeatureVersionError, match=r"give the new code version 4$"):
        catalog.apply([double("new", 1)], now_us=T0 + 1)


def test_apply_changed_code_with_a_new_version_records_it(catalog: FeatureCatalog) -> None:
    catalog.apply([double("old", 1)], now_us=T0)
    assert catalog.apply([double("new", 2)], now_us=T0 + 1) == ["double@2"]
    assert catalog.get("double").source_hash == double("new", 2).source_hash
    assert catalog.get("double", 1).source_hash == double("old", 1).source_hash


def test_apply_changed_aggregate_view_without_bump_raises(catalog: FeatureCatalog) -> None:
    catalog.apply([spend(days=30)], now_us=T0)
    with pytest.raises(FeatureVersionError, match=r"feature 'spend@1' changed .* version 2"):
        catalog.apply([spend(days=7)], now_us=T0 + 1)


def test_apply_one_conflict_records_nothing_from_the_batch(catalog: FeatureCatalog) -> None:
    catalog.apply([double("old")], now_us=T0)
    with pytest.raises(FeatureVersionError):
        catalog.apply([HOUR, spend(), double("new")], now_us=T0 + 1)
    assert [entry.ref for entry in catalog.entries()] == ["double@1"]


def test_apply_name_recorded_with_another_kind_raises_naming_both(
    catalog: FeatureCatalog,
) -> None:
    catalog.apply([double()], now_us=T0)
    with pytest.raises(FeatureVersionError) as caught:
        catalog.apply([Request("double", "float64", version=2)], now_us=T0 + 1)
    message = str(caught.value)
    assert "feature 'double' is a transform in the catalog (double@1)" in message
    assert "got a request (double@2)" in message


def test_apply_batch_repeating_a_definition_records_it_once(catalog: FeatureCatalog) -> None:
    assert catalog.apply([double(), double(), HOUR], now_us=T0) == ["double@1", "hour@1"]
    assert len(catalog.entries()) == 2


def test_apply_batch_with_two_codes_for_one_ref_raises(catalog: FeatureCatalog) -> None:
    with pytest.raises(FeatureVersionError, match="'double@1' is given twice with different"):
        catalog.apply([double("old"), double("new")], now_us=T0)
    assert catalog.entries() == []


def test_apply_batch_with_two_kinds_for_one_name_raises(catalog: FeatureCatalog) -> None:
    with pytest.raises(FeatureVersionError, match=r"both as a transform .* and as a request"):
        catalog.apply([double(), Request("double", "float64", version=2)], now_us=T0)


@dataclass(frozen=True, slots=True)
class Service:
    """A definition the catalog has never heard of: it only needs the attributes."""

    name: str
    version: int
    source_hash: str
    kind = "service"

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def source(self) -> str:
        return f"Service({self.name!r})"

    def to_spec(self) -> JSONDict:
        return {"kind": self.kind, "name": self.name, "features": ["double@1"]}


def test_apply_any_object_with_the_attributes_is_a_definition(catalog: FeatureCatalog) -> None:
    assert catalog.apply([Service("fraud", 1, "md5:0123456789abcdef")], now_us=T0) == ["fraud@1"]
    entry = catalog.get("fraud")
    assert (entry.kind, entry.spec["features"]) == ("service", ["double@1"])
    with pytest.raises(FeatureVersionError, match=r"\(md5:01234567… → md5:ffffffff…\)"):
        catalog.apply([Service("fraud", 1, "md5:ffffffffffffffff")], now_us=T0)


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (object(), "expected a feature definition"),
        ("double", "expected a feature definition"),
        (Service("fraud", 0, "sha256:00"), "version must be an int >= 1, got 0"),
        (Service("fraud", 1, ""), "source_hash must be non-empty text, got ''"),
    ],
    ids=["object", "string", "version-0", "empty-hash"],
)
def test_apply_not_a_definition_raises_config_error(
    catalog: FeatureCatalog, definition: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        catalog.apply([definition], now_us=T0)
    assert catalog.entries() == []


@pytest.mark.parametrize("now_us", [1.5, True, None], ids=["float", "bool", "none"])
def test_apply_now_us_not_an_int_raises_config_error(catalog: FeatureCatalog, now_us: Any) -> None:
    with pytest.raises(ConfigError, match="now_us must be an int"):
        catalog.apply([double()], now_us=now_us)


# ------------------------------------------------------------------ reading


def test_get_without_version_returns_the_latest(catalog: FeatureCatalog) -> None:
    catalog.apply([spend(version=2, days=7), spend(version=10, days=3), spend()], now_us=T0)
    assert catalog.get("spend").ref == "spend@10"
    assert catalog.get("spend", 2).spec["window_s"] == timedelta(days=7).total_seconds()


def test_get_unknown_name_raises_naming_the_known_names(catalog: FeatureCatalog) -> None:
    catalog.apply([spend(), double(), HOUR, double("new", 2)], now_us=T0)
    with pytest.raises(FeatureError) as caught:
        catalog.get("nope")
    assert str(caught.value) == "no feature 'nope' in the catalog (known: double, hour, spend)"


def test_get_unknown_version_raises_naming_the_known_versions(catalog: FeatureCatalog) -> None:
    catalog.apply([double("old", 1), double("old", 3)], now_us=T0)
    with pytest.raises(FeatureError) as caught:
        catalog.get("double", 2)
    assert str(caught.value) == "no feature 'double@2' in the catalog (known versions: 1, 3)"


def test_get_on_an_empty_catalog_says_it_is_empty(catalog: FeatureCatalog) -> None:
    with pytest.raises(
        FeatureError, match=r"^no feature 'x' in the catalog \(the catalog is empty"
    ):
        catalog.get("x")


def test_entries_are_sorted_by_name_then_version(catalog: FeatureCatalog) -> None:
    catalog.apply([spend(), HOUR, double("old", 10), double("old", 9)], now_us=T0)
    assert [entry.ref for entry in catalog.entries()] == [
        "double@9",
        "double@10",
        "hour@1",
        "spend@1",
    ]


def test_catalog_entry_ref_and_validation() -> None:
    entry = CatalogEntry("x", 2, "request", "sha256:00", {}, "", None, None, T0)
    assert entry.ref == "x@2"
    with pytest.raises(ConfigError, match="feature 'x': version must be an int >= 1, got True"):
        CatalogEntry("x", True, "request", "sha256:00", {}, "", None, None, T0)


# ------------------------------------------------------------------ the file


def test_catalog_init_touches_nothing_and_first_use_creates_folder_and_wal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "home" / "features" / "catalog.sqlite3"
    catalog = FeatureCatalog(path)
    assert not path.parent.exists()
    assert catalog.entries() == []
    catalog.close()
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_catalog_reopened_keeps_its_entries(tmp_path: Path) -> None:
    with FeatureCatalog(tmp_path / "c.sqlite3") as first:
        first.apply([double(), spend()], now_us=T0)
    with FeatureCatalog(tmp_path / "c.sqlite3") as second:
        assert [entry.ref for entry in second.entries()] == ["double@1", "spend@1"]
        with pytest.raises(FeatureVersionError):
            second.apply([double("new")], now_us=T0)


def test_two_catalogs_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    with (
        FeatureCatalog(tmp_path / "c.sqlite3") as one,
        FeatureCatalog(tmp_path / "c.sqlite3") as two,
    ):
        assert one.entries() == two.entries() == []
        one.apply([double("old")], now_us=T0)
        assert two.get("double").source_hash == double("old").source_hash
        with pytest.raises(FeatureVersionError):
            two.apply([double("new")], now_us=T0)
        assert two.apply([double("old")], now_us=T0) == []


def test_catalog_used_after_close_raises_feature_error(tmp_path: Path) -> None:
    catalog = FeatureCatalog(tmp_path / "c.sqlite3")
    catalog.apply([HOUR], now_us=T0)
    catalog.close()
    catalog.close()  # idempotent
    with pytest.raises(FeatureError, match=r"feature catalog .*c\.sqlite3 is closed"):
        catalog.entries()


def test_catalog_on_a_file_that_is_not_a_database_raises_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    path.write_bytes(b"not a database, just some text " * 100)
    with FeatureCatalog(path) as catalog, pytest.raises(FeatureError) as caught:
        catalog.apply([HOUR], now_us=T0)
    assert str(caught.value).startswith(f"feature catalog {path}: ")
    assert "not a database" in str(caught.value)


def test_catalog_threads_applying_at_once_record_each_definition_once(
    catalog: FeatureCatalog,
) -> None:
    start = threading.Barrier(8)

    def apply(_: int) -> list[str]:
        start.wait(timeout=TIMEOUT_S)
        return catalog.apply([double(), HOUR, spend()], now_us=T0)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(apply, range(8)))
    assert sorted(results) == [[]] * 7 + [["double@1", "hour@1", "spend@1"]]
    assert len(catalog.entries()) == 3


# ------------------------------------------------------------- processes

ROUNDS = 25


def apply_in_process(path: str, code: str, start: Any, results: Any) -> None:
    """Run in a spawned process: each round, apply ``double@r`` (old or new code) and ``spend@r``.

    Both processes meet at the barrier before every round, so their transactions overlap.
    """
    rounds: list[list[Definition]] = [[double(code, r), spend(r)] for r in range(1, ROUNDS + 1)]
    outcomes: list[dict[str, Any]] = []
    with FeatureCatalog(Path(path)) as catalog:
        for definitions in rounds:
            start.wait(timeout=TIMEOUT_S)
            try:
                refs = catalog.apply(definitions, module=f"proc_{code}", now_us=T0)
            except FeatureVersionError as exc:
                outcomes.append({"code": code, "refs": None, "error": str(exc)})
            except BaseException:
                start.abort()  # the other process stops waiting for this one
                raise
            else:
                outcomes.append({"code": code, "refs": refs, "error": None})
    results.put(outcomes)


def run_two_processes(path: Path, codes: tuple[str, str]) -> list[list[dict[str, Any]]]:
    """Each round's outcomes in both processes, which open one new catalog file at once."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results = context.Queue()
    processes = [
        context.Process(target=apply_in_process, args=(str(path), code, start, results))
        for code in codes
    ]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=TIMEOUT_S)
            assert process.exitcode == 0, f"{process.name} exited with {process.exitcode}"
        per_process = [results.get(timeout=TIMEOUT_S) for _ in processes]
        return [list(pair) for pair in zip(*per_process, strict=True)]
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
            process.close()
        results.close()
        results.join_thread()


@pytest.mark.integration
def test_catalog_two_processes_applying_the_same_definitions_both_succeed_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new" / "catalog.sqlite3"
    for r, outcomes in enumerate(run_two_processes(path, ("old", "old")), start=1):
        assert [o["error"] for o in outcomes] == [None, None]
        assert sorted(o["refs"] for o in outcomes) == [[], [f"double@{r}", f"spend@{r}"]]
    with FeatureCatalog(path) as catalog:
        entries = catalog.entries()
    assert len(entries) == 2 * ROUNDS
    assert {e.source_hash for e in entries} == {
        d.source_hash for r in range(1, ROUNDS + 1) for d in (double("old", r), spend(r))
    }


@pytest.mark.integration
def test_catalog_two_processes_applying_conflicting_code_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    rounds = run_two_processes(path, ("old", "new"))
    with FeatureCatalog(path) as catalog:
        for r, outcomes in enumerate(rounds, start=1):
            winners = [o for o in outcomes if o["error"] is None]
            losers = [o for o in outcomes if o["error"] is not None]
            assert len(winners) == len(losers) == 1, outcomes
            assert winners[0]["refs"] == [f"double@{r}", f"spend@{r}"]
            assert losers[0]["error"].startswith(f"feature 'double@{r}' changed since it was")
            assert losers[0]["error"].endswith(f"give the new code version {r + 1}")
            entry = catalog.get("double", r)
            assert entry.source_hash == double(winners[0]["code"], r).source_hash
            assert entry.module == f"proc_{winners[0]['code']}"
        assert len(catalog.entries()) == 2 * ROUNDS
