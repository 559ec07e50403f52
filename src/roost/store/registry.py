"""The registry: immutable, hashed model packages in a folder, indexed in a database.

Layout under ``home`` (``ROOST_HOME``, default ``~/.roost``)::

    models/<name>/<version>/   one immutable package per version
    staging/                   packages being built (moved into models/ atomically)
    trash/                     leftovers of interrupted registrations and deleted versions
    registry.db                the SQLite index (unless ROOST_REGISTRY_URL names another)
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from roost.config import StoreConfig
from roost.errors import IntegrityError, InvalidReference, ModelNotFound, VersionConflict
from roost.model import Signature
from roost.store._archive import read_archive, write_archive
from roost.store._builder import build_package
from roost.store._checksums import digest_of, verify_package, write_checksums
from roost.store._index import Index, open_index
from roost.store._packaged import PackagedModel, read_metadata
from roost.store._refs import ModelRef, check_alias, check_name, check_version
from roost.store._versions import ModelSummary, ModelVersion
from roost.types import JSONDict, Rows

__all__ = ["Registry", "VersionLike"]

#: What every lookup accepts: ``"iris:3"``, a parsed ``ModelRef``, or a ``ModelVersion``
#: that an earlier call returned.
VersionLike = str | ModelRef | ModelVersion

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


def _parse(ref: VersionLike) -> ModelRef:
    if isinstance(ref, ModelVersion):
        return ModelRef(ref.name, "version", str(ref.version))
    return ref if isinstance(ref, ModelRef) else ModelRef.parse(ref)


def _discard(scratch: Path) -> None:
    """Remove a scratch folder, and its parent (``staging/``) once no other process uses it."""
    shutil.rmtree(scratch, ignore_errors=True)
    with contextlib.suppress(OSError):  # not empty: another save or import is under way
        scratch.parent.rmdir()


def _flavor_name(metadata: JSONDict, archive: str | Path) -> str:
    flavor = metadata.get("flavor")
    name = flavor.get("name") if isinstance(flavor, dict) else None
    if not isinstance(name, str):
        raise IntegrityError(f"archive {archive}: model.yaml names no flavor")
    return name


class Registry:
    """Register, find, load, alias, delete, export and import model versions.

    Args:
        home: the registry folder.
        index: the index; by default a SQLite file ``home/registry.db``.

    Example:
        >>> registry = Registry(Path("/tmp/roost"))  # doctest: +SKIP
        >>> registry.save(clf, "iris", example=X[:5])  # doctest: +SKIP
        ModelVersion(name='iris', version=1, ...)
    """

    def __init__(self, home: Path, index: Index | None = None) -> None:
        self.home = Path(home)
        self.root = self.home / "models"
        self.index = index or open_index(f"sqlite:///{self.home / 'registry.db'}")

    @classmethod
    def from_config(cls, config: StoreConfig) -> Registry:
        return cls(config.home, open_index(config.resolved_index_url))

    # ---------------------------------------------------------------- paths

    def _version_dir(self, name: str, version: int) -> Path:
        path = self.root / check_name(name) / str(check_version(version))
        # belt and braces: whatever the checks above allow must still land inside root
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise InvalidReference(f"model {name!r} version {version}: path escapes the registry")
        return path

    def _scratch(self, kind: str) -> Path:
        path = self.home / kind / uuid.uuid4().hex
        path.mkdir(parents=True)
        return path

    # -------------------------------------------------------------- writing

    def save(
        self,
        model: Any,
        name: str,
        *,
        example: Rows,
        data: Mapping[str, Any] | None = None,
        card: Mapping[str, Any] | None = None,
        signature: Signature | None = None,
        proba: bool | None = None,
        source_dir: Path | None = None,
    ) -> ModelVersion:
        """Package a fitted model and register it as the next version of ``name``.

        Args:
            model: a scikit-learn estimator, onnx.ModelProto, XGBoost or LightGBM model,
                a callable, or any object with ``predict``; the flavor is detected.
            name: the model's name.
            example: a few input rows (``X[:5]``); the signature is inferred from them and
                from the model's output on them.
            data: data sets by role, ``{"train": (X, y), "test": (X, y)}``: their hashes and
                row counts are recorded, and ``train`` gives the drift baseline.
            card: declared documentation fields (see ``roost.store.CARD_FIELDS``).
            signature: an explicit signature, instead of the inferred one.
            proba: for classifiers, whether to return probabilities (default: when available).
            source_dir: where the training code lives, for its git commit.

        Returns:
            the new version.
        """
        check_name(name)
        staging = self._scratch("staging")
        try:
            draft = build_package(
                model,
                staging,
                example=example,
                data=data,
                card=card,
                signature=signature,
                proba=proba,
                source_dir=source_dir,
            )
            version = self.index.claim(name)
            created_at = datetime.now(UTC).isoformat(timespec="seconds")
            try:
                metadata: JSONDict = {
                    "schema_version": SCHEMA_VERSION,
                    "name": name,
                    "version": version,
                    "created_at": created_at,
                    **draft.metadata,
                }
                (staging / "model.yaml").write_text(
                    yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True), encoding="utf-8"
                )
                digest = write_checksums(staging)
            except BaseException:
                self.index.abandon(name, version)
                raise
            self._move_into_place(staging, name, version)
        finally:
            _discard(staging)
        flavor = str(draft.metadata["flavor"]["name"])
        self.index.publish(name, version, digest, flavor, created_at)
        log.info("registered %s:%s (%s)", name, version, digest)
        return self.get(f"{name}:{version}")

    def _move_into_place(self, staging: Path, name: str, version: int) -> None:
        """Move a finished package to its version's folder; give the number back on failure."""
        try:
            target = self._version_dir(name, version)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                # left by a registration that died after its move but before publishing
                leftover = self._scratch("trash")
                os.replace(target, leftover / "package")
                log.warning("moved leftover files of %s:%s to %s", name, version, leftover)
            os.replace(staging, target)
        except BaseException:
            self.index.abandon(name, version)
            raise

    # -------------------------------------------------------------- reading

    def resolve(self, ref: VersionLike) -> ModelVersion:
        """Find the version a reference names.

        Raises:
            InvalidReference: the reference is malformed.
            ModelNotFound: naming what exists, e.g. ``(known: 1, 2, 4)``.
        """
        parsed = _parse(ref)
        versions = self.index.versions(parsed.name)
        if not versions:
            raise ModelNotFound(
                f"model {parsed.name!r} not found (known models: {self._known_names()})"
            )
        if parsed.kind == "latest":
            return ModelVersion._from_row(versions[-1])
        if parsed.kind == "alias":
            aliases = self.index.aliases(parsed.name)
            if parsed.value not in aliases:
                known = ", ".join(sorted(aliases)) or "none"
                raise ModelNotFound(
                    f"model {parsed.name!r} has no alias {parsed.value!r} (known: {known})"
                )
            number = aliases[parsed.value]
        else:
            number = int(parsed.value)
        for row in versions:
            if row.version == number:
                return ModelVersion._from_row(row)
        known = ", ".join(str(r.version) for r in versions)
        raise ModelNotFound(f"model {parsed.name!r} version {number} not found (known: {known})")

    get = resolve

    def list(self) -> list[ModelSummary]:
        """Every model with its versions and aliases, by name."""
        return [self.summary(name) for name in self.index.names()]

    def summary(self, name: str) -> ModelSummary:
        """One model's live versions and aliases.

        Raises:
            ModelNotFound: naming the models that exist.
        """
        versions = tuple(ModelVersion._from_row(r) for r in self.index.versions(check_name(name)))
        if not versions:
            raise ModelNotFound(f"model {name!r} not found (known models: {self._known_names()})")
        return ModelSummary(name, versions, self.index.aliases(name))

    def _known_names(self) -> str:
        return ", ".join(self.index.names()) or "none"

    def path(self, ref: VersionLike) -> Path:
        """The package folder of a version (read it; never write to it)."""
        found = self.resolve(ref)
        return self._version_dir(found.name, found.version)

    def metadata(self, ref: VersionLike) -> JSONDict:
        """The verified ``model.yaml`` of a version."""
        found = self.resolve(ref)
        path = self._version_dir(found.name, found.version)
        verify_package(path, found.digest)
        return read_metadata(path)

    def model(self, ref: VersionLike) -> PackagedModel:
        """The version as a Model, not yet loaded (``load()`` verifies and reads it)."""
        found = self.resolve(ref)
        return PackagedModel(self._version_dir(found.name, found.version), found.digest, str(found))

    def load(self, ref: VersionLike) -> PackagedModel:
        """The version as a loaded Model, every hash verified first."""
        model = self.model(ref)
        model.load()
        return model

    # -------------------------------------------------------------- aliases

    def set_alias(self, name: str, alias: str, version: int | str) -> int | None:
        """Point ``name@alias`` at ``version``; return the version it pointed to before.

        Raises:
            ModelNotFound: the version does not exist (naming the ones that do).
        """
        ref = ModelRef(check_name(name), "version", str(check_version(version)))
        check_alias(alias)
        # resolving first gives the message that lists known versions; the index checks
        # again inside its transaction, in case the version is deleted in between
        found = self.resolve(ref)
        return self.index.set_alias(name, alias, found.version)

    def remove_alias(self, name: str, alias: str) -> int:
        """Remove ``name@alias``; return the version it pointed to.

        Raises:
            ModelNotFound: there is no such alias (naming the ones that exist).
        """
        check_name(name)
        check_alias(alias)
        aliases = self.index.aliases(name)
        if alias not in aliases:
            known = ", ".join(sorted(aliases)) or "none"
            raise ModelNotFound(f"model {name!r} has no alias {alias!r} (known: {known})")
        return self.index.remove_alias(name, alias)

    # ------------------------------------------------------------- deleting

    def deletable(self, ref: VersionLike) -> ModelVersion:
        """The version ``delete(ref)`` would remove, or the error it would raise.

        Lets a caller (the CLI) ask for confirmation only when the delete can happen.
        """
        parsed = _parse(ref)
        if parsed.kind == "latest":
            # "rm iris" silently meaning "the newest iris" is too easy to regret
            raise InvalidReference(
                f"delete: name the version explicitly, e.g. {parsed.name}:3 (got {str(ref)!r})"
            )
        found = self.resolve(parsed)
        holders = sorted(a for a, v in self.index.aliases(found.name).items() if v == found.version)
        if holders:
            held = ", ".join(f"@{a}" for a in holders)
            raise VersionConflict(
                f"model {found.name!r} version {found.version} is still pointed to by {held}; "
                "move or remove the alias first"
            )
        dependents = self.dependents(found)
        if dependents:
            pinned_by = ", ".join(map(str, dependents))
            raise VersionConflict(
                f"model {found.name!r} version {found.version} is pinned by {pinned_by}, which "
                "could no longer load; delete those first"
            )
        return found

    def dependents(self, ref: VersionLike) -> tuple[ModelVersion, ...]:
        """The versions whose packages pin ``ref`` (``depends_on`` in their model.yaml).

        A composite pins its members this way. Every package's model.yaml is read, which
        is fine for a delete, the only caller that needs it.
        """
        found = self.resolve(ref)
        pinning = []
        for name in self.index.names():
            for row in self.index.versions(name):
                try:
                    metadata = read_metadata(self._version_dir(row.name, row.version))
                except IntegrityError:  # a damaged package pins nothing we could load
                    continue
                for pin in metadata.get("depends_on") or ():
                    if isinstance(pin, dict) and (pin.get("name"), pin.get("version")) == (
                        found.name,
                        found.version,
                    ):
                        pinning.append(ModelVersion._from_row(row))
                        break
        return tuple(pinning)

    def delete(self, ref: VersionLike) -> ModelVersion:
        """Delete a version (refused while an alias points to it or a composite pins it).

        Its number is never reused.

        Raises:
            InvalidReference: the reference does not name a version explicitly (``iris:3``).
            VersionConflict: an alias points to the version (naming the aliases), or a
                composite pins it (naming the composites).
            ModelNotFound: no such version (naming the ones that exist).
        """
        found = self.deletable(ref)
        # the index checks the aliases again inside its transaction, in case one moved here
        self.index.delete(found.name, found.version)
        path = self._version_dir(found.name, found.version)
        if path.exists():
            # the rename takes the version out of models/ at once; removing the files can
            # then fail halfway without leaving a half-deleted package behind
            scratch = self._scratch("trash")
            os.replace(path, scratch / "package")
            # only our own entry: the rest of trash/ may be another process's delete in
            # flight, or leftovers of an interrupted registration kept for inspection
            try:
                shutil.rmtree(scratch)
            except OSError as exc:
                log.warning("deleted %s, but could not remove %s: %s", found, scratch, exc)
        log.info("deleted %s", found)
        return found

    # ------------------------------------------------------ export / import

    def export(self, ref: VersionLike, destination: str | Path) -> Path:
        """Write a version (verified first) to one ``.tar.gz`` archive.

        Args:
            destination: a file path, or an existing folder to write
                ``NAME-VERSION.roost.tar.gz`` in.
        """
        found = self.resolve(ref)
        path = self._version_dir(found.name, found.version)
        verify_package(path, found.digest)
        destination = Path(destination)
        if destination.is_dir():
            destination = destination / f"{found.name}-{found.version}.roost.tar.gz"
        write_archive(path, destination, f"{found.name}-{found.version}")
        return destination

    def import_(self, archive: str | Path, expected_digest: str | None = None) -> ModelVersion:
        """Register a version from an archive made by ``export``, under its own name and version.

        Every hash is verified before anything is read. Importing the same version twice
        is a no-op; a different package under a taken version is refused.

        Raises:
            IntegrityError: the archive is damaged, unsafe, or not the expected digest; or
                a version it pins (a composite's member) differs here.
            ModelNotFound: a version it pins is not in this registry (import that first).
            VersionConflict: the version exists with different contents, or its number
                was used before (a deleted version, or one being registered).
        """
        staging = self._scratch("staging")
        try:
            package = read_archive(Path(archive), staging)
            digest = digest_of(package)
            if expected_digest is not None and digest != expected_digest:
                raise IntegrityError(
                    f"archive {archive}: package digest is {digest}, expected {expected_digest}"
                )
            verify_package(package, digest)
            metadata = read_metadata(package)
            name = check_name(metadata.get("name"))
            version = check_version(metadata.get("version"))
            # read before claiming: a failure after the claim would leave the number taken
            flavor = _flavor_name(metadata, archive)
            self._check_pins(metadata, archive)
            try:
                self.index.claim(name, version)
            except VersionConflict:
                return self._existing_import(name, version, digest)
            self._move_into_place(package, name, version)
        finally:
            _discard(staging)
        self.index.publish(name, version, digest, flavor, str(metadata.get("created_at", "")))
        return self.get(f"{name}:{version}")

    def _check_pins(self, metadata: JSONDict, archive: str | Path) -> None:
        """Refuse a package whose pinned versions (a composite's members) are not here."""
        for pin in metadata.get("depends_on") or ():
            ref = f"{pin.get('name')}:{pin.get('version')}" if isinstance(pin, dict) else pin
            try:
                found = self.resolve(str(ref))
            except (ModelNotFound, InvalidReference):
                raise ModelNotFound(
                    f"archive {archive}: it pins {ref}, which is not in this registry; "
                    f"import {ref} first"
                ) from None
            if found.digest != pin.get("digest"):
                raise IntegrityError(
                    f"archive {archive}: it pins {ref} with digest {pin.get('digest')}, but "
                    f"this registry's {ref} is {found.digest}"
                )

    def _existing_import(self, name: str, version: int, digest: str) -> ModelVersion:
        """The version an import found taken, if it holds the same package; else refuse."""
        status = self.index.status(name, version)
        if status == "ready":
            existing = self.resolve(ModelRef(name, "version", str(version)))
            if existing.digest == digest:
                return existing
            raise VersionConflict(
                f"model {name!r} version {version} already exists with different contents "
                f"({existing.digest}, archive has {digest})"
            ) from None  # the index's own conflict, which led here, adds nothing
        # a deleted number is never handed out again, not even to the same package
        why = (
            "was deleted, and version numbers are never reused"
            if status == "deleted"
            else "is being registered right now (or an interrupted registration holds it)"
        )
        raise VersionConflict(
            f"model {name!r} version {version} was used before: it {why}"
        ) from None
