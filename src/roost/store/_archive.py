"""One-file archives of a package, for moving a version between registries.

Reading never trusts the archive: only plain files and folders are accepted, and
only under the archive's single top folder; links, devices, absolute paths and
``..`` are refused before anything is written. Hashes are checked by the caller.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path, PurePosixPath

from roost.errors import IntegrityError

__all__ = ["read_archive", "write_archive"]

_MAX_FILES = 10_000


def write_archive(package: Path, destination: Path, top: str) -> None:
    """Write ``package`` as ``destination`` (gzip-compressed tar) under the folder ``top``."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        for path in sorted(package.rglob("*")):
            if path.is_file():
                info = tar.gettarinfo(
                    str(path), arcname=f"{top}/{path.relative_to(package).as_posix()}"
                )
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o644
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
    partial.replace(destination)  # never leave a half-written archive under the real name


def _safe_parts(name: str) -> tuple[str, ...]:
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or any(p in ("", ".", "..") for p in path.parts):
        raise IntegrityError(f"archive: unsafe path {name!r}")
    return path.parts


def read_archive(archive: Path, staging: Path) -> Path:
    """Unpack an archive into ``staging``; return the package folder inside it.

    Raises:
        IntegrityError: the file is not a readable archive, or holds anything unsafe.
    """
    if not archive.is_file():
        raise IntegrityError(f"archive {archive}: not found")
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            if len(members) > _MAX_FILES:
                raise IntegrityError(f"archive {archive}: more than {_MAX_FILES} entries")
            tops = set()
            for member in members:
                parts = _safe_parts(member.name)
                tops.add(parts[0])
                if member.isdir():
                    continue
                if not member.isfile():
                    raise IntegrityError(
                        f"archive {archive}: {member.name!r} is not a plain file "
                        "(links are refused)"
                    )
                target = staging.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    raise IntegrityError(f"archive {archive}: cannot read {member.name!r}")
                with source, target.open("wb") as out:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
    # tarfile turns a zlib error met in a header into ReadError, but not one met while
    # it seeks over a member's data: a stream damaged there arrives as zlib.error
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise IntegrityError(f"archive {archive}: unreadable or truncated ({exc})") from exc
    if len(tops) != 1:
        raise IntegrityError(f"archive {archive}: expected one package folder, found {len(tops)}")
    return staging / tops.pop()
