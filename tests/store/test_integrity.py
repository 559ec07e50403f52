"""A registry never trusts its files: tampered packages, unsafe names and crafted archives.

Every tampered package must be refused with ``IntegrityError`` before anything is
unpickled; every unsafe name, ref or alias with ``InvalidReference``; every crafted
archive with ``IntegrityError``, and nothing may be written outside the registry.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from roost.errors import IntegrityError, InvalidReference
from roost.store import Registry
from roost.store._checksums import sha256_file, write_checksums

MODEL_PKL = "artifacts/model.pkl"


def spy_on_unpickling(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record every ``pickle.loads`` call (the flavors' only way to deserialise)."""
    calls: list[int] = []
    real_loads = pickle.loads

    def loads(data: bytes, /, **kwargs: Any) -> Any:
        calls.append(len(data))
        return real_loads(data, **kwargs)

    monkeypatch.setattr(pickle, "loads", loads)
    return calls


# ------------------------------------------------------------------------- tampering


def flip_one_byte(package: Path) -> None:
    path = package / MODEL_PKL
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(package: Path) -> None:
    path = package / MODEL_PKL
    path.write_bytes(path.read_bytes()[:-16])


def delete_artifact(package: Path) -> None:
    (package / MODEL_PKL).unlink()


def delete_example(package: Path) -> None:
    (package / "examples" / "input_example.json").unlink()


def add_artifact(package: Path) -> None:
    (package / "artifacts" / "extra.pkl").write_bytes(pickle.dumps("surprise"))


def add_hidden_file(package: Path) -> None:
    (package / ".hidden").write_text("x", encoding="utf-8")


def edit_model_yaml(package: Path) -> None:
    path = package / "model.yaml"
    path.write_text(path.read_text("utf-8").replace("proba: true", "proba: false"), "utf-8")


def edit_checksums(package: Path) -> None:
    """Change the model and record its new hash, as a careful attacker would."""
    flip_one_byte(package)
    path = package / "CHECKSUMS.sha256"
    lines = [
        f"{sha256_file(package / MODEL_PKL)}  {MODEL_PKL}" if line.endswith(MODEL_PKL) else line
        for line in path.read_text("utf-8").splitlines()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def delete_checksums(package: Path) -> None:
    (package / "CHECKSUMS.sha256").unlink()


def replace_with_link(package: Path) -> None:
    """A link to an identical copy: the bytes match, the kind of file does not."""
    path = package / MODEL_PKL
    copy = package.parent / "model-copy.pkl"
    copy.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(copy)


TAMPERING: list[tuple[Callable[[Path], None], str]] = [
    (flip_one_byte, r"file artifacts/model\.pkl does not match its sha256"),
    (truncate, r"file artifacts/model\.pkl does not match its sha256 \(changed or truncated\)"),
    (delete_artifact, r"file artifacts/model\.pkl is missing"),
    (delete_example, r"file examples/input_example\.json is missing"),
    (add_artifact, r"unexpected file artifacts/extra\.pkl \(not in CHECKSUMS\.sha256\)"),
    (add_hidden_file, r"unexpected file \.hidden"),
    (edit_model_yaml, r"file model\.yaml does not match its sha256"),
    (edit_checksums, r"CHECKSUMS\.sha256 was changed \(expected sha256:\w+, got sha256:\w+\)"),
    (delete_checksums, r"CHECKSUMS\.sha256 is missing"),
    (replace_with_link, r"unexpected link artifacts/model\.pkl"),
]
TAMPERING_IDS = [tamper.__name__ for tamper, _ in TAMPERING]
# metadata() and export() share load()'s check: one of each kind of damage is enough there
SOME_TAMPERING = [TAMPERING[0], TAMPERING[4], TAMPERING[7]]
SOME_TAMPERING_IDS = [tamper.__name__ for tamper, _ in SOME_TAMPERING]


def test_load_untouched_package_unpickles_the_model(
    saved: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spy sees a normal load, so its silence below means something."""
    calls = spy_on_unpickling(monkeypatch)
    saved.load("iris:1")
    assert len(calls) == 1


@pytest.mark.parametrize(("tamper", "message"), TAMPERING, ids=TAMPERING_IDS)
def test_load_tampered_package_refused_before_unpickling(
    saved: Registry,
    monkeypatch: pytest.MonkeyPatch,
    tamper: Callable[[Path], None],
    message: str,
) -> None:
    tamper(saved.path("iris:1"))
    calls = spy_on_unpickling(monkeypatch)
    with pytest.raises(IntegrityError, match=message):
        saved.load("iris:1")
    assert calls == []


@pytest.mark.parametrize(("tamper", "message"), SOME_TAMPERING, ids=SOME_TAMPERING_IDS)
def test_metadata_of_tampered_package_refused(
    saved: Registry, tamper: Callable[[Path], None], message: str
) -> None:
    tamper(saved.path("iris:1"))
    with pytest.raises(IntegrityError, match=message):
        saved.metadata("iris:1")


@pytest.mark.parametrize(("tamper", "message"), SOME_TAMPERING, ids=SOME_TAMPERING_IDS)
def test_export_of_tampered_package_refused(
    saved: Registry, tmp_path: Path, tamper: Callable[[Path], None], message: str
) -> None:
    tamper(saved.path("iris:1"))
    with pytest.raises(IntegrityError, match=message):
        saved.export("iris:1", tmp_path)
    assert list(tmp_path.glob("*.tar.gz*")) == []


def test_tampered_message_names_the_package(saved: Registry) -> None:
    package = saved.path("iris:1")
    flip_one_byte(package)
    with pytest.raises(IntegrityError) as caught:
        saved.load("iris:1")
    assert str(caught.value) == (
        f"package {package}: file artifacts/model.pkl does not match its sha256 "
        "(changed or truncated)"
    )


class Tripwire:
    """A pyfunc model whose unpickling touches a file: a real side effect, no spy needed."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def predict(self, batch: Any) -> list[int]:
        return [0] * len(batch)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_tripwire, (self.marker,))


def _rebuild_tripwire(marker: str) -> Tripwire:
    Path(marker).touch()
    return Tripwire(marker)


def test_load_tampered_pyfunc_never_runs_its_unpickling(
    registry: Registry, iris: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    version = registry.save(Tripwire(str(marker)), "tripwire", example=iris.example)
    registry.load("tripwire:1")
    assert marker.exists()  # the side effect is real
    marker.unlink()
    add_hidden_file(registry.path(str(version)))
    with pytest.raises(IntegrityError, match=r"unexpected file \.hidden"):
        registry.load("tripwire:1")
    assert not marker.exists()


# ------------------------------------------------------------ unsafe names and refs

UNSAFE = ["../x", "a/b", "..", ".hidden", "x\\y", "/tmp/x", "", "n" * 129, "iris\n"]
UNSAFE_IDS = [
    "parent",
    "slash",
    "dot-dot",
    "hidden",
    "backslash",
    "absolute",
    "empty",
    "too-long",
    "newline",
]
# a ref is stripped of surrounding space (it often comes from a command line), so no newline
UNSAFE_REFS = [
    *UNSAFE[:-1],
    "iris:0",
    "iris:-1",
    "iris:abc",
    "iris@123",
    "iris@latest",
    "iris@../x",
]
UNSAFE_REF_IDS = [
    *UNSAFE_IDS[:-1],
    "version-0",
    "version-negative",
    "version-word",
    "numeric-alias",
    "alias-latest",
    "alias-parent",
]


def outside_files(tmp_path: Path, registry: Registry) -> list[Path]:
    return sorted(p for p in tmp_path.rglob("*") if not p.is_relative_to(registry.home))


@pytest.mark.parametrize("name", UNSAFE, ids=UNSAFE_IDS)
def test_save_unsafe_name_refused(registry: Registry, iris: Any, tmp_path: Path, name: str) -> None:
    before = outside_files(tmp_path, registry)
    with pytest.raises(InvalidReference, match="model name: expected"):
        registry.save(iris.model, name, example=iris.example)
    assert outside_files(tmp_path, registry) == before
    assert list((registry.home / "staging").glob("*")) == []


@pytest.mark.parametrize("ref", UNSAFE_REFS, ids=UNSAFE_REF_IDS)
def test_resolve_unsafe_ref_refused(registry: Registry, ref: str) -> None:
    with pytest.raises(InvalidReference):
        registry.resolve(ref)


@pytest.mark.parametrize("ref", UNSAFE_REFS, ids=UNSAFE_REF_IDS)
def test_delete_unsafe_ref_refused(registry: Registry, ref: str) -> None:
    with pytest.raises(InvalidReference):
        registry.delete(ref)


@pytest.mark.parametrize("name", UNSAFE, ids=UNSAFE_IDS)
def test_summary_unsafe_name_refused(registry: Registry, name: str) -> None:
    with pytest.raises(InvalidReference, match="model name: expected"):
        registry.summary(name)


@pytest.mark.parametrize("alias", [*UNSAFE, "123", "latest"], ids=[*UNSAFE_IDS, "number", "latest"])
def test_set_alias_unsafe_alias_refused(registry: Registry, alias: str) -> None:
    """Refused before any lookup: an empty registry gives InvalidReference, not ModelNotFound."""
    with pytest.raises(InvalidReference, match="alias: expected"):
        registry.set_alias("iris", alias, 1)


@pytest.mark.parametrize("alias", UNSAFE, ids=UNSAFE_IDS)
def test_remove_alias_unsafe_alias_refused(registry: Registry, alias: str) -> None:
    with pytest.raises(InvalidReference, match="alias: expected"):
        registry.remove_alias("iris", alias)


@pytest.mark.parametrize(
    "version", [0, -1, "abc", "../1", 2**31, True], ids=["0", "-1", "word", "path", "big", "bool"]
)
def test_set_alias_unsafe_version_refused(registry: Registry, version: Any) -> None:
    with pytest.raises(InvalidReference, match="version: expected"):
        registry.set_alias("iris", "production", version)


# -------------------------------------------------------------------- crafted archives


def package_members(registry: Registry, tmp_path: Path) -> list[tuple[str, bytes]]:
    """The (name, bytes) of every file in a real export of ``iris:1``."""
    archive = registry.export("iris:1", tmp_path / "real.roost.tar.gz")
    with tarfile.open(archive) as tar:
        return [
            (m.name, tar.extractfile(m).read())  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        ]


def write_tar(path: Path, files: list[tuple[str, bytes]], *extra: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return path


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def a_file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info


CRAFTED: list[tuple[str, Callable[[Path], list[tarfile.TarInfo]], str]] = [
    # staging is home/staging/<id>/, so three levels up is tmp_path, outside the registry
    ("parent-path", lambda out: [a_file("../../../evil")], r"unsafe path '\.\./\.\./\.\./evil'"),
    (
        "parent-inside-top",
        lambda out: [a_file("iris-1/../../../../evil")],
        r"unsafe path 'iris-1/\.\./",
    ),
    ("absolute-path", lambda out: [a_file(str(out / "evil"))], r"unsafe path '/"),
    (
        "symlink",
        lambda out: [special("iris-1/evil", tarfile.SYMTYPE, str(out / "evil"))],
        r"'iris-1/evil' is not a plain file \(links are refused\)",
    ),
    (
        "hardlink",
        lambda out: [special("iris-1/evil", tarfile.LNKTYPE, "/etc/passwd")],
        r"'iris-1/evil' is not a plain file",
    ),
    (
        "fifo",
        lambda out: [special("iris-1/evil", tarfile.FIFOTYPE)],
        r"'iris-1/evil' is not a plain file",
    ),
    ("two-top-folders", lambda out: [a_file("evil/x")], r"expected one package folder, found 2"),
]


@pytest.mark.parametrize(
    ("entries", "message"), [c[1:] for c in CRAFTED], ids=[c[0] for c in CRAFTED]
)
def test_import_crafted_archive_refused_writing_nothing_outside(
    saved: Registry,
    registry: Registry,
    tmp_path: Path,
    entries: Callable[[Path], list[tarfile.TarInfo]],
    message: str,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = write_tar(
        tmp_path / "crafted.tar.gz", package_members(saved, tmp_path), *entries(outside)
    )
    target = registry
    before = outside_files(tmp_path, target)
    with pytest.raises(IntegrityError, match=message):
        target.import_(archive)
    assert outside_files(tmp_path, target) == before
    assert not (tmp_path / "evil").exists()
    assert (target.list(), list((target.home / "staging").glob("*"))) == ([], [])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"unreadable or truncated"),
        (b"not an archive at all" * 10, r"unreadable or truncated"),
    ],
    ids=["empty-file", "not-an-archive"],
)
def test_import_non_archive_refused(
    registry: Registry, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bogus.tar.gz"
    path.write_bytes(content)
    with pytest.raises(IntegrityError, match=message):
        registry.import_(path)


def test_import_archive_without_files_refused(registry: Registry, tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "empty.tar.gz", [])
    with pytest.raises(IntegrityError, match=r"expected one package folder, found 0"):
        registry.import_(archive)


def test_import_missing_archive_refused(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(IntegrityError, match=r"not found"):
        registry.import_(tmp_path / "nowhere.tar.gz")


def test_import_archive_with_tampered_file_refused(
    saved: Registry, registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [
        (name, data[:-1] + bytes([data[-1] ^ 1]) if name.endswith(MODEL_PKL) else data)
        for name, data in package_members(saved, tmp_path)
    ]
    archive = write_tar(tmp_path / "tampered.tar.gz", files)
    calls = spy_on_unpickling(monkeypatch)
    with pytest.raises(IntegrityError, match=r"file artifacts/model\.pkl does not match"):
        registry.import_(archive)
    assert (calls, registry.list()) == ([], [])


def test_import_archive_with_undecodable_checksums_refused(
    saved: Registry, registry: Registry, tmp_path: Path
) -> None:
    files = [
        (name, b"\xff\xfe" + data if name.endswith("CHECKSUMS.sha256") else data)
        for name, data in package_members(saved, tmp_path)
    ]
    with pytest.raises(IntegrityError, match=r"CHECKSUMS\.sha256 is not valid UTF-8"):
        registry.import_(write_tar(tmp_path / "garbled.tar.gz", files))
    assert registry.list() == []


def consistent_package(
    tmp_path: Path, registry: Registry, edit: Callable[[dict[str, Any]], None]
) -> Path:
    """An archive whose model.yaml was edited and whose checksums were then rewritten."""
    package = tmp_path / "crafted" / "iris-1"
    package.parent.mkdir()
    for name, data in package_members(registry, tmp_path):
        path = package.parent / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    metadata = yaml.safe_load((package / "model.yaml").read_text("utf-8"))
    edit(metadata)
    (package / "model.yaml").write_text(yaml.safe_dump(metadata), encoding="utf-8")
    (package / "CHECKSUMS.sha256").unlink()
    write_checksums(package)
    files = [
        (p.relative_to(package.parent).as_posix(), p.read_bytes())
        for p in sorted(package.rglob("*"))
        if p.is_file()
    ]
    return write_tar(tmp_path / "consistent.tar.gz", files)


def test_import_consistent_archive_with_unsafe_name_refused(
    saved: Registry, registry: Registry, tmp_path: Path
) -> None:
    archive = consistent_package(tmp_path, saved, lambda m: m.update(name="../../evil"))
    with pytest.raises(InvalidReference, match=r"got '\.\./\.\./evil'"):
        registry.import_(archive)
    assert not (tmp_path / "evil").exists()
    assert list((registry.home / "models").glob("*")) == []


def test_import_consistent_archive_without_flavor_refused_claiming_nothing(
    saved: Registry, registry: Registry, tmp_path: Path
) -> None:
    archive = consistent_package(tmp_path, saved, lambda m: m.pop("flavor"))
    with pytest.raises(IntegrityError, match=r"model\.yaml names no flavor"):
        registry.import_(archive)
    assert registry.index.status("iris", 1) is None
    assert list((registry.home / "models").glob("*")) == []
