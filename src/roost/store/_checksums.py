"""Every file of a package is hashed; the package digest is the hash of that list.

``CHECKSUMS.sha256`` holds one ``<sha256>  <relative path>`` line per file (the
format ``sha256sum -c`` reads). Its own sha256 is the package digest kept in the
registry index, so neither a file nor the list can change unnoticed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from roost.errors import IntegrityError

__all__ = ["CHECKSUMS", "digest_of", "sha256_file", "verify_package", "write_checksums"]

CHECKSUMS = "CHECKSUMS.sha256"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _package_files(root: Path) -> list[str]:
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise IntegrityError(f"package {root}: unexpected link {path.relative_to(root)}")
        if path.is_file() and path.name != CHECKSUMS:
            files.append(path.relative_to(root).as_posix())
    return files


def write_checksums(root: Path) -> str:
    """Hash every file under ``root``, write ``CHECKSUMS.sha256``; return the package digest."""
    lines = [f"{sha256_file(root / rel)}  {rel}\n" for rel in _package_files(root)]
    (root / CHECKSUMS).write_text("".join(lines), encoding="utf-8")
    return digest_of(root)


def digest_of(root: Path) -> str:
    """The package digest: ``sha256:`` and the hash of ``CHECKSUMS.sha256``."""
    path = root / CHECKSUMS
    if not path.is_file():
        raise IntegrityError(f"package {root}: {CHECKSUMS} is missing")
    return "sha256:" + sha256_file(path)


def verify_package(root: Path, expected_digest: str | None) -> dict[str, str]:
    """Check every file against ``CHECKSUMS.sha256`` (and that list against the digest).

    Nothing is deserialised here; callers load a package only after this passes.

    Returns:
        the relative path → sha256 of each file.

    Raises:
        IntegrityError: the digest differs, a file is missing, extra, changed or truncated.
    """
    actual = digest_of(root)
    if expected_digest is not None and actual != expected_digest:
        raise IntegrityError(
            f"package {root}: {CHECKSUMS} was changed (expected {expected_digest}, got {actual})"
        )
    try:
        listing = (root / CHECKSUMS).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:  # an imported list is untrusted until it is parsed
        raise IntegrityError(f"package {root}: {CHECKSUMS} is not valid UTF-8 ({exc})") from exc
    recorded: dict[str, str] = {}
    for number, line in enumerate(listing.splitlines(), 1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            raise IntegrityError(f"package {root}: {CHECKSUMS} line {number} is malformed")
        recorded[rel] = digest
    present = set(_package_files(root))
    missing = sorted(set(recorded) - present)
    extra = sorted(present - set(recorded))
    if missing:
        raise IntegrityError(f"package {root}: file {missing[0]} is missing")
    if extra:
        raise IntegrityError(f"package {root}: unexpected file {extra[0]} (not in {CHECKSUMS})")
    for rel, digest in recorded.items():
        if sha256_file(root / rel) != digest:
            raise IntegrityError(
                f"package {root}: file {rel} does not match its sha256 (changed or truncated)"
            )
    return recorded
