"""Moving a version between registries: export to one archive, import with every hash checked.

The source is ``saved`` (iris:1, and iris:2 saved with data); the target is ``registry``,
an empty registry in another home.
"""

from __future__ import annotations

import gzip
import tarfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from roost.errors import IntegrityError, VersionConflict
from roost.store import Registry
from roost.store._checksums import verify_package


def staged_leftovers(registry: Registry) -> list[Path]:
    return sorted((registry.home / "staging").glob("*"))


def test_export_to_a_folder_names_the_archive(saved: Registry, tmp_path: Path) -> None:
    archive = saved.export("iris:2", tmp_path)
    assert archive == tmp_path / "iris-2.roost.tar.gz"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert {name.split("/")[0] for name in names} == {"iris-2"}
    assert "iris-2/CHECKSUMS.sha256" in names
    assert not list(tmp_path.glob("*.partial"))


def test_export_to_a_file_path_given_as_text(saved: Registry, tmp_path: Path) -> None:
    archive = saved.export("iris", str(tmp_path / "out" / "x.tgz"))
    assert archive == tmp_path / "out" / "x.tgz"
    assert archive.is_file()


def test_import_registers_same_version_with_every_hash_verified(
    saved: Registry, registry: Registry, tmp_path: Path
) -> None:
    imported = registry.import_(saved.export("iris:2", tmp_path))
    original = saved.get("iris:2")
    assert (str(imported), imported.digest, imported.flavor) == (
        "iris:2",
        original.digest,
        original.flavor,
    )
    files = verify_package(registry.path("iris:2"), original.digest)
    assert files == verify_package(saved.path("iris:2"), original.digest)
    assert {"artifacts/model.pkl", "model.yaml", "eval/baseline.json"} <= set(files)
    assert registry.metadata("iris:2") == saved.metadata("iris:2")
    assert staged_leftovers(registry) == []


def test_imported_version_predicts_identically(
    saved: Registry, registry: Registry, tmp_path: Path, iris: Any
) -> None:
    registry.import_(saved.export("iris:2", tmp_path))
    expected = saved.load("iris:2").predict(iris.x_test)
    assert registry.load("iris:2").predict(iris.x_test) == expected


def test_import_keeps_the_number_and_later_saves_follow_it(
    saved: Registry, registry: Registry, tmp_path: Path, iris: Any
) -> None:
    registry.import_(saved.export("iris:2", tmp_path))
    assert str(registry.save(iris.model, "iris", example=iris.example)) == "iris:3"


def test_import_same_archive_again_is_a_no_op(
    saved: Registry, registry: Registry, tmp_path: Path
) -> None:
    archive = saved.export("iris:1", tmp_path)
    first = registry.import_(archive)
    assert registry.import_(str(archive)) == first
    assert [str(v) for v in registry.summary("iris").versions] == ["iris:1"]
    registered = [e for e in registry.index.events("iris") if e[1] == "register"]
    assert len(registered) == 1
    assert staged_leftovers(registry) == []


def test_import_different_package_under_same_version_refused(
    saved: Registry, registry: Registry, tmp_path: Path, iris: Any
) -> None:
    archive = saved.export("iris:1", tmp_path)
    other = registry.save(iris.model, "iris", example=iris.x_test[:3])
    with pytest.raises(VersionConflict) as caught:
        registry.import_(archive)
    assert str(caught.value) == (
        f"model 'iris' version 1 already exists with different contents "
        f"({other.digest}, archive has {saved.get('iris:1').digest})"
    )
    assert registry.get("iris:1") == other
    assert staged_leftovers(registry) == []


def test_import_into_a_deleted_number_refused(
    saved: Registry, registry: Registry, tmp_path: Path
) -> None:
    """Even the very package that was deleted: numbers are never handed out twice."""
    archive = saved.export("iris:1", tmp_path)
    registry.import_(archive)
    registry.delete("iris:1")
    with pytest.raises(
        VersionConflict,
        match=r"^model 'iris' version 1 was used before: it was deleted, "
        r"and version numbers are never reused$",
    ):
        registry.import_(archive)
    assert (registry.list(), staged_leftovers(registry)) == ([], [])


def test_import_into_a_pending_number_refused(
    saved: Registry, registry: Registry, tmp_path: Path
) -> None:
    """A registration in flight (or one that died) holds its number."""
    archive = saved.export("iris:1", tmp_path)
    registry.index.claim("iris", 1)
    with pytest.raises(VersionConflict, match=r"version 1 was used before: it is being registered"):
        registry.import_(archive)


def test_import_with_expected_digest_accepts_it(
    saved: Registry, registry: Registry, tmp_path: Path
) -> None:
    digest = saved.get("iris:1").digest
    archive = saved.export("iris:1", tmp_path)
    assert registry.import_(archive, expected_digest=digest).digest == digest


def test_import_with_other_expected_digest_refused(
    saved: Registry, registry: Registry, tmp_path: Path
) -> None:
    archive = saved.export("iris:1", tmp_path)
    wrong = saved.get("iris:2").digest
    with pytest.raises(
        IntegrityError, match=rf"package digest is sha256:[0-9a-f]+, expected {wrong}$"
    ):
        registry.import_(archive, expected_digest=wrong)
    assert (registry.list(), staged_leftovers(registry)) == ([], [])


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9], ids=["tenth", "half", "most"])
def test_import_truncated_archive_refused(
    saved: Registry, registry: Registry, tmp_path: Path, keep: float
) -> None:
    archive = saved.export("iris:2", tmp_path)
    data = archive.read_bytes()
    archive.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(IntegrityError, match=r"unreadable or truncated|is missing|does not match"):
        registry.import_(archive)
    assert (registry.list(), staged_leftovers(registry)) == ([], [])


def test_import_corrupted_archive_refused(
    saved: Registry, registry: Registry, tmp_path: Path
) -> None:
    """Bytes of the compressed body flipped in turn: a changed package is never imported."""
    archive = saved.export("iris:1", tmp_path)
    data = archive.read_bytes()
    # the gzip header (name, time) and trailer carry no package content; the body does
    for position in range(40, len(data) - 8, max(1, (len(data) - 48) // 64)):
        damaged = bytearray(data)
        damaged[position] ^= 0x55
        archive.write_bytes(bytes(damaged))
        try:
            imported = registry.import_(archive)
        except IntegrityError:
            continue
        # a flip in tar padding or in a header's mtime changes no file: the same package
        assert imported.digest == saved.get("iris:1").digest, position
        registry = Registry(tmp_path / f"target-{position}")


class Ballast:
    """A pyfunc model with a large artifact, so that reading the archive seeks over data."""

    def __init__(self) -> None:
        self.payload = bytes(range(256)) * 256

    def predict(self, batch: Any) -> list[int]:
        return [0] * len(batch)


def test_import_archive_whose_compression_breaks_midway_refused(
    registry: Registry, tmp_path: Path, iris: Any
) -> None:
    """The deflate stream turns invalid inside a member's data, past the first headers.

    tarfile turns a zlib error in a header into ReadError, but not one met while it
    seeks over a member's data: that one arrives as a bare ``zlib.error``.
    """
    source = Registry(tmp_path / "source-home")
    source.save(Ballast(), "ballast", example=iris.example)
    archive = source.export("ballast:1", tmp_path)
    with tarfile.open(archive) as tar:
        artifact = tar.getmember("ballast-1/artifacts/model.pkl")
    with gzip.open(archive) as handle:
        tar_bytes = handle.read()
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    cut = artifact.offset_data + artifact.size // 2
    body = deflate.compress(tar_bytes[:cut]) + deflate.flush(zlib.Z_FULL_FLUSH)
    invalid_block = b"\x07"  # deflate block type 3 does not exist
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    archive.write_bytes(gzip_header + body + invalid_block + b"\x00" * 64)
    with pytest.raises(IntegrityError, match=r"unreadable or truncated \(.*invalid block type"):
        registry.import_(archive)
    assert (registry.list(), staged_leftovers(registry)) == ([], [])
