"""Measured provenance: the code, the environment and the data behind a model.

Everything here is read from the machine, never typed by a person: the git commit
and dirty flag of the calling code, the installed distributions (a pinned lock),
the Python and platform, and a content hash and row count of each data set.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from roost.types import JSONDict

__all__ = ["data_facts", "environment_lock", "git_facts", "runtime_facts"]

log = logging.getLogger(__name__)


def _git(directory: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("git %s failed: %s", " ".join(args), exc)
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_facts(directory: Path) -> JSONDict | None:
    """Commit, branch and dirty flag of the repository holding ``directory``, if any."""
    commit = _git(directory, "rev-parse", "HEAD")
    if commit is None:
        return None
    status = _git(directory, "status", "--porcelain", "--untracked-files=no") or ""
    facts: JSONDict = {
        "commit": commit,
        "branch": _git(directory, "rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status),
    }
    if status:
        diff = _git(directory, "diff", "HEAD") or ""
        facts["diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest()
    return facts


def environment_lock() -> str:
    """Every installed distribution pinned, one ``name==version`` per line, sorted."""
    from importlib import metadata

    pins = set()
    for dist in metadata.distributions():
        # each .metadata (and .version) parses the METADATA file again: read it once
        fields = dist.metadata
        if fields["Name"]:
            pins.add(f"{fields['Name']}=={fields['Version']}")
    return "".join(f"{pin}\n" for pin in sorted(pins, key=str.lower))


def runtime_facts() -> JSONDict:
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": f"{platform.system().lower()}-{platform.machine()}",
    }


def _hash_part(part: Any, digest: Any) -> tuple[int, list[str] | None]:
    """Feed a table or array into ``digest``; return its row count and column names."""
    import numpy as np
    import pandas as pd

    if isinstance(part, pd.Series):
        part = part.to_frame()
    if isinstance(part, pd.DataFrame):
        columns = [str(c) for c in part.columns]
        digest.update(repr((columns, [str(t) for t in part.dtypes])).encode())
        digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        return len(part), columns
    array = np.asarray(part)
    digest.update(repr((str(array.dtype), array.shape)).encode())
    if array.dtype.kind == "O":
        digest.update(repr(array.tolist()).encode())
    else:
        digest.update(np.ascontiguousarray(array).tobytes())
    return (int(array.shape[0]) if array.ndim else 1), None


def data_facts(role: str, data: Any) -> JSONDict:
    """Row count, columns and a content sha256 of one data set (``X`` or ``(X, y)``).

    The hash covers every value, column names and dtypes, so two identical tables
    saved in different files still match, and any changed value does not.
    """
    parts = data if isinstance(data, tuple) else (data,)
    facts: JSONDict = {"role": role}
    x_digest = hashlib.sha256()
    n_rows, columns = _hash_part(parts[0], x_digest)
    facts.update(n_rows=n_rows, x_sha256=x_digest.hexdigest())
    if columns is not None:
        facts["columns"] = list(columns)
    if len(parts) > 1 and parts[1] is not None:
        y_digest = hashlib.sha256()
        y_rows, _ = _hash_part(parts[1], y_digest)
        facts.update(y_sha256=y_digest.hexdigest(), y_rows=y_rows)
    return facts
